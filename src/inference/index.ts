/**
 * Main-thread side of inference: typed handles on the onnxruntime-web worker
 * (`workers/inference.worker.ts`) and the model registry that
 * turns a sha256 into verified bytes (store → catalog → peers).
 *
 * @example
 * ```ts
 * const store = await openStore()
 * const registry = new ModelRegistry({ store })          // models/manifest.json next to the page
 * registry.addEventListener('model:progress', (e) => draw(e.detail.loaded / e.detail.total))
 * const inference = createInferenceWorker({ preferredBackend: 'auto' })
 * const caps = await inference.probe()                    // caps.numericClass = 'ort-web/wasm/t2/chromium'
 * const { bytes } = await registry.resolve(sha256, { signal })
 * await inference.loadModel(sha256, bytes)                // bytes are transferred
 * const { outputs, ms } = await inference.run(sha256, { x }, { signal })
 * ```
 */
export { createInferenceWorker, InferenceWorker } from './worker-client.js'
export type { CallOptions, TransferOptions, InferenceWorkerComponents } from './worker-client.js'
export { ModelRegistry } from './registry.js'
export type {
  FetchFromPeers, FetchFromPeersOptions, ModelProgressDetail, ModelRegistryComponents, ModelRegistryEvents,
  ModelRegistryInit, ModelResolvedDetail, ModelSource, ResolvedModel, ResolveOptions
} from './registry.js'
export { rehydrateError } from './remote-errors.js'
export { DEFAULT_MANIFEST_PATH, MAX_MODEL_BYTES } from './constants.js'
export type {
  Backend, Capabilities, Engine, ModelInfo, RunResult, SelfTestResult, WebGpuInfo, WorkerInit
} from '../../workers/contract.js'
