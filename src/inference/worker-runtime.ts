/**
 * The browser's InferenceRuntime: the onnxruntime-web worker behind comlink
 * (`workers/inference.worker.ts`, the only importer of onnxruntime-web).
 */
import type { AbortOptions } from '../abort.js'
import type { InferenceRuntime, RunOutput, RuntimeInfo, RuntimeInit, RuntimeRunOptions } from '../core/types.js'
import type { NamedTensors } from '../tensor/index.js'
import { createInferenceWorker } from './worker-client.js'
import type { InferenceWorker } from './worker-client.js'
import type { Capabilities, WorkerInit } from '../../workers/contract.js'

export interface WorkerRuntimeInit extends RuntimeInit {
  /** @default 'auto' */
  preferredBackend?: WorkerInit['preferredBackend']
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

export class WorkerRuntime implements InferenceRuntime {
  private worker: InferenceWorker
  private readonly init: WorkerInit

  constructor (init: WorkerRuntimeInit = {}) {
    this.init = { preferredBackend: init.preferredBackend ?? 'auto', ...(init.threads != null ? { numThreads: init.threads } : {}) }
    this.worker = createInferenceWorker(this.init)
  }

  async probe (options: AbortOptions = {}): Promise<RuntimeInfo> {
    return runtimeInfoOf(await this.worker.probe(options))
  }

  async hasModel (sha256: string, options: AbortOptions = {}): Promise<boolean> {
    return await this.worker.hasModel(sha256, options)
  }

  async loadModel (sha256: string, bytes: ArrayBuffer, options: AbortOptions = {}): Promise<void> {
    await this.worker.loadModel(sha256, bytes, options)
  }

  async run (sha256: string, inputs: NamedTensors, options: RuntimeRunOptions = {}): Promise<RunOutput> {
    return await this.worker.run(sha256, inputs, { signal: options.signal, transfer: options.transfer })
  }

  async close (): Promise<void> {
    this.worker.terminate()
  }
}
