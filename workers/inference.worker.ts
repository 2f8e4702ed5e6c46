/**
 * The inference worker: the only importer of onnxruntime-web. Exposes
 * `InferenceWorkerApi` (workers/contract.ts) through comlink.
 *
 * One onnxruntime instance per worker, configured once:
 * - which build: `onnxruntime-web` (JSEP, 28 MB wasm, WASM + WebGPU) is imported
 *   only when WebGPU is wanted and an adapter exists; otherwise
 *   `onnxruntime-web/wasm` (14 MB, CPU only). Both are dynamic imports, so
 *   vite splits them and the page downloads only the one it uses; loading both
 *   in one worker would cost two wasm instances for nothing.
 * - threads: the plain wasm build gets min(hardwareConcurrency, 4) (measured
 *   faster at 2 than 1; more than 4 rarely helps small models and steals cores
 *   from the page and other peers). The JSEP build gets 1: measured *slower* at
 *   2 threads than 1, and with WebGPU the heavy work is on the GPU anyway.
 *   Without cross-origin isolation there is no SharedArrayBuffer, so 1.
 * - env flags are set in `configureEnv` and nowhere else, before the first session.
 * - session options: `DEFAULT_SESSION_OPTIONS` (workers/session-options.ts),
 *   with the caller's validated overrides on top, per session.
 */
import * as Comlink from 'comlink'
import type * as OrtTypes from 'onnxruntime-web'
import { CrosscheckError, InferenceError, InvalidArgumentError, InvalidTensorError, ModelNotFoundError } from '../src/errors.js'
import { createTensor, isDType } from '../src/tensor/index.js'
import type { NamedTensors, Tensor, TypedArray } from '../src/tensor/index.js'
import type { Backend, Capabilities, Engine, InferenceWorkerApi, ModelInfo, RunResult, SelfTestResult, WebGpuInfo, WorkerInit } from './contract.js'
import { resolveSessionOptions } from './session-options.js'
import { selfTestCase } from './tiny-model.js'

type Ort = typeof OrtTypes

/** Upper bound on threads we ever ask for (see the file comment). */
const MAX_THREADS = 4

let init: Required<Pick<WorkerInit, 'preferredBackend' | 'build'>> & Pick<WorkerInit, 'numThreads'> | undefined
let ready: Promise<{ ort: Ort, caps: Capabilities }> | undefined
const sessions = new Map<string, Promise<OrtTypes.InferenceSession>>()

/** Runs and session creation go one at a time: one wasm instance, and JSEP does not allow concurrent runs. */
let queue: Promise<unknown> = Promise.resolve()
function serialize<T> (fn: () => Promise<T>): Promise<T> {
  const next = queue.then(fn, fn)
  queue = next.catch(() => {})
  return next
}

function message (err: unknown): string {
  if (err instanceof Error) return err.message
  return typeof err === 'string' ? err : String(err)
}

/** onnxruntime throws plain Errors (or strings); the main thread branches on `name`. */
function wrap (what: string, err: unknown): CrosscheckError {
  if (err instanceof CrosscheckError) return err
  return new InferenceError(`${what}: ${message(err)}`, { cause: err })
}

function engineOf (ua: string): Engine {
  if (/Firefox\//.test(ua)) return 'firefox'
  if (/Chrom(e|ium)\/|Edg\//.test(ua)) return 'chromium'
  if (/AppleWebKit\//.test(ua)) return 'webkit'
  return 'unknown'
}

interface GpuAdapterLike {
  isFallbackAdapter?: boolean
  info?: { vendor?: string, architecture?: string, isFallbackAdapter?: boolean }
}
interface GpuLike { requestAdapter: () => Promise<GpuAdapterLike | null> }

async function probeWebGpu (): Promise<WebGpuInfo> {
  const gpu = (navigator as Navigator & { gpu?: GpuLike }).gpu
  if (gpu == null) return { api: false, adapter: false }
  try {
    const adapter = await gpu.requestAdapter()
    if (adapter == null) return { api: true, adapter: false }
    return {
      api: true,
      adapter: true,
      // `isFallbackAdapter` moved from the adapter to `adapter.info` in newer Chromium.
      isFallbackAdapter: adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false,
      vendor: adapter.info?.vendor,
      architecture: adapter.info?.architecture
    }
  } catch {
    return { api: true, adapter: false }
  }
}

function configureEnv (ort: Ort, threads: number): void {
  // numThreads (default 0 = ORT picks min(4, ceil(cores/2))): set explicitly so the numeric class is known.
  ort.env.wasm.numThreads = threads
  // proxy (default false): we already are a worker; proxying would nest another one.
  ort.env.wasm.proxy = false
  // wasmPaths (default: next to the bundle via import.meta.url) stays unset: pointing it into public/ breaks vite dev.
  // logLevel (default 'warning') stays: onnxruntime's own warnings are useful in the console.
}

function numericClassOf (backend: Backend, threads: number, engine: Engine): string {
  return `ort-web/${backend}/t${threads}/${engine}`
}

async function knownAnswer (ort: Ort, backend: Backend, numericClass: string): Promise<SelfTestResult> {
  const c = selfTestCase()
  const t0 = performance.now()
  const base = { backend, numericClass, tolerance: c.tolerance }
  let session: OrtTypes.InferenceSession | undefined
  try {
    session = await ort.InferenceSession.create(c.model.bytes, { executionProviders: [backend] })
    const feeds = { [c.model.input]: new ort.Tensor('float32', c.x, [c.batch, c.model.sizes[0]]) }
    const out = await session.run(feeds)
    const y = await out[c.model.output].getData()
    if (!(y instanceof Float32Array) || y.length !== c.expected.length) {
      return { ...base, ok: false, maxAbsDiff: Infinity, ms: performance.now() - t0, reason: 'output has the wrong type or length' }
    }
    let maxAbsDiff = 0
    for (let i = 0; i < y.length; i++) {
      const d = Math.abs(y[i] - c.expected[i])
      // NaN must fail, so compare with `!(d <= max)`.
      if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Infinity : d
    }
    const ok = maxAbsDiff <= c.tolerance
    return { ...base, ok, maxAbsDiff, ms: performance.now() - t0, ...(ok ? {} : { reason: `max abs diff ${maxAbsDiff} > ${c.tolerance}` }) }
  } catch (err) {
    return { ...base, ok: false, maxAbsDiff: Infinity, ms: performance.now() - t0, reason: message(err) }
  } finally {
    await session?.release().catch(() => {})
  }
}

async function start (): Promise<{ ort: Ort, caps: Capabilities }> {
  const t0 = performance.now()
  const opts = init ?? (init = { preferredBackend: 'auto', build: 'auto' })
  const isolated = globalThis.crossOriginIsolated === true
  const cores = navigator.hardwareConcurrency ?? 1
  const engine = engineOf(navigator.userAgent)
  const webgpu = opts.preferredBackend === 'wasm' ? { api: 'gpu' in navigator, adapter: false } : await probeWebGpu()

  let webgpuRejected: string | undefined
  let tryWebGpu = false
  if (opts.preferredBackend === 'wasm') {
    // Not wanted, so not rejected.
  } else if (!webgpu.api) {
    webgpuRejected = 'navigator.gpu is not available'
  } else if (!webgpu.adapter) {
    webgpuRejected = 'no WebGPU adapter'
  } else if (webgpu.isFallbackAdapter === true && opts.preferredBackend === 'auto') {
    webgpuRejected = 'fallback (software) adapter: slower than WASM'
  } else {
    tryWebGpu = true
  }

  // The JSEP build runs the wasm EP too (with the same bytes at 1 thread), so 'jsep' may be asked for without WebGPU.
  const build = tryWebGpu || opts.build === 'jsep' ? 'jsep' : 'wasm'
  // No SharedArrayBuffer without cross-origin isolation: ORT would silently use 1 thread anyway; say so.
  const wanted = opts.numThreads ?? (build === 'jsep' ? 1 : Math.min(cores, MAX_THREADS))
  const threads = isolated ? Math.max(1, Math.min(Math.floor(wanted), 16)) : 1

  let ort: Ort
  try {
    ort = build === 'jsep' ? await import('onnxruntime-web') : await import('onnxruntime-web/wasm')
  } catch (err) {
    throw wrap(`loading onnxruntime-web (${build})`, err)
  }
  configureEnv(ort, threads)

  let backend: Backend = 'wasm'
  if (tryWebGpu) {
    const t = await knownAnswer(ort, 'webgpu', numericClassOf('webgpu', threads, engine))
    if (t.ok) backend = 'webgpu'
    else webgpuRejected = `self-test failed: ${t.reason ?? 'unknown'}`
  }
  const numericClass = numericClassOf(backend, threads, engine)
  if (backend === 'wasm') {
    // A backend that cannot compute the canary must not vote.
    const t = await knownAnswer(ort, 'wasm', numericClass)
    if (!t.ok) throw new InferenceError(`wasm self-test failed: ${t.reason ?? 'unknown'}`)
  }
  const caps: Capabilities = {
    backend,
    build,
    threads,
    crossOriginIsolated: isolated,
    hardwareConcurrency: cores,
    engine,
    webgpu,
    ...(webgpuRejected != null ? { webgpuRejected } : {}),
    numericClass,
    ortVersion: ort.env.versions.web ?? ort.env.versions.common,
    startupMs: performance.now() - t0
  }
  return { ort, caps }
}

function ensureStarted (): Promise<{ ort: Ort, caps: Capabilities }> {
  if (ready == null) {
    ready = serialize(start)
    // A failed start may be transient (a wasm fetch); let the next call retry.
    ready.catch(() => { ready = undefined })
  }
  return ready
}

function toOrt (ort: Ort, name: string, t: Tensor): OrtTypes.Tensor {
  if (t == null || !isDType(t.dtype)) throw new InvalidTensorError(`input ${name}: unknown dtype`)
  const checked = createTensor(t.dtype, t.dims, t.data)
  return new ort.Tensor(checked.dtype, checked.data as OrtTypes.Tensor.DataTypeMap[typeof checked.dtype], checked.dims)
}

/** Copies unless the array owns a whole, non-shared ArrayBuffer (wasm memory is shared when threaded). */
function owned<T extends TypedArray> (a: T): T {
  const whole = a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength
  return whole ? a : a.slice() as T
}

async function fromOrt (name: string, t: OrtTypes.Tensor): Promise<Tensor> {
  const dtype = t.type
  if (!isDType(dtype)) throw new InferenceError(`output ${name}: dtype ${dtype} is not supported by Crosscheck`)
  // getData() downloads GPU-resident tensors; CPU ones resolve to `data`.
  const data = await t.getData(true) as TypedArray
  return createTensor(dtype, t.dims, owned(data))
}

function session (modelHash: string): Promise<OrtTypes.InferenceSession> {
  const s = sessions.get(modelHash)
  if (s == null) throw new ModelNotFoundError(`model ${modelHash} is not loaded in this worker`)
  return s
}

const api: InferenceWorkerApi = {
  async init (options) {
    const next = { preferredBackend: options.preferredBackend ?? 'auto', build: options.build ?? 'auto', numThreads: options.numThreads }
    if (next.build === 'wasm' && next.preferredBackend === 'webgpu') throw new InvalidArgumentError('the plain wasm build has no WebGPU: ask for build \'auto\' or \'jsep\'')
    if (init != null && (init.preferredBackend !== next.preferredBackend || init.build !== next.build || init.numThreads !== next.numThreads)) {
      throw new InferenceError('the worker is already initialised with other options; start a new worker')
    }
    init = next
  },

  async probe () {
    return (await ensureStarted()).caps
  },

  async loadModel (modelHash, bytes, options) {
    // Checked before start-up: a bad option is the caller's error, not the worker's.
    const sessionOptions = resolveSessionOptions(options)
    const { ort, caps } = await ensureStarted()
    let s = sessions.get(modelHash)
    if (s == null) {
      s = serialize(async () => {
        try {
          return await ort.InferenceSession.create(new Uint8Array(bytes), { ...sessionOptions, executionProviders: [caps.backend] })
        } catch (err) {
          throw wrap(`loading model ${modelHash}`, err)
        }
      })
      sessions.set(modelHash, s)
      s.catch(() => { if (sessions.get(modelHash) === s) sessions.delete(modelHash) })
    }
    const ready = await s
    const info: ModelInfo = { inputNames: [...ready.inputNames], outputNames: [...ready.outputNames] }
    return info
  },

  async hasModel (modelHash) {
    return sessions.has(modelHash)
  },

  async unloadModel (modelHash) {
    const s = sessions.get(modelHash)
    if (s == null) return false
    sessions.delete(modelHash)
    await serialize(async () => { await (await s).release() }).catch(() => {})
    return true
  },

  async run (modelHash, inputs) {
    const { ort, caps } = await ensureStarted()
    const s = session(modelHash)
    const result = await serialize(async (): Promise<RunResult> => {
      const sess = await s
      const feeds: Record<string, OrtTypes.Tensor> = {}
      for (const [name, t] of Object.entries(inputs)) feeds[name] = toOrt(ort, name, t)
      let out: OrtTypes.InferenceSession.ReturnType
      const t0 = performance.now()
      try {
        out = await sess.run(feeds)
      } catch (err) {
        throw wrap(`running model ${modelHash}`, err)
      }
      const ms = performance.now() - t0
      const outputs: NamedTensors = {}
      try {
        for (const [name, t] of Object.entries(out)) outputs[name] = await fromOrt(name, t)
      } finally {
        for (const t of Object.values(out)) t.dispose()
      }
      return { outputs, ms, numericClass: caps.numericClass }
    })
    return Comlink.transfer(result, Object.values(result.outputs).map((t) => t.data.buffer as ArrayBuffer))
  },

  async selfTest () {
    const { ort, caps } = await ensureStarted()
    return await serialize(() => knownAnswer(ort, caps.backend, caps.numericClass))
  }
}

// A dedicated worker only ever hears from the page that created it, so comlink's
// origin check (allowedOrigins) has nothing to restrict here; the widget's
// cross-origin surface is the page's postMessage, not this worker.
Comlink.expose(api)
