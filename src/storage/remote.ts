/**
 * The store in a Web Worker: IndexedDB's transactions, structured cloning and
 * commits then cost the worker's thread, not the page's, where the network
 * and the requester run. `createStoreWorkerApi` is what the worker exposes
 * (workers/store.worker.ts); `RemoteStore` is the page's side, with the same
 * methods as `Store`.
 *
 * Results cross as `{ ok, value } | { ok: false, error }` so that a typed
 * error keeps its class and fields (StorageFullError's `needed` and
 * `evicted`), which Comlink's own throw handler would drop. Model bytes read
 * from the store are transferred to the page, not copied; bytes written are
 * copied (the caller keeps using its own).
 *
 * @example
 * ```ts
 * const store = await openWorkerStore('crosscheck') // falls back to this thread where no worker can run
 * await store.putReceipt(record)
 * ```
 */
import * as Comlink from 'comlink'
import { CrosscheckError, HashMismatchError, NotStartedError, StorageFullError } from '../errors.js'
import { createLogger } from '../logger.js'
import { openStore } from './store.js'
import type { ListOptions, ModelSummary, PutModelOptions, Store } from './store.js'
import type { IdentityRecord, JobRecord, JobRole, ModelRecord, PendingJobRecord, ReceiptRecord, ReputationRecord } from './schema.js'

const log = createLogger('storage:worker')

/** A typed error as it crosses the worker boundary. */
export interface WireError { name: string, message: string, needed?: number, evicted?: string[] }
export type Outcome<T> = { ok: true, value: T } | { ok: false, error: WireError }

/** What the store worker exposes: `open` once, then each Store method by name. */
export interface StoreWorkerApi {
  open: (name: string) => Promise<Outcome<void>>
  call: <M extends StoreMethod>(method: M, args: Parameters<Store[M]>) => Promise<Outcome<Awaited<ReturnType<Store[M]>>>>
  close: () => void
}

/** The Store methods the page may call through the worker. */
export const STORE_METHODS = [
  'putModel', 'getModel', 'hasModel', 'listModels', 'deleteModel',
  'putReceipt', 'getReceipt', 'listReceipts',
  'putJob', 'getJob', 'listJobs',
  'putPendingJob', 'listPendingJobs', 'deletePendingJob', 'finishJob',
  'getIdentity', 'putIdentity',
  'putReputation', 'putReputations', 'listReputation'
] as const
export type StoreMethod = typeof STORE_METHODS[number]

function toWire (err: unknown): WireError {
  const e = err as Partial<StorageFullError> & { name?: unknown, message?: unknown }
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(err),
    ...(typeof e?.needed === 'number' ? { needed: e.needed } : {}),
    ...(Array.isArray(e?.evicted) ? { evicted: e.evicted } : {})
  }
}

function fromWire (w: WireError): Error {
  if (w.name === 'StorageFullError') return new StorageFullError(w.message, { needed: w.needed ?? 0, evicted: w.evicted ?? [] })
  if (w.name === 'HashMismatchError') return new HashMismatchError(w.message)
  if (w.name === 'NotStartedError') return new NotStartedError(w.message)
  // quota, version, abort errors from IndexedDB itself keep their DOMException name
  return Object.assign(new CrosscheckError(w.message), { name: w.name })
}

/** The worker's side: opens the database there and runs each call on it. */
export function createStoreWorkerApi (open: (name: string) => Promise<Store> = async (name) => await openStore(name)): StoreWorkerApi {
  let store: Store | undefined
  return {
    open: async (name) => {
      try {
        store ??= await open(name)
        return { ok: true, value: undefined }
      } catch (err) {
        return { ok: false, error: toWire(err) }
      }
    },
    call: async (method, args) => {
      try {
        if (store == null) throw new NotStartedError('the store worker was not opened')
        if (!(STORE_METHODS as readonly string[]).includes(method)) throw new CrosscheckError(`no store method ${String(method)}`)
        const value = await (store[method] as (...a: unknown[]) => Promise<unknown>).apply(store, args)
        const out = { ok: true as const, value }
        // a model's bytes go to the page without a copy: this side does not keep them
        if (method === 'getModel' && value != null) return Comlink.transfer(out, [(value as ModelRecord).bytes]) as never
        return out as never
      } catch (err) {
        return { ok: false, error: toWire(err) }
      }
    },
    close: () => { store?.close(); store = undefined }
  }
}

/** The page's side of a store in a worker: the methods of `Store`, typed errors included. */
export class RemoteStore {
  readonly name: string
  private readonly remote: Comlink.Remote<StoreWorkerApi>
  private readonly terminate: () => void

  constructor (remote: Comlink.Remote<StoreWorkerApi>, name: string, terminate: () => void) {
    this.remote = remote
    this.name = name
    this.terminate = terminate
  }

  private async call<M extends StoreMethod>(method: M, ...args: Parameters<Store[M]>): Promise<Awaited<ReturnType<Store[M]>>> {
    const r = await this.remote.call(method, args) as Outcome<Awaited<ReturnType<Store[M]>>>
    if (!r.ok) throw fromWire(r.error)
    return r.value
  }

  async putModel (bytes: ArrayBuffer | Uint8Array, options: PutModelOptions = {}): Promise<ModelSummary> { return await this.call('putModel', bytes, options) }
  async getModel (sha256: string): Promise<ModelRecord | undefined> { return await this.call('getModel', sha256) }
  async hasModel (sha256: string): Promise<boolean> { return await this.call('hasModel', sha256) }
  async listModels (): Promise<ModelSummary[]> { return await this.call('listModels') }
  async deleteModel (sha256: string): Promise<boolean> { return await this.call('deleteModel', sha256) }
  async putReceipt (receipt: ReceiptRecord): Promise<void> { await this.call('putReceipt', receipt) }
  async getReceipt (jobId: string): Promise<ReceiptRecord | undefined> { return await this.call('getReceipt', jobId) }
  async listReceipts (options: ListOptions = {}): Promise<ReceiptRecord[]> { return await this.call('listReceipts', options) }
  async putJob (job: JobRecord): Promise<void> { await this.call('putJob', job) }
  async getJob (jobId: string): Promise<JobRecord | undefined> { return await this.call('getJob', jobId) }
  async listJobs (options: ListOptions & { role?: JobRole } = {}): Promise<JobRecord[]> { return await this.call('listJobs', options) }
  async putPendingJob (job: PendingJobRecord): Promise<void> { await this.call('putPendingJob', job) }
  async listPendingJobs (): Promise<PendingJobRecord[]> { return await this.call('listPendingJobs') }
  async deletePendingJob (jobId: string): Promise<void> { await this.call('deletePendingJob', jobId) }
  async finishJob (done: { receipt?: ReceiptRecord, job: JobRecord, pendingJobId: string }): Promise<void> { await this.call('finishJob', done) }
  async getIdentity (): Promise<IdentityRecord | undefined> { return await this.call('getIdentity') }
  async putIdentity (identity: IdentityRecord): Promise<void> { await this.call('putIdentity', identity) }
  async putReputation (record: ReputationRecord): Promise<void> { await this.call('putReputation', record) }
  async putReputations (records: readonly ReputationRecord[]): Promise<void> { await this.call('putReputations', records) }
  async listReputation (): Promise<ReputationRecord[]> { return await this.call('listReputation') }

  close (): void {
    void this.remote.close().catch(() => {}).finally(() => { this.terminate() })
  }
}

/**
 * What `openWorkerStore` needs of a worker: a Comlink endpoint it can end,
 * and `failed`, rejected if the worker's script does not load or it dies
 * (a Worker's `error` event), so an open never waits on a dead worker.
 */
export interface StoreWorkerEndpoint { endpoint: Comlink.Endpoint, terminate: () => void, failed?: Promise<never> }

/** How long a store worker may take to open the database before this thread opens it instead (ms). */
export const STORE_WORKER_OPEN_MS = 10_000

/**
 * Opens the database `name` in a worker made by `spawn`; where no worker can
 * be made or opened (no Worker, a blocked script), opens it on this thread.
 */
export async function openWorkerStore (name: string, spawn: () => StoreWorkerEndpoint = spawnStoreWorker): Promise<RemoteStore | Store> {
  let worker: StoreWorkerEndpoint | undefined
  try {
    worker = spawn()
    const remote = Comlink.wrap<StoreWorkerApi>(worker.endpoint)
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`the store worker did not open ${name} within ${STORE_WORKER_OPEN_MS} ms`)) }, STORE_WORKER_OPEN_MS) })
    const opened = await Promise.race([remote.open(name), late, ...(worker.failed != null ? [worker.failed] : [])]).finally(() => { clearTimeout(timer) })
    if (!opened.ok) throw fromWire(opened.error)
    return new RemoteStore(remote, name, worker.terminate)
  } catch (err) {
    worker?.terminate()
    const e = err as Error
    // a database that cannot open is not a worker problem: the same error would follow here
    if (e?.name === 'VersionError' || e?.name === 'QuotaExceededError') throw err
    log('no store worker (%s): IndexedDB on this thread', e?.message ?? String(err))
    return await openStore(name)
  }
}

/** The store worker of this package (workers/store.worker.ts), bundled by the consumer's bundler from this URL. */
export function spawnStoreWorker (): StoreWorkerEndpoint {
  const worker = new Worker(new URL('../../workers/store.worker.ts', import.meta.url), { type: 'module', name: 'crosscheck-store' })
  const failed = new Promise<never>((_resolve, reject) => {
    worker.addEventListener('error', (ev) => { reject(new Error(`store worker failed: ${ev.message ?? 'script did not load'}`)) })
  })
  failed.catch(() => {})
  return { endpoint: worker, terminate: () => { worker.terminate() }, failed }
}
