/**
 * A few inference workers behind one interface. Each worker holds its own
 * sessions, so models are loaded into all of them; runs go to the least busy.
 * All workers share one `WorkerInit`, hence one numeric class.
 */
import { ModelNotFoundError } from '../errors.js'
import type { NamedTensors } from '../tensor/index.js'
import type { Capabilities, ModelInfo, RunResult, SelfTestResult, WorkerInit } from '../../workers/contract.js'
import { DEFAULT_POOL_SIZE } from './constants.js'
import { createInferenceWorker } from './worker-client.js'
import type { CallOptions, InferenceWorker, TransferOptions } from './worker-client.js'

export interface InferencePoolInit extends WorkerInit {
  /**
   * Number of workers. Each one is a full onnxruntime instance with its own
   * threads and memory; more than one only helps with many small concurrent jobs.
   * @default 1
   */
  size?: number
}

export interface InferencePoolComponents {
  /** Makes one worker. @default createInferenceWorker */
  createWorker?: (init: WorkerInit) => InferenceWorker
}

export class InferencePool {
  private readonly workers: InferenceWorker[]
  private readonly loaded = new Set<string>()

  constructor (init: InferencePoolInit = {}, components: InferencePoolComponents = {}) {
    const { size = DEFAULT_POOL_SIZE, ...workerInit } = init
    const create = components.createWorker ?? createInferenceWorker
    this.workers = Array.from({ length: Math.max(1, Math.floor(size)) }, () => create(workerInit))
  }

  get size (): number { return this.workers.length }

  /** Capabilities of the first worker (all share the same init). */
  probe (options: CallOptions = {}): Promise<Capabilities> {
    return this.workers[0].probe(options)
  }

  /** Loads into every worker; the last one receives `bytes` by transfer, the others a copy. */
  async loadModel (modelHash: string, bytes: ArrayBuffer, options: TransferOptions = {}): Promise<ModelInfo> {
    const n = this.workers.length
    const infos = await Promise.all(this.workers.map((w, i) => {
      const own = i === n - 1 && options.transfer !== false ? bytes : bytes.slice(0)
      return w.loadModel(modelHash, own, { signal: options.signal })
    }))
    this.loaded.add(modelHash)
    return infos[0]
  }

  hasModel (modelHash: string): boolean {
    return this.loaded.has(modelHash)
  }

  async unloadModel (modelHash: string, options: CallOptions = {}): Promise<boolean> {
    this.loaded.delete(modelHash)
    const r = await Promise.all(this.workers.map(async (w) => await w.unloadModel(modelHash, options)))
    return r.some(Boolean)
  }

  run (modelHash: string, inputs: NamedTensors, options: TransferOptions = {}): Promise<RunResult> {
    if (!this.loaded.has(modelHash)) return Promise.reject(new ModelNotFoundError(`model ${modelHash} is not loaded`))
    let best = this.workers[0]
    for (const w of this.workers) if (w.busy < best.busy) best = w
    return best.run(modelHash, inputs, options)
  }

  selfTest (options: CallOptions = {}): Promise<SelfTestResult[]> {
    return Promise.all(this.workers.map(async (w) => await w.selfTest(options)))
  }

  terminate (): void {
    for (const w of this.workers) w.terminate()
    this.loaded.clear()
  }
}
