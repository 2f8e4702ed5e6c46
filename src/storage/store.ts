/**
 * The typed store over the Crosscheck IndexedDB database.
 */
import { openDB } from 'idb'
import type { IDBPDatabase } from 'idb'
import { HashMismatchError, StorageFullError } from '../errors.js'
import { createLogger } from '../logger.js'
import { sha256Hex } from '../tensor/index.js'
import { ESTIMATE_ABOVE_BYTES, QUOTA_ERROR_NAMES } from './constants.js'
import { DB_VERSION, DEFAULT_DB_NAME, upgrade } from './schema.js'
import type {
  CrosscheckDB, IdentityRecord, JobRecord, JobRole, ModelMeta, ModelRecord, PendingJobRecord, ReceiptRecord, ReputationRecord
} from './schema.js'

const log = createLogger('storage')

/** What `navigator.storage.estimate()` answers (either field may be missing). */
export interface StorageEstimateLike { usage?: number, quota?: number }

export interface StoreInit {
  /** Clock for `addedAt`/`lastUsedAt` (tests pass a fixed one). @default Date.now */
  now?: () => number
  /**
   * How much this origin uses and may use, asked before writing a large model.
   * `null` never asks (the browser's QuotaExceededError still triggers eviction).
   * @default navigator.storage.estimate, where the platform has it
   */
  estimate?: (() => Promise<StorageEstimateLike>) | null
}

/** A model's record without its bytes. */
export type ModelSummary = ModelMeta

export interface PutModelOptions {
  /** Expected sha256; a mismatch throws HashMismatchError and stores nothing. */
  sha256?: string
  name?: string
}

export interface ListOptions {
  /** Newest first, at most this many. @default all */
  limit?: number
}

function toArrayBuffer (bytes: ArrayBuffer | Uint8Array): ArrayBuffer {
  if (bytes instanceof ArrayBuffer) return bytes
  // Store exactly the viewed bytes, in a plain (non-shared) buffer.
  return bytes.slice().buffer as ArrayBuffer
}

function isQuotaError (err: unknown): boolean {
  return err != null && typeof err === 'object' && QUOTA_ERROR_NAMES.includes((err as { name?: unknown }).name as string)
}

function defaultEstimate (): (() => Promise<StorageEstimateLike>) | null {
  const storage = (globalThis as { navigator?: { storage?: { estimate?: () => Promise<StorageEstimateLike> } } }).navigator?.storage
  return typeof storage?.estimate === 'function' ? async () => await storage.estimate!() : null
}

export class Store {
  readonly name: string
  private readonly db: IDBPDatabase<CrosscheckDB>
  private readonly now: () => number
  private readonly estimate: (() => Promise<StorageEstimateLike>) | null
  /** Models being written right now: never evicted to make room for another. */
  private readonly writing = new Set<string>()

  constructor (db: IDBPDatabase<CrosscheckDB>, name: string, init: StoreInit = {}) {
    this.db = db
    this.name = name
    this.now = init.now ?? Date.now
    this.estimate = init.estimate === undefined ? defaultEstimate() : init.estimate
  }

  // --- models -----------------------------------------------------------------

  /**
   * Hashes `bytes` and stores them under their sha256. When the origin is out
   * of space, evicts least-recently-used models (never one being written) and
   * retries; throws StorageFullError, naming what was evicted, when nothing
   * more can go.
   */
  async putModel (bytes: ArrayBuffer | Uint8Array, options: PutModelOptions = {}): Promise<ModelSummary> {
    const buf = toArrayBuffer(bytes)
    const sha256 = sha256Hex(new Uint8Array(buf))
    if (options.sha256 !== undefined && options.sha256 !== sha256) {
      throw new HashMismatchError(`model bytes hash to ${sha256}, expected ${options.sha256}`)
    }
    const t = this.now()
    const existing = await this.db.get('models', sha256)
    const name = options.name ?? existing?.name
    const meta: ModelMeta = { sha256, size: buf.byteLength, addedAt: existing?.addedAt ?? t, lastUsedAt: t, ...(name !== undefined ? { name } : {}) }
    const evicted: ModelMeta[] = []
    this.writing.add(sha256)
    try {
      // Rewriting a stored model replaces its bytes: the estimate would count them twice.
      if (existing == null) await this.makeRoom(meta, evicted)
      for (;;) {
        try {
          await this.writeModel(meta, buf)
          break
        } catch (err) {
          if (!isQuotaError(err)) throw err
          const [victim] = await this.evictionOrder()
          if (victim === undefined) {
            throw new StorageFullError(
              `no room for model ${sha256} (${meta.size} bytes) even after evicting ${describe(evicted)}`,
              { cause: err, needed: meta.size, evicted: evicted.map((m) => m.sha256) })
          }
          await this.deleteModel(victim.sha256)
          evicted.push(victim)
        }
      }
    } finally {
      this.writing.delete(sha256)
    }
    if (evicted.length > 0) log('stored model %s (%d bytes) after evicting %s', sha256, meta.size, describe(evicted))
    return meta
  }

  /**
   * Reads a model and re-checks its sha256. A record whose bytes no longer
   * match (disk corruption, tampering) is deleted and HashMismatchError thrown,
   * so the caller fetches the model again. Undefined when absent. Marks the
   * model as used (its small metadata record only).
   */
  async getModel (sha256: string): Promise<ModelRecord | undefined> {
    const tx = this.db.transaction(['models', 'modelBytes'], 'readonly')
    const meta = await tx.objectStore('models').get(sha256)
    const rec = meta == null ? undefined : await tx.objectStore('modelBytes').get(sha256)
    await tx.done
    if (meta == null) return undefined
    const bytes = rec?.bytes
    const actual = bytes instanceof ArrayBuffer ? sha256Hex(new Uint8Array(bytes)) : 'no bytes'
    if (bytes === undefined || actual !== sha256 || meta.size !== bytes.byteLength) {
      log.error('stored model %s hashes to %s: purging it', sha256, actual)
      await this.deleteModel(sha256)
      throw new HashMismatchError(`stored model ${sha256} hashes to ${actual}; it was deleted`)
    }
    const lastUsedAt = this.now()
    await this.touch(sha256, lastUsedAt)
    return { ...meta, lastUsedAt, bytes }
  }

  /** Whether a record exists (no hash check: `getModel` does that). */
  async hasModel (sha256: string): Promise<boolean> {
    return (await this.db.count('models', sha256)) > 0
  }

  /** Every model's metadata, most recently used first (no bytes are read). */
  async listModels (): Promise<ModelSummary[]> {
    return (await this.db.getAllFromIndex('models', 'by-lastUsedAt')).reverse()
  }

  async deleteModel (sha256: string): Promise<boolean> {
    const tx = this.db.transaction(['models', 'modelBytes'], 'readwrite')
    const existed = (await tx.objectStore('models').count(sha256)) > 0
    await Promise.all([tx.objectStore('models').delete(sha256), tx.objectStore('modelBytes').delete(sha256), tx.done])
    return existed
  }

  /** Metadata and bytes in one transaction: a model is stored whole or not at all. */
  private async writeModel (meta: ModelMeta, bytes: ArrayBuffer): Promise<void> {
    const tx = this.db.transaction(['models', 'modelBytes'], 'readwrite')
    const done = tx.done
    const requests: Array<Promise<unknown>> = []
    try {
      requests.push(tx.objectStore('modelBytes').put({ sha256: meta.sha256, bytes }))
      requests.push(tx.objectStore('models').put(meta))
      await Promise.all([...requests, done])
    } catch (err) {
      try { tx.abort() } catch { /* already aborted or finished */ }
      const settled = await Promise.allSettled([...requests, done])
      // A quota failure aborts the transaction, which then fails the other requests
      // with AbortError: report the cause, whichever promise settled first.
      const reasons = [err, ...settled.map((s) => s.status === 'rejected' ? s.reason : undefined)]
      throw reasons.find(isQuotaError) ?? err
    }
  }

  /** Models that may be evicted, least recently used first. */
  private async evictionOrder (): Promise<ModelMeta[]> {
    return (await this.db.getAllFromIndex('models', 'by-lastUsedAt')).filter((m) => !this.writing.has(m.sha256))
  }

  /**
   * Before a large write, asks the platform how much room is left and evicts
   * least-recently-used models until the estimate says the model fits. When
   * even evicting every other model would not make room, fails at once rather
   * than empty the cache for a write that cannot succeed.
   */
  private async makeRoom (meta: ModelMeta, evicted: ModelMeta[]): Promise<void> {
    if (this.estimate == null || meta.size < ESTIMATE_ABOVE_BYTES) return
    let est: StorageEstimateLike
    try {
      est = await this.estimate()
    } catch (err) {
      log('storage estimate failed, writing anyway: %s', (err as Error).message)
      return
    }
    if (typeof est.usage !== 'number' || typeof est.quota !== 'number') return
    const free = Math.max(0, est.quota - est.usage)
    let shortfall = meta.size - free
    if (shortfall <= 0) return
    const candidates = await this.evictionOrder()
    const evictable = candidates.reduce((n, m) => n + m.size, 0)
    if (evictable < shortfall) {
      throw new StorageFullError(
        `no room for model ${meta.sha256}: it needs ${meta.size} bytes, about ${free} are free and evicting every other model would free ${evictable}`,
        { needed: meta.size, evicted: [] })
    }
    for (const victim of candidates) {
      if (shortfall <= 0) break
      await this.deleteModel(victim.sha256)
      evicted.push(victim)
      shortfall -= victim.size
    }
  }

  /** Bumps `lastUsedAt` on the metadata alone; a failure only costs LRU accuracy. */
  private async touch (sha256: string, lastUsedAt: number): Promise<void> {
    try {
      const tx = this.db.transaction('models', 'readwrite')
      const meta = await tx.store.get(sha256)
      // Absent: deleted meanwhile; writing it back would leave metadata without bytes.
      if (meta != null) await tx.store.put({ ...meta, lastUsedAt })
      await tx.done
    } catch (err) {
      log('could not mark model %s as used: %s', sha256, (err as Error).message)
    }
  }

  // --- receipts ---------------------------------------------------------------

  async putReceipt (receipt: ReceiptRecord): Promise<void> {
    const tx = this.db.transaction('receipts', 'readwrite')
    await Promise.all([tx.store.put(receipt), tx.done])
  }

  async getReceipt (jobId: string): Promise<ReceiptRecord | undefined> {
    return await this.db.get('receipts', jobId)
  }

  /** Newest first. */
  async listReceipts (options: ListOptions = {}): Promise<ReceiptRecord[]> {
    const out: ReceiptRecord[] = []
    const tx = this.db.transaction('receipts', 'readonly')
    let cursor = await tx.store.index('by-createdAt').openCursor(null, 'prev')
    while (cursor != null && (options.limit === undefined || out.length < options.limit)) {
      out.push(cursor.value)
      cursor = await cursor.continue()
    }
    await tx.done
    return out
  }

  // --- jobs -------------------------------------------------------------------

  async putJob (job: JobRecord): Promise<void> {
    const tx = this.db.transaction('jobs', 'readwrite')
    await Promise.all([tx.store.put(job), tx.done])
  }

  async getJob (jobId: string): Promise<JobRecord | undefined> {
    return await this.db.get('jobs', jobId)
  }

  /** Newest first, optionally only one role. */
  async listJobs (options: ListOptions & { role?: JobRole } = {}): Promise<JobRecord[]> {
    const out: JobRecord[] = []
    const tx = this.db.transaction('jobs', 'readonly')
    let cursor = await tx.store.index('by-startedAt').openCursor(null, 'prev')
    while (cursor != null && (options.limit === undefined || out.length < options.limit)) {
      if (options.role === undefined || cursor.value.role === options.role) out.push(cursor.value)
      cursor = await cursor.continue()
    }
    await tx.done
    return out
  }

  // --- requester jobs in flight -----------------------------------------------

  /** Remembers a job this peer requested until `deletePendingJob`, so a reload shows it as interrupted. */
  async putPendingJob (job: PendingJobRecord): Promise<void> {
    const tx = this.db.transaction('pendingJobs', 'readwrite')
    await Promise.all([tx.store.put(job), tx.done])
  }

  /** Oldest first: the order to resume them in. */
  async listPendingJobs (): Promise<PendingJobRecord[]> {
    return await this.db.getAllFromIndex('pendingJobs', 'by-startedAt')
  }

  async deletePendingJob (jobId: string): Promise<void> {
    const tx = this.db.transaction('pendingJobs', 'readwrite')
    await Promise.all([tx.store.delete(jobId), tx.done])
  }

  /**
   * A requested job's end in one transaction: receipt (when accepted), job
   * record, and its pending record deleted. Relaxed durability: the caller
   * already holds the receipt, and a power cut in the next moment undoes the
   * whole transaction, so the job is found pending at the next start and
   * shown as interrupted, never half-recorded. The pending record itself is
   * written with default durability when the job starts.
   */
  async finishJob (done: { receipt?: ReceiptRecord, job: JobRecord, pendingJobId: string }): Promise<void> {
    const tx = this.db.transaction(['receipts', 'jobs', 'pendingJobs'], 'readwrite', { durability: 'relaxed' })
    const writes: Array<Promise<unknown>> = [tx.objectStore('jobs').put(done.job), tx.objectStore('pendingJobs').delete(done.pendingJobId), tx.done]
    if (done.receipt != null) writes.push(tx.objectStore('receipts').put(done.receipt))
    await Promise.all(writes)
  }

  // --- identity ---------------------------------------------------------------

  async getIdentity (): Promise<IdentityRecord | undefined> {
    return await this.db.get('identity', 'self')
  }

  async putIdentity (identity: IdentityRecord): Promise<void> {
    const tx = this.db.transaction('identity', 'readwrite')
    await Promise.all([tx.store.put(identity, 'self'), tx.done])
  }

  // --- reputation -------------------------------------------------------------

  async putReputation (record: ReputationRecord): Promise<void> {
    const tx = this.db.transaction('reputation', 'readwrite')
    await Promise.all([tx.store.put(record), tx.done])
  }

  /**
   * Saves several reputation records in one transaction, with relaxed
   * durability: a power cut may lose the last moment's updates (the book is
   * rebuilt from later jobs), a reload or a crash of the tab does not.
   */
  async putReputations (records: readonly ReputationRecord[]): Promise<void> {
    const tx = this.db.transaction('reputation', 'readwrite', { durability: 'relaxed' })
    await Promise.all([...records.map(async (r) => await tx.store.put(r)), tx.done])
  }

  async listReputation (): Promise<ReputationRecord[]> {
    return await this.db.getAll('reputation')
  }

  close (): void {
    this.db.close()
  }
}

function describe (models: ModelMeta[]): string {
  if (models.length === 0) return 'nothing'
  const total = models.reduce((n, m) => n + m.size, 0)
  return `${models.length} model(s), ${total} bytes (${models.map((m) => m.name ?? m.sha256.slice(0, 12)).join(', ')})`
}

/** Opens (creating or migrating) the database. */
export async function openStore (name: string = DEFAULT_DB_NAME, init: StoreInit = {}): Promise<Store> {
  // the blocking callback can fire before openDB resolves: reach the store through a holder
  const holder: { store?: Store } = {}
  const db = await openDB<CrosscheckDB>(name, DB_VERSION, {
    upgrade,
    blocked: () => { log('opening %s is blocked by an older version in another tab', name) },
    // Another tab wants to migrate: step aside rather than block it; this tab must reload.
    blocking: () => { log('closing %s so another tab can upgrade it', name); holder.store?.close() },
    terminated: () => { log.error('database %s was closed by the browser', name) }
  })
  holder.store = new Store(db, name, init)
  return holder.store
}
