/**
 * The browser's InferenceRuntime: the onnxruntime-web worker behind comlink
 * (`workers/inference.worker.ts`, the only importer of onnxruntime-web).
 */
import type { AbortOptions } from '../abort.js'
import type { InferenceRuntime, RunOutput, RuntimeInfo, RuntimeInit, RuntimeRunOptions } from '../core/types.js'
import type { NamedTensors } from '../tensor/index.js'
import { createInferenceWorker } from './worker-client.js'
import type { InferenceWorker } from './worker-client.js'
import type { Capabilities, SessionOptions, WorkerInit } from '../../workers/contract.js'
import { createLogger } from '../logger.js'

const log = createLogger('inference:runtime')

export interface WorkerRuntimeInit extends RuntimeInit {
  /** @default 'auto' */
  preferredBackend?: WorkerInit['preferredBackend']
  /** Which onnxruntime-web build (see `WorkerInit.build`). @default 'auto' */
  build?: WorkerInit['build']
}

export function runtimeInfoOf (c: Capabilities): RuntimeInfo {
  return {
    runtime: 'ort-web',
    backend: c.backend,
    threads: c.threads,
    numericClass: c.numericClass,
    crossOriginIsolated: c.crossOriginIsolated,
    ...(c.webgpuRejected != null ? { note: `WebGPU not used: ${c.webgpuRejected}` } : {})
  }
}

/**
 * One onnxruntime-web worker at a time. A worker that crashed, or whose load
 * or run failed (WASM out of memory leaves onnxruntime unusable), is replaced
 * by a fresh one on the next call: the failed job gets an error (no vote) and
 * the peer keeps contributing; the core reloads models on demand (it asks
 * `hasModel` first).
 */
export class WorkerRuntime implements InferenceRuntime {
  private worker: InferenceWorker
  private readonly create: () => InferenceWorker
  /** Workers replaced after a failure (diagnostics and tests). */
  restarts = 0
  /** Models each worker has a session for (loaded through this runtime). */
  private readonly loaded = new WeakMap<InferenceWorker, Set<string>>()

  constructor (init: WorkerRuntimeInit = {}, components: { create?: (init: WorkerInit) => InferenceWorker } = {}) {
    const workerInit: WorkerInit = { preferredBackend: init.preferredBackend ?? 'auto', ...(init.build != null ? { build: init.build } : {}), ...(init.threads != null ? { numThreads: init.threads } : {}) }
    const create = components.create ?? createInferenceWorker
    this.create = () => create(workerInit)
    this.worker = this.create()
  }

  private current (): InferenceWorker {
    if (this.worker.isClosed) {
      log('inference worker is gone: starting a new one')
      this.restarts++
      this.worker = this.create()
    }
    return this.worker
  }

  /** Runs `fn` on the current worker; a failure other than an abort retires that worker. */
  private async use<T> (fn: (w: InferenceWorker) => Promise<T>): Promise<T> {
    const w = this.current()
    try {
      return await fn(w)
    } catch (err) {
      if ((err as Error)?.name !== 'AbortError' && !w.isClosed) {
        log('inference call failed (%s): retiring the worker', (err as Error)?.message)
        w.terminate()
      }
      throw err
    }
  }

  async probe (options: AbortOptions = {}): Promise<RuntimeInfo> {
    return runtimeInfoOf(await this.use(async w => await w.probe(options)))
  }

  /**
   * Answered here for models this worker loaded (the worker drops a session
   * only when asked to, and a replaced worker starts with none), so a warm
   * job does not wait for a round trip to the worker just to learn that.
   */
  async hasModel (sha256: string, options: AbortOptions = {}): Promise<boolean> {
    const w = this.current()
    if (this.loaded.get(w)?.has(sha256) === true) return true
    return await this.use(async w => await w.hasModel(sha256, options))
  }

  /** `options.session` overrides the worker's session defaults for this model (the bench's options sweep). */
  async loadModel (sha256: string, bytes: ArrayBuffer, options: AbortOptions & { session?: SessionOptions } = {}): Promise<void> {
    await this.use(async w => {
      await w.loadModel(sha256, bytes, options)
      let set = this.loaded.get(w)
      if (set == null) this.loaded.set(w, (set = new Set()))
      set.add(sha256)
    })
  }

  async run (sha256: string, inputs: NamedTensors, options: RuntimeRunOptions = {}): Promise<RunOutput> {
    return await this.use(async w => await w.run(sha256, inputs, { signal: options.signal, transfer: options.transfer }))
  }

  async close (): Promise<void> {
    this.worker.terminate()
  }
}
