/**
 * The inference worker's contract: the one type both sides of the comlink
 * boundary agree on. No onnxruntime import here (the main thread imports this
 * file, and must never pull onnxruntime-web into its bundle).
 *
 * Errors: the worker throws named errors from src/errors.ts (onnxruntime's
 * string errors wrapped in `InferenceError`). Comlink's throw handler keeps
 * `name` and `message` but not the class nor `cause`, so the main side
 * (src/inference) rebuilds the class from `name`; see `rehydrateError`.
 */
import type { NamedTensors } from '../src/tensor/index.js'

export type Backend = 'webgpu' | 'wasm'
export type Engine = 'chromium' | 'firefox' | 'webkit' | 'unknown'

/** Options fixed for the worker's lifetime (onnxruntime's env flags apply only before the first session). */
export interface WorkerInit {
  /**
   * `'auto'` uses WebGPU only on a real (non-fallback) adapter that passes the
   * self-test; `'webgpu'` also accepts a fallback (software) adapter, which is
   * how tests reach the WebGPU path on SwiftShader; `'wasm'` never loads the
   * 28 MB JSEP build.
   * @default 'auto'
   */
  preferredBackend?: 'webgpu' | 'wasm' | 'auto'
  /**
   * WASM threads. Ignored (1) when the page is not cross-origin isolated.
   * @default min(hardwareConcurrency, 4) for the plain wasm build, 1 for the JSEP (WebGPU) build
   */
  numThreads?: number
  /**
   * Which onnxruntime-web build to load. `'auto'` loads the JSEP build only
   * when WebGPU is tried; `'jsep'` loads it whatever the backend (the bench
   * compares the two builds on the wasm backend). At 1 thread both builds
   * give identical bytes; `Capabilities.build` says which one is in use.
   * @default 'auto'
   */
  build?: 'auto' | 'wasm' | 'jsep'
}

/**
 * Per-session onnxruntime options: a typed, validated subset of
 * `InferenceSession.SessionOptions` (see workers/session-options.ts).
 * Every field left out keeps the worker's default, which is
 * `DEFAULT_SESSION_OPTIONS` there (the bench's options sweep picked it).
 * None of these may change output bytes within a numeric class: the bench
 * checks each against the default, bit for bit.
 */
export interface SessionOptions {
  /** Graph rewrites before the first run. onnxruntime's own default is `'all'`. */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all'
  /** onnxruntime's CPU arena allocator. onnxruntime-web passes `false` when unset (native's default is on). */
  enableCpuMemArena?: boolean
  /** Pre-planned activation buffers from the first run's shapes. onnxruntime-web passes `false` when unset (native's default is on). */
  enableMemPattern?: boolean
  /** Inter-op parallelism; `'parallel'` needs threads to help. onnxruntime's default is `'sequential'`. */
  executionMode?: 'sequential' | 'parallel'
  /**
   * Fixes symbolic input dims (e.g. `{ 'p2o.DynamicDimension.0': 1 }`) so
   * shape inference can plan buffers; inputs of another size then fail.
   * Unset: none.
   */
  freeDimensionOverrides?: Record<string, number>
}

export interface WebGpuInfo {
  /** `navigator.gpu` exists in the worker. */
  api: boolean
  /** `requestAdapter()` returned an adapter. */
  adapter: boolean
  /** Software adapter (SwiftShader): correct but 20–100× slower than WASM. */
  isFallbackAdapter?: boolean
  vendor?: string
  architecture?: string
}

export interface Capabilities {
  /** The backend sessions are created on. */
  backend: Backend
  /** Which onnxruntime-web build is loaded: `'jsep'` (WASM + WebGPU, 28 MB) or `'wasm'` (CPU only, 14 MB). */
  build: 'jsep' | 'wasm'
  /** WASM threads actually in use. */
  threads: number
  crossOriginIsolated: boolean
  hardwareConcurrency: number
  engine: Engine
  webgpu: WebGpuInfo
  /** Set when WebGPU was wanted but not used, with the reason (no adapter, fallback adapter, failed self-test). */
  webgpuRejected?: string
  /** `ort-web/<backend>/t<threads>/<engine>`: exact comparison is only meaningful within one class. */
  numericClass: string
  /** onnxruntime-web version. */
  ortVersion: string
  /** ms from the first probe to capabilities ready (import + self-test when WebGPU was tried). */
  startupMs: number
}

export interface ModelInfo {
  inputNames: string[]
  outputNames: string[]
}

export interface RunResult {
  outputs: NamedTensors
  /** Wall time of `session.run` inside the worker, ms. */
  ms: number
  numericClass: string
}

export interface SelfTestResult {
  ok: boolean
  backend: Backend
  numericClass: string
  maxAbsDiff: number
  tolerance: number
  ms: number
  /** Why it failed, when `ok` is false. */
  reason?: string
}

/** What `inference.worker.ts` exposes through comlink. */
export interface InferenceWorkerApi {
  /** Fixes the init options. Must come before anything else; later calls with different options throw. */
  init: (options: WorkerInit) => Promise<void>
  /** Capabilities, probed once (lazily) and cached. */
  probe: () => Promise<Capabilities>
  /**
   * Creates (and caches by hash) a session. `bytes` should be transferred.
   * Does not re-hash: the registry already did. `options` override
   * `DEFAULT_SESSION_OPTIONS` (validated; an invalid one throws InvalidArgumentError).
   */
  loadModel: (modelHash: string, bytes: ArrayBuffer, options?: SessionOptions) => Promise<ModelInfo>
  hasModel: (modelHash: string) => Promise<boolean>
  unloadModel: (modelHash: string) => Promise<boolean>
  /** Runs a loaded model; runs are serialized per worker. Output buffers are transferred back. */
  run: (modelHash: string, inputs: NamedTensors) => Promise<RunResult>
  /** Known-answer check of the active backend on a built-in model. */
  selfTest: () => Promise<SelfTestResult>
}
