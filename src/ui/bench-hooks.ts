/**
 * Measurement hooks for `npm run bench` (bench/bench.ts), reached as
 * `window.crosscheck.bench` on the contributor page. They only observe or run
 * extra work beside the node; nothing here changes how the node serves or
 * requests jobs.
 *
 * - `traceStart` / `traceTake`: this node's job and model events, each stamped
 *   with a machine-wide instant (`performance.timeOrigin + performance.now()`),
 *   so the bench can line a requester's events up with its workers' events.
 * - `runtime`: a second onnxruntime-web worker at a chosen thread count (the
 *   node's own runtime has one fixed count), for 1-vs-1 and 2-vs-2 runtime
 *   comparisons against onnxruntime-node; with a `RuntimeVariant` (build,
 *   session options) for the options sweep, and each run's output hash so
 *   the bench can check that an option leaves the bytes alone.
 * - `crypto`: what signing and checking one vote, and encoding/decoding one
 *   job request and response, cost here (stages a job cannot time apart).
 *
 * @example
 * ```ts
 * await page.evaluate(() => window.crosscheck.bench.traceStart())
 * const r = await page.evaluate(() => window.crosscheck.bench.run('mlp', json, { replicas: 3, quorum: 2 }))
 * const events = await page.evaluate(() => window.crosscheck.bench.traceTake())
 * ```
 */
import type { CrosscheckNode, RunOptions, RunTiming } from '../core/node.js'
import type { ModelManifest } from '../models/manifest.js'
import { WorkerRuntime } from '../inference/worker-runtime.js'
import type { SessionOptions } from '../../workers/contract.js'
import { hashTensors, tensorsFromJSON } from '../tensor/index.js'
import type { NamedTensors } from '../tensor/index.js'
import { signVote, verifyVote } from '../consensus/vote.js'
import { createJobSpec, jobIdOf } from '../consensus/job.js'
import { generateIdentity, libp2pVerifier, signerFromPrivateKey } from '../network/keys.js'
import { decodeJobRequest, decodeJobResponse, encodeJobRequest, encodeJobResponse } from '../network/codec.js'
import { parseKeys, readText } from '../ocr/index.js'
import type { RgbaImage } from '../ocr/index.js'

/** An event of this node, stamped with a machine-wide instant. */
export interface TraceEntry { t: number, type: string, detail: unknown }

export interface BenchRun { jobId: string, modelHash: string, agreeing: string[], dispatched: string[], ms: number, timing: RunTiming, wall: { start: number, end: number } }

/** One cell of the runtime options sweep. */
export interface RuntimeVariant {
  /** onnxruntime-web build (its own worker per build × threads). @default 'wasm' */
  build?: 'wasm' | 'jsep'
  /** Session options over the worker's defaults. @default {} */
  session?: SessionOptions
}

export interface RuntimeBatch {
  threads: number
  numericClass: string
  build: 'wasm' | 'jsep'
  /** Runtime-reported ms per run. */
  ms: number[]
  /** ms per run as the page sees it (worker round trip included). */
  wall: number[]
  /** sha256 of the canonical output bytes of the last run. */
  outputHash: string
  /** Every run of this batch gave `outputHash`. */
  stable: boolean
}

/** A stable key for a variant's session options (key order does not matter). */
export function sessionKey (session: SessionOptions = {}): string {
  const sorted = (v: unknown): unknown => (v != null && typeof v === 'object' && !Array.isArray(v))
    ? Object.fromEntries(Object.keys(v).sort().map(k => [k, sorted((v as Record<string, unknown>)[k])]))
    : v
  return JSON.stringify(sorted(session))
}

const TRACED = ['job:progress', 'job:served', 'job:accepted', 'model:progress', 'model:upload'] as const
/** Enough for the longest default bench section; older entries are dropped. */
const MAX_TRACE = 50_000

function instant (): number {
  return performance.timeOrigin + performance.now()
}

/**
 * ONNX ModelProto with `pad` more bytes: a trailing `doc_string` (field 6, a
 * later value of a singular field wins), so the model runs as before under a
 * new sha256 that no catalog lists: peers must fetch it from one another.
 */
export function padModel (bytes: Uint8Array, pad: number): Uint8Array {
  const len: number[] = []
  let n = pad
  do { len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n = Math.floor(n / 128) } while (n > 0)
  const out = new Uint8Array(bytes.byteLength + 1 + len.length + pad)
  out.set(bytes, 0)
  out[bytes.byteLength] = (6 << 3) | 2
  out.set(len, bytes.byteLength + 1)
  out.fill(0x78, bytes.byteLength + 1 + len.length) // 'x'
  // a random tail, so that every bench run gets a model no store has yet
  crypto.getRandomValues(out.subarray(out.byteLength - Math.min(16, pad))).forEach((b, i, a) => { a[i] = 0x61 + (b % 26) })
  return out
}

export function benchHooks (getNode: () => CrosscheckNode | undefined, getManifest: () => ModelManifest | undefined) {
  let trace: TraceEntry[] = []
  /** `build/threads` → a worker and the session keys it holds. */
  const runtimes = new Map<string, { rt: WorkerRuntime, loaded: Set<string> }>()
  let unsubscribe: (() => void) | undefined

  const node = (): CrosscheckNode => {
    const n = getNode()
    if (n == null) throw new Error('join the network first')
    return n
  }
  const shaOf = (id: string): string => {
    const entry = getManifest()?.models.find(e => e.id === id)
    if (entry == null) throw new Error(`unknown model ${id}`)
    return entry.sha256
  }
  const timedRun = async (model: string | Uint8Array, inputs: NamedTensors, opts: RunOptions): Promise<BenchRun> => {
    const start = instant()
    const r = await node().run(model, inputs, opts)
    return { jobId: r.jobId, modelHash: r.modelHash, agreeing: r.agreeing, dispatched: r.dispatched, ms: r.ms, timing: r.timing, wall: { start, end: instant() } }
  }
  const sampleImage = async (): Promise<RgbaImage> => {
    const bitmap = await createImageBitmap(await (await fetch('samples/hello.png')).blob())
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height)
    const ctx = canvas.getContext('2d') as OffscreenCanvasRenderingContext2D
    ctx.drawImage(bitmap, 0, 0)
    const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height)
    return { width: data.width, height: data.height, data: data.data }
  }
  const ocrKeys = async (): Promise<string[]> => {
    const keys = getManifest()?.extras.find(e => e.id === 'ocr-keys')
    if (keys == null) throw new Error('the catalog has no OCR keys file')
    return parseKeys(new TextDecoder().decode(await node().getModelBytes(keys.sha256)))
  }

  return {
    traceStart: (): void => {
      unsubscribe?.()
      trace = []
      const n = node()
      const on = (type: string) => (evt: Event): void => {
        if (trace.length >= MAX_TRACE) trace.shift()
        trace.push({ t: instant(), type, detail: (evt as CustomEvent).detail })
      }
      const listeners = TRACED.map(type => [type, on(type)] as const)
      for (const [type, fn] of listeners) n.addEventListener(type, fn)
      unsubscribe = () => { for (const [type, fn] of listeners) n.removeEventListener(type, fn) }
    },
    traceTake: (): TraceEntry[] => {
      const out = trace
      trace = []
      return out
    },
    traceStop: (): void => { unsubscribe?.(); unsubscribe = undefined },

    /** A verified job; `wall` brackets the whole call in machine-wide instants. */
    run: async (id: string, inputsJson: unknown, opts: RunOptions): Promise<BenchRun> => await timedRun(id, tensorsFromJSON(inputsJson), opts),

    /** A verified job on catalog model `id` padded by `pad` bytes: a model only this page holds (peer-to-peer transfer). */
    runPadded: async (id: string, pad: number, inputsJson: unknown, opts: RunOptions): Promise<BenchRun & { size: number }> => {
      const bytes = padModel(await node().getModelBytes(shaOf(id)), pad)
      return { ...await timedRun(bytes, tensorsFromJSON(inputsJson), opts), size: bytes.byteLength }
    },

    /**
     * Fetches a model this page lacks from `peers` at once (wire, chunk and
     * whole-model checks; nothing stored), timed here. `keep`: fetch it the
     * way provisioning does (peers, hint first) and store it, so that this
     * page holds it too.
     */
    fetchFrom: async (peers: string[], sha256: string, opts: { chunkBytes?: number, reuseStreams?: boolean, requestsPerHolder?: number, keep?: boolean } = {}): Promise<{ ms: number, size: number }> => {
      const t0 = performance.now()
      const bytes = opts.keep === true
        ? await node().getModelBytes(sha256, { hint: peers[0] })
        : await node().fetchModelFrom(peers, sha256, { chunkBytes: opts.chunkBytes, reuseStreams: opts.reuseStreams, requestsPerHolder: opts.requestsPerHolder })
      return { ms: performance.now() - t0, size: bytes.byteLength }
    },

    /** As many jobs as `concurrency` allows for `durationMs`; latencies of the ones that ended in time. */
    /**
     * `concurrency` lanes each run job after job for `durationMs` (as fast as
     * the network goes); with `ratePerSecond`, jobs start on that schedule
     * instead (at most `concurrency` in flight; a start that finds them all
     * busy waits), so the main thread's load at a given rate can be read.
     */
    throughput: async (id: string, inputsJson: unknown, opts: RunOptions, load: { concurrency: number, durationMs: number, ratePerSecond?: number }) => {
      const inputs = tensorsFromJSON(inputsJson)
      const t0 = performance.now()
      const end = t0 + load.durationMs
      const latencies: number[] = []
      const errors: string[] = []
      let lastEnd = t0
      const one = async (): Promise<void> => {
        const s = performance.now()
        try {
          await node().run(id, inputs, opts)
          latencies.push(performance.now() - s)
          lastEnd = performance.now()
        } catch (err) {
          errors.push(`${(err as Error).name}: ${(err as Error).message}`)
        }
      }
      const rate = load.ratePerSecond
      if (rate != null && rate > 0) {
        const inFlight = new Set<Promise<void>>()
        for (let k = 0; ; k++) {
          const due = t0 + (k * 1000) / rate
          if (due >= end) break
          const wait = due - performance.now()
          if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
          while (inFlight.size >= load.concurrency) await Promise.race(inFlight)
          const p: Promise<void> = one().finally(() => { inFlight.delete(p) })
          inFlight.add(p)
        }
        await Promise.all(inFlight)
        // paced: the window is the schedule's, not the last answer's
        return { done: latencies.length, errors, latencies, ms: Math.max(lastEnd, end) - t0 }
      }
      const lane = async (): Promise<void> => {
        while (performance.now() < end) await one()
      }
      await Promise.all(Array.from({ length: load.concurrency }, lane))
      return { done: latencies.length, errors, latencies, ms: lastEnd - t0 }
    },

    /**
     * Runtime-reported and wall ms of `n` runs on a second onnxruntime-web
     * worker with `threads` threads (wasm backend; plain WASM build unless
     * `variant.build`), kept between calls so that the bench can interleave
     * batches with onnxruntime-node's and with other variants; each variant's
     * session is created once (then warmed by one run). `runtimeClose` ends them.
     */
    runtime: async (threads: number, id: string, inputsJson: unknown, n: number, variant: RuntimeVariant = {}): Promise<RuntimeBatch> => {
      const sha = shaOf(id)
      const build = variant.build ?? 'wasm'
      const slot = `${build}/${threads}`
      let runtime = runtimes.get(slot)
      if (runtime == null) {
        runtime = { rt: new WorkerRuntime({ threads, preferredBackend: 'wasm', build }), loaded: new Set() }
        runtimes.set(slot, runtime)
      }
      const { rt, loaded } = runtime
      const info = await rt.probe()
      const inputs = tensorsFromJSON(inputsJson)
      // The worker keys sessions by this string only (it does not re-hash), so one model can hold a session per variant.
      const key = variant.session == null ? sha : `${sha}|${sessionKey(variant.session)}`
      if (!loaded.has(key)) {
        await rt.loadModel(key, (await node().getModelBytes(sha)).slice().buffer, { session: variant.session })
        loaded.add(key)
        await rt.run(key, inputs, { transfer: false })
      }
      const ms: number[] = []
      const wall: number[] = []
      const hashes = new Set<string>()
      let outputHash = ''
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        const r = await rt.run(key, inputs, { transfer: false })
        wall.push(performance.now() - t0)
        ms.push(r.ms)
        outputHash = hashTensors(r.outputs)
        hashes.add(outputHash)
      }
      return { threads: info.threads, numericClass: info.numericClass, build, ms, wall, outputHash, stable: hashes.size <= 1 }
    },
    runtimeClose: async (): Promise<void> => {
      for (const { rt } of runtimes.values()) await rt.close()
      runtimes.clear()
    },

    /**
     * Per-job CPU a job cannot time apart, on this model's real outputs:
     * hashing outputs and signing a vote (worker), checking it (requester),
     * and the codec's encode/decode of request and response.
     */
    crypto: async (id: string, inputsJson: unknown, n: number) => {
      const sha = shaOf(id)
      const inputs = tensorsFromJSON(inputsJson)
      const { outputs } = await node().runLocal(sha, inputs)
      const signer = signerFromPrivateKey(await generateIdentity())
      const inputHash = hashTensors(inputs)
      const jobId = 'a'.repeat(64)
      const sign: number[] = []
      const verify: number[] = []
      const encode: number[] = []
      const decode: number[] = []
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        const vote = await signVote(signer, { jobId, modelHash: sha, inputHash, outputHash: hashTensors(outputs), numericClass: 'ort-web/wasm/t1/chromium', signedAt: Date.now() })
        const t1 = performance.now()
        await verifyVote(vote, libp2pVerifier, { jobId, modelHash: sha, inputHash, output: outputs })
        const t2 = performance.now()
        const spec = createJobSpec({ modelHash: sha, inputHash, policy: { kind: 'exact' }, replicas: 3, quorum: 2, requester: signer.peerId, nonce: '0'.repeat(32), createdAt: Date.now(), expiresAt: Date.now() + 60_000 })
        const req = encodeJobRequest({ type: 'job', jobId: jobIdOf(spec), spec, inputs })
        const res = encodeJobResponse({ type: 'result', jobId, vote, outputs, ms: 1 })
        const t3 = performance.now()
        decodeJobRequest(req, 64 * 1024 * 1024)
        decodeJobResponse(res, 64 * 1024 * 1024)
        const t4 = performance.now()
        sign.push(t1 - t0)
        verify.push(t2 - t1)
        encode.push(t3 - t2)
        decode.push(t4 - t3)
      }
      return { sign, verify, encode, decode }
    },

    /** The sample image read locally (unverified, this page's runtime): ms per read. */
    ocrLocal: async (n: number) => {
      const img = await sampleImage()
      const keys = await ocrKeys()
      const det = shaOf('ocr-det')
      const rec = shaOf('ocr-rec')
      const wall: number[] = []
      let text = ''
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        const lines = await readText(img, async (x) => (await node().runLocal(det, x)).outputs, async (x) => (await node().runLocal(rec, x)).outputs, keys)
        wall.push(performance.now() - t0)
        text = lines.map(l => l.text).join('\n')
      }
      return { wall, text }
    },

    /** The sample image read through verified jobs: each job's timing, and the whole read's wall time. */
    ocrVerified: async (opts: RunOptions) => {
      const img = await sampleImage()
      const keys = await ocrKeys()
      const jobs: BenchRun[] = []
      const run = (id: string) => async (inputs: NamedTensors): Promise<NamedTensors> => {
        const start = instant()
        const r = await node().run(id, inputs, opts)
        jobs.push({ jobId: r.jobId, modelHash: r.modelHash, agreeing: r.agreeing, dispatched: r.dispatched, ms: r.ms, timing: r.timing, wall: { start, end: instant() } })
        return r.outputs
      }
      const t0 = performance.now()
      const lines = await readText(img, run('ocr-det'), run('ocr-rec'), keys)
      return { wall: performance.now() - t0, text: lines.map(l => l.text).join('\n'), jobs }
    }
  }
}

export type BenchHooks = ReturnType<typeof benchHooks>
