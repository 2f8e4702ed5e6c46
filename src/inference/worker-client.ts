/**
 * Main-thread handle on one inference worker (workers/inference.worker.ts).
 */
import * as Comlink from 'comlink'
import { AbortError, InferenceError, NotStartedError, throwIfAborted } from '../errors.js'
import { createLogger } from '../logger.js'
import type { NamedTensors } from '../tensor/index.js'
import type { Capabilities, InferenceWorkerApi, ModelInfo, RunResult, SelfTestResult, SessionOptions, WorkerInit } from '../../workers/contract.js'
import { rehydrateError } from './remote-errors.js'

const log = createLogger('inference:worker')

export type { Capabilities, ModelInfo, RunResult, SelfTestResult, SessionOptions, WorkerInit }

export interface CallOptions {
  signal?: AbortSignal
}

export interface TransferOptions extends CallOptions {
  /**
   * Move (not copy) the buffers to the worker; the caller's arrays are
   * detached afterwards. Pass `false` to keep using them.
   * @default true
   */
  transfer?: boolean
}

export interface LoadModelOptions extends TransferOptions {
  /** onnxruntime session options for this model, over the worker's defaults (workers/session-options.ts). @default {} */
  session?: SessionOptions
}

/** What `InferenceWorker` needs: a comlink endpoint (a `Worker`, or a `MessagePort` in tests). */
export interface InferenceWorkerComponents {
  endpoint: Comlink.Endpoint
  /** Called by `terminate()`; `worker.terminate()` for a real worker. */
  terminate?: () => void
}

function buffersOf (tensors: NamedTensors): ArrayBuffer[] {
  const set = new Set<ArrayBuffer>()
  for (const t of Object.values(tensors)) {
    // SharedArrayBuffers cannot be transferred (and need not be); a buffer listed twice is a DataCloneError.
    if (t.data.buffer instanceof ArrayBuffer) set.add(t.data.buffer)
  }
  return [...set]
}

/**
 * One worker, one onnxruntime instance, one numeric class. Every method takes
 * `{ signal }`: aborting rejects the call with AbortError at once; the worker
 * may still finish the work (onnxruntime-web cannot cancel a run) and its
 * result is dropped.
 */
export class InferenceWorker {
  private readonly remote: Comlink.Remote<InferenceWorkerApi>
  private readonly components: InferenceWorkerComponents
  private readonly initialised: Promise<void>
  private readonly pending = new Set<(err: Error) => void>()
  private closed: Error | undefined
  private inFlight = 0
  private started = false

  constructor (components: InferenceWorkerComponents, init: WorkerInit = {}) {
    this.components = components
    this.remote = Comlink.wrap<InferenceWorkerApi>(components.endpoint)
    this.initialised = this.remote.init(init).then(
      () => { this.started = true },
      (err: unknown) => { throw rehydrateError(err) }
    )
    // Surface init errors through the first call, not as an unhandled rejection.
    this.initialised.catch(() => {})
  }

  /** The worker script loaded and answered `init`. */
  get isStarted (): boolean { return this.started }

  /** Calls in progress (for pool scheduling). */
  get busy (): number { return this.inFlight }

  private async call<T> (fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.closed != null) throw this.closed
    throwIfAborted(signal)
    this.inFlight++
    let reject: ((err: Error) => void) | undefined
    let onAbort: (() => void) | undefined
    try {
      const stop = new Promise<never>((_resolve, rej) => {
        reject = rej
        this.pending.add(rej)
        onAbort = () => rej(new AbortError('inference call aborted', { cause: signal?.reason }))
        signal?.addEventListener('abort', onAbort, { once: true })
      })
      const work = (async () => {
        await this.initialised
        try {
          return await fn()
        } catch (err) {
          throw rehydrateError(err)
        }
      })()
      // If `stop` wins, `work` may still reject later: keep that from being unhandled.
      work.catch(() => {})
      return await Promise.race([work, stop])
    } finally {
      this.inFlight--
      if (reject != null) this.pending.delete(reject)
      if (onAbort != null) signal?.removeEventListener('abort', onAbort)
    }
  }

  probe (options: CallOptions = {}): Promise<Capabilities> {
    return this.call(async () => await this.remote.probe(), options.signal)
  }

  /** Creates a session for `modelHash` (the caller vouches the bytes hash to it; the registry does). */
  loadModel (modelHash: string, bytes: ArrayBuffer, options: LoadModelOptions = {}): Promise<ModelInfo> {
    const payload = options.transfer === false ? bytes : Comlink.transfer(bytes, [bytes])
    return this.call(async () => await this.remote.loadModel(modelHash, payload, options.session), options.signal)
  }

  hasModel (modelHash: string, options: CallOptions = {}): Promise<boolean> {
    return this.call(async () => await this.remote.hasModel(modelHash), options.signal)
  }

  unloadModel (modelHash: string, options: CallOptions = {}): Promise<boolean> {
    return this.call(async () => await this.remote.unloadModel(modelHash), options.signal)
  }

  /** Runs a loaded model. Input buffers are transferred unless `transfer: false`. */
  run (modelHash: string, inputs: NamedTensors, options: TransferOptions = {}): Promise<RunResult> {
    const payload = options.transfer === false ? inputs : Comlink.transfer(inputs, buffersOf(inputs))
    return this.call(async () => await this.remote.run(modelHash, payload), options.signal)
  }

  selfTest (options: CallOptions = {}): Promise<SelfTestResult> {
    return this.call(async () => await this.remote.selfTest(), options.signal)
  }

  /** The worker failed or was terminated: every call now rejects. */
  get isClosed (): boolean { return this.closed != null }

  /** Fails every pending and later call with `reason` (used when the worker script dies). */
  fail (reason: Error): void {
    if (this.closed != null) return
    this.closed = reason
    for (const reject of this.pending) reject(reason)
    this.pending.clear()
  }

  /** Ends the worker; pending calls reject with NotStartedError. Idempotent. */
  terminate (): void {
    if (this.closed != null) return
    this.fail(new NotStartedError('inference worker terminated'))
    this.remote[Comlink.releaseProxy]()
    this.components.terminate?.()
    log('terminated')
  }
}

/**
 * Starts `workers/inference.worker.ts` as a module worker (vite bundles it and
 * its onnxruntime build as a separate chunk) and wraps it.
 */
export function createInferenceWorker (init: WorkerInit = {}): InferenceWorker {
  const worker = new Worker(new URL('../../workers/inference.worker.ts', import.meta.url), { type: 'module', name: 'crosscheck-inference' })
  const client = new InferenceWorker({ endpoint: worker, terminate: () => worker.terminate() }, init)
  // A worker whose script fails to load never answers, and one that crashed
  // later (an uncaught error, WASM out of memory) may never answer again:
  // fail its calls instead of hanging them; the runtime then starts a new one.
  worker.addEventListener('error', (ev) => {
    log.error('inference worker error: %s', ev.message)
    client.fail(new InferenceError(client.isStarted ? `inference worker crashed: ${ev.message ?? 'error'}` : `inference worker failed to start: ${ev.message ?? 'script error'}`))
  })
  return client
}
