/**
 * `npm run bench`: every figure of issue 7 against its goal, side by side in
 * one run on this machine. Prints a table, writes bench/results.json,
 * bench/results.md (the README's tables) and bench/results.svg (latency per
 * stage, throughput against peers). Numbers
 * only: nothing here is a test, and no test asserts on timing.
 *
 * Sections (each on a fresh local network: relay + vite preview of the build):
 *  - runtime:    onnxruntime-web (a second worker in a page) vs onnxruntime-node,
 *                1 vs 1 and 2 vs 2 threads, per model, same bytes and inputs;
 *                then the options sweep (bench/runtime-options.ts: session
 *                options, WASM vs JSEP build, threads; bytes checked) and a
 *                per-op profile of both runtimes (bench/profile.ts);
 *  - jobs:       verified jobs (k=3, quorum 2) on three browser workers, cold then
 *                warm, split per stage along the critical path (bench/stats.ts);
 *  - ocr:        the OCR sample read through verified jobs vs read locally;
 *  - transfer:   peer-to-peer model transfer (a model no catalog lists): a job's
 *                provisioning from one holder, then 1 vs 3 holders interleaved;
 *  - throughput: jobs/s with 1, 2, 4, 8 browser peers, and with a Node worker;
 *  - crowd:      N visitors arriving one every 0.5 s (bench/crowd.ts): join time
 *                after page load, verified CLI jobs while they stay, links per
 *                page, then an idle window: CPU and bytes per tab; slopes vs N.
 *
 * Flags (defaults keep a run to about ten minutes on 2 cores):
 * --sections runtime,jobs,ocr,receipt,transfer,throughput,crowd  --runs 15  --jobs 6  --receipt-rounds 12
 * --option-runs 12 (per sweep cell, over 4 interleaved batches)  --no-sweep  --no-profile
 * --job-models mlp,ocr-det,ocr-rec
 * --ocr 3  --transfer-mb 24  --transfer-rounds 3  --peers 1,2,4,8  --throughput-ms 3000
 * --crowd 8,16,24  --arrival-ms 500  --crowd-jobs 6  --idle-s 50
 * --out bench/results.json  --svg bench/results.svg  --no-svg. CROSSCHECK_OUT_DIR picks the built app (default dist).
 */
import '../e2e/fixtures/polyfill.js'
import { parseArgs } from 'node:util'
import { readFile, writeFile } from 'node:fs/promises'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'
import { PNG } from 'pngjs'
import { startLocalNetwork } from '../src/cli/local-network.js'
import type { LocalNetwork } from '../src/cli/local-network.js'
import { resolveModel, OCR_DET_OUTPUT } from '../src/models/catalog.js'
import { createNodeRunner } from '../src/models/ort-node.js'
import { tensorsFromJSON, tensorsToJSON } from '../src/tensor/index.js'
import type { NamedTensors, TensorJSON } from '../src/tensor/index.js'
import { cropImage, detPostprocess, detPreprocess, recPreprocess } from '../src/ocr/index.js'
import type { RgbaImage } from '../src/ocr/index.js'
import type { ServedTiming } from '../src/core/node.js'
import { chromiumLaunchOptions } from '../e2e/fixtures/chromium.js'
import { cpuDelta, joinAll, mainThreadSeconds, pageUrl, preparePages, processCpu } from './browser.js'
import type { PeerPage } from './browser.js'
import { STAGES, breakdown, meanStages, summarize } from './stats.js'
import type { JobBreakdown, Series, TraceEntry } from './stats.js'
import { renderChart } from './chart.js'
import { crowdSection, crowdSlopes } from './crowd.js'
import type { CrowdResult } from './crowd.js'
import { goalRows, formatMarkdown, formatTable } from './report.js'
import { runtimeOptionsSweep } from './runtime-options.js'
import { profileModels } from './profile.js'
import { receiptSection } from './receipt.js'

type Json = Record<string, TensorJSON>
const MODELS = ['mlp', 'cnn', 'ocr-det', 'ocr-rec'] as const
const JOB_MODELS = ['mlp', 'ocr-det', 'ocr-rec'] as const
const JOIN_TIMEOUT = 90_000

function log (msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
}

function ints (s: string): number[] {
  return s.split(',').map(x => Number(x.trim())).filter(x => Number.isInteger(x) && x > 0)
}

async function sampleImage (): Promise<RgbaImage> {
  const png = PNG.sync.read(await readFile('public/samples/hello.png'))
  return { width: png.width, height: png.height, data: new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.byteLength) }
}

/** Inputs per model: the MLP/CNN fixed vectors, and the OCR sample's real det and rec inputs. */
export async function benchInputs (): Promise<Record<string, NamedTensors>> {
  const img = await sampleImage()
  const det = detPreprocess(img)
  const detModel = await resolveModel('ocr-det')
  const runner = await createNodeRunner(detModel.bytes)
  const out = await runner.run({ x: det.x })
  await runner.release()
  const boxes = detPostprocess(out[OCR_DET_OUTPUT] ?? Object.values(out)[0], det.scale)
  if (boxes.length === 0) throw new Error('the OCR sample gave no text box: cannot build a recognition input')
  return {
    mlp: { x: { dtype: 'float32', dims: [1, 16], data: Float32Array.from({ length: 16 }, (_, i) => Math.sin(i + 1)) } },
    cnn: { x: { dtype: 'float32', dims: [1, 1, 8, 8], data: Float32Array.from({ length: 64 }, (_, i) => Math.cos(i)) } },
    'ocr-det': { x: det.x },
    'ocr-rec': { x: recPreprocess(cropImage(img, boxes[0])) }
  }
}

async function withNetwork<T> (outDir: string, fn: (net: LocalNetwork, browser: Browser) => Promise<T>): Promise<T> {
  const net = await startLocalNetwork({ host: '127.0.0.1', relayPort: 0, webPort: 0, outDir })
  const browser = await chromium.launch(chromiumLaunchOptions())
  try {
    return await fn(net, browser)
  } finally {
    const t = performance.now()
    await browser.close().catch(() => {})
    await net.stop().catch(() => {})
    log(`network and browser stopped in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  }
}

async function openPeers (browser: Browser, net: LocalNetwork, n: number): Promise<PeerPage[]> {
  const pages = await preparePages(browser, n)
  await joinAll(pages, pageUrl(net.url, net.relay), { timeout: JOIN_TIMEOUT, strict: true })
  return pages
}

/** Waits until the relays' sample gives `requester` exactly `want` contributors (leased, not paused). */
async function waitContributors (requester: PeerPage, want: number): Promise<void> {
  const deadline = performance.now() + 60_000
  for (;;) {
    const ids = await requester.page.evaluate(async () => await window.crosscheck.contributors())
    if (ids.length === want) return
    if (performance.now() > deadline) throw new Error(`the requester sees ${ids.length} contributors, not ${want}, after 60 s`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

async function takeTraces (pages: PeerPage[]): Promise<Map<string, TraceEntry[]>> {
  const out = new Map<string, TraceEntry[]>()
  for (const p of pages) out.set(p.peerId, await p.page.evaluate(() => window.crosscheck.bench.traceTake()) as TraceEntry[])
  return out
}

/** jobId → worker peer id → that worker's served timing. */
function servedIndex (traces: Map<string, TraceEntry[]>): Map<string, Map<string, ServedTiming>> {
  const idx = new Map<string, Map<string, ServedTiming>>()
  for (const [peerId, entries] of traces) {
    for (const e of entries) {
      if (e.type !== 'job:served') continue
      const byPeer = idx.get(e.detail.jobId) ?? new Map<string, ServedTiming>()
      byPeer.set(peerId, e.detail.timing)
      idx.set(e.detail.jobId, byPeer)
    }
  }
  return idx
}

// ---- sections ----------------------------------------------------------------

interface RuntimeSectionInit { runs: number, optionRuns: number, sweep: boolean, profile: boolean }

/**
 * Batches of onnxruntime-web and onnxruntime-node runs, interleaved so that both see the same machine load;
 * then the options sweep and the per-op profile (kept under `options` and `profile`).
 */
async function runtimeSection (requester: PeerPage, inputs: Record<string, Json>, init: RuntimeSectionInit): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  const runs = init.runs
  const batches = Math.min(runs, 5)
  for (const id of MODELS) {
    const model = await resolveModel(id)
    const feeds = tensorsFromJSON(inputs[id])
    const row: Record<string, unknown> = {}
    for (const threads of [1, 2]) {
      const runner = await createNodeRunner(model.bytes, { threads })
      await runner.run(feeds)
      const web = { ms: [] as number[], wall: [] as number[], threads: 0, numericClass: '' }
      const node: number[] = []
      for (let b = 0; b < batches; b++) {
        const n = Math.floor(runs / batches) + (b < runs % batches ? 1 : 0)
        const w = await requester.page.evaluate(async ([t, id, json, n]) => await window.crosscheck.bench.runtime(t, id, json, n), [threads, id, inputs[id], n] as const)
        web.ms.push(...w.ms)
        web.wall.push(...w.wall)
        web.threads = w.threads
        web.numericClass = w.numericClass
        for (let i = 0; i < n; i++) {
          const t0 = performance.now()
          await runner.run(feeds)
          node.push(performance.now() - t0)
        }
      }
      await runner.release()
      const w = summarize(web.ms)
      const n = summarize(node)
      row[`t${threads}`] = { web: w, webWall: summarize(web.wall), webThreads: web.threads, webNumericClass: web.numericClass, node: n, ratio: w.median / n.median }
      log(`runtime ${id} ${threads}t: wasm ${w.median.toFixed(2)} ms (${web.threads}t), node ${n.median.toFixed(2)} ms → ${(w.median / n.median).toFixed(2)}×`)
    }
    out[id] = row
  }
  await requester.page.evaluate(async () => { await window.crosscheck.bench.runtimeClose() })
  if (init.sweep) {
    const t = performance.now()
    // session creation, not runs, is most of the sweep's time (18 OCR sessions a model), so the OCR models keep their runs
    const runsFor = (): number => init.optionRuns
    out.options = await runtimeOptionsSweep(requester.page, inputs, { models: MODELS, runsFor, threads: [1, 2], log })
    log(`options sweep: ${((performance.now() - t) / 1000).toFixed(0)} s`)
  }
  if (init.profile) {
    const t = performance.now()
    try {
      out.profile = await profileModels(['cnn', 'ocr-det', 'ocr-rec'], inputs, { runs: 5, threads: 1 })
    } catch (err) {
      log(`profile failed: ${(err as Error).message}`)
    }
    log(`profile: ${((performance.now() - t) / 1000).toFixed(0)} s`)
  }
  return out
}

interface JobsResult {
  perModel: Record<string, { cold?: JobBreakdown & { provisioningSource: string[] }, warm: JobBreakdown[], total: Series, overhead: Series, slowestCompute: Series, meanStages: Record<string, number> }>
  crypto: Record<string, { sign: Series, verify: Series, encode: Series, decode: Series }>
}

async function jobsSection (pages: PeerPage[], inputs: Record<string, Json>, jobs: number, models: readonly string[]): Promise<JobsResult> {
  const requester = pages[0]
  const crypto: JobsResult['crypto'] = {}
  for (const id of models) {
    const c = await requester.page.evaluate(async ([id, json]) => await window.crosscheck.bench.crypto(id, json, 20), [id, inputs[id]] as const)
    crypto[id] = { sign: summarize(c.sign), verify: summarize(c.verify), encode: summarize(c.encode), decode: summarize(c.decode) }
  }
  for (const p of pages) await p.page.evaluate(() => { window.crosscheck.bench.traceStart() })
  const runs: Record<string, Array<{ jobId: string, timing: any, cold: boolean }>> = {}
  for (const id of models) {
    runs[id] = []
    for (let i = 0; i <= jobs; i++) {
      const r = await requester.page.evaluate(async ([id, json]) => await window.crosscheck.bench.run(id, json, { replicas: 3, quorum: 2 }), [id, inputs[id]] as const)
      runs[id].push({ jobId: r.jobId, timing: r.timing, cold: i === 0 })
    }
    log(`jobs ${id}: ${jobs} warm + 1 cold done`)
  }
  const traces = await takeTraces(pages)
  const served = servedIndex(traces)
  const reqTrace = traces.get(requester.peerId) ?? []
  const perModel: JobsResult['perModel'] = {}
  for (const id of models) {
    const all = runs[id].map(r => breakdown({ jobId: r.jobId, timing: r.timing, requesterTrace: reqTrace, served: served.get(r.jobId) ?? new Map(), verifyMs: crypto[id].verify.median }))
    const warm = all.slice(1)
    const cold = all[0]
    // where the cold job's workers took the model from (site over HTTP, or a peer)
    const sources = [...traces.entries()].filter(([peer]) => peer !== requester.peerId).flatMap(([, entries]) => entries.filter(e => e.type === 'model:progress' && e.t <= runs[id][0].timing.finished && e.t >= runs[id][0].timing.started).map(e => String(e.detail.source)))
    perModel[id] = {
      cold: { ...cold, provisioningSource: [...new Set(sources)] },
      warm,
      total: summarize(warm.map(j => j.totalMs)),
      overhead: summarize(warm.map(j => j.overheadMs)),
      slowestCompute: summarize(warm.map(j => j.slowestComputeMs)),
      meanStages: meanStages(warm) as Record<string, number>
    }
    log(`jobs ${id}: total ${perModel[id].total.median.toFixed(1)} ms, overhead ${perModel[id].overhead.median.toFixed(1)} ms (median of ${warm.length})`)
  }
  return { perModel, crypto }
}

async function ocrSection (requester: PeerPage, reads: number): Promise<Record<string, unknown>> {
  // one warm-up of each (models loaded, keys fetched)
  await requester.page.evaluate(async () => await window.crosscheck.bench.ocrLocal(1))
  await requester.page.evaluate(async () => await window.crosscheck.bench.ocrVerified({ replicas: 3, quorum: 2 }))
  const local: number[] = []
  const verified: number[] = []
  let text = ''
  let jobsPerRead = 0
  // interleaved, so that both see the same machine load
  for (let i = 0; i < reads; i++) {
    const l = await requester.page.evaluate(async () => await window.crosscheck.bench.ocrLocal(1))
    local.push(l.wall[0])
    const v = await requester.page.evaluate(async () => await window.crosscheck.bench.ocrVerified({ replicas: 3, quorum: 2 }))
    verified.push(v.wall)
    text = v.text
    jobsPerRead = v.jobs.length
  }
  const l = summarize(local)
  const v = summarize(verified)
  log(`ocr: verified ${v.median.toFixed(0)} ms vs local ${l.median.toFixed(0)} ms (${jobsPerRead} jobs per read, text ${JSON.stringify(text)})`)
  return { local: l, verified: v, budget: 1.5 * l.median + 100, text, jobsPerRead }
}

/** One way of fetching: chunk size and whether a stream carries request after request. */
interface TransferVariant { label: string, chunkBytes: number, reuseStreams: boolean }
const TRANSFER_VARIANTS: TransferVariant[] = [
  { label: '1 MiB chunks, streams reused', chunkBytes: 1024 * 1024, reuseStreams: true },
  { label: '256 KiB chunks, streams reused', chunkBytes: 256 * 1024, reuseStreams: true },
  { label: '1 MiB chunks, one stream per request', chunkBytes: 1024 * 1024, reuseStreams: false }
]

/**
 * Peer-to-peer model transfer. First a job on a padded model only the
 * requester holds (a worker provisions it from that one holder: the figure
 * that includes hash, store and load). Then, once three pages hold it, the
 * fourth fetches it from one holder and from all three, interleaved round by
 * round (the one holder rotates), for each transfer variant: MB/s each and
 * the 3-holder/1-holder ratio of the medians.
 */
async function transferSection (pages: PeerPage[], inputs: Record<string, Json>, mb: number, rounds: number): Promise<Record<string, unknown>> {
  const requester = pages[0]
  const rec = await resolveModel('ocr-rec')
  const pad = Math.max(0, Math.round(mb * 1024 * 1024) - rec.bytes.byteLength)
  for (const p of pages) await p.page.evaluate(() => { window.crosscheck.bench.traceStart() })
  const r = await requester.page.evaluate(async ([pad, json]) => await window.crosscheck.bench.runPadded('ocr-rec', pad, json, { replicas: 1, quorum: 1 }), [pad, inputs['ocr-rec']] as const)
  const traces = await takeTraces(pages)
  const worker = r.agreeing[0]
  const entries = traces.get(worker) ?? []
  const progress = entries.filter(e => e.type === 'model:progress' && e.detail.sha256 === r.modelHash && e.detail.source === 'peer')
  if (progress.length === 0) return { error: 'the worker left no transfer trace', size: r.size }
  // the worker provisions in the job's prepare phase, before its served timing starts: count from the job's start
  const wireMs = progress[progress.length - 1].t - r.wall.start
  const jobMs = r.wall.end - r.wall.start
  const provisioned = { wireMs, mbPerSecond: r.size / 1e6 / (wireMs / 1000), chunks: progress.length, jobMs }
  log(`transfer (job, 1 holder): ${(r.size / 1024 / 1024).toFixed(1)} MiB from the job's start to the last chunk in ${wireMs.toFixed(0)} ms → ${provisioned.mbPerSecond.toFixed(1)} MB/s; whole job (fetch, hash, store, load, run) ${jobMs.toFixed(0)} ms`)

  // three holders: the requester, the worker that ran the job, and one more page that fetches and keeps it
  const others = pages.slice(1).filter(p => p.peerId !== worker)
  if (others.length < 2) return { size: r.size, provisioned, error: 'needs four pages for the three-holder figures' }
  const [third, fetcher] = others
  await third.page.evaluate(async ([peers, sha]) => await window.crosscheck.bench.fetchFrom([...peers], sha, { keep: true }), [[requester.peerId, worker], r.modelHash] as const)
  const holders = [requester.peerId, worker, third.peerId]
  // Chromium's CPU (every process) during each fetch: whether the machine, not the holders, sets the pace
  const sys = await fetcher.ctx.browser()?.newBrowserCDPSession()
  const cores: Record<string, number[]> = {}
  const mainThread: Record<string, number[]> = {}
  const fetch = async (peers: string[], v: TransferVariant): Promise<number> => {
    const cpu0 = sys != null ? await processCpu(sys) : {}
    const busy0 = await mainThreadSeconds(fetcher)
    const f = await fetcher.page.evaluate(async ([peers, sha, o]) => await window.crosscheck.bench.fetchFrom([...peers], sha, o), [peers, r.modelHash, { chunkBytes: v.chunkBytes, reuseStreams: v.reuseStreams }] as const)
    if (sys != null) {
      const used = Object.values(cpuDelta(cpu0, await processCpu(sys))).reduce((a, b) => a + b, 0)
      ;(cores[`${v.label} × ${peers.length}`] ??= []).push(used / (f.ms / 1000))
    }
    // the fetching page's main thread, where every chunk's bytes are received and copied
    ;(mainThread[`${v.label} × ${peers.length}`] ??= []).push((await mainThreadSeconds(fetcher) - busy0) / (f.ms / 1000))
    return f.size / 1e6 / (f.ms / 1000)
  }
  // warm-up: links made, every holder's manifest computed
  for (const h of holders) await fetch([h], TRANSFER_VARIANTS[0])
  const variants: Array<Record<string, unknown>> = []
  const series = TRANSFER_VARIANTS.map(() => ({ one: [] as number[], three: [] as number[] }))
  for (let i = 0; i < rounds; i++) {
    for (const [k, v] of TRANSFER_VARIANTS.entries()) {
      series[k].one.push(await fetch([holders[i % holders.length]], v))
      series[k].three.push(await fetch(holders, v))
    }
  }
  for (const [k, v] of TRANSFER_VARIANTS.entries()) {
    const one = summarize(series[k].one)
    const three = summarize(series[k].three)
    const cpu1 = summarize(cores[`${v.label} × 1`] ?? [NaN]).median
    const cpu3 = summarize(cores[`${v.label} × 3`] ?? [NaN]).median
    const main1 = summarize(mainThread[`${v.label} × 1`] ?? [NaN]).median
    const main3 = summarize(mainThread[`${v.label} × 3`] ?? [NaN]).median
    variants.push({ ...v, oneHolder: one, threeHolders: three, ratio: three.median / one.median, chromiumCores: { oneHolder: cpu1, threeHolders: cpu3 }, fetcherMainThread: { oneHolder: main1, threeHolders: main3 } })
    log(`transfer ${v.label}: 1 holder ${one.median.toFixed(1)} MB/s (Chromium ${cpu1.toFixed(2)} cores, fetcher main thread ${(100 * main1).toFixed(0)}% busy), 3 holders ${three.median.toFixed(1)} MB/s (${cpu3.toFixed(2)} cores, ${(100 * main3).toFixed(0)}%) → ${(three.median / one.median).toFixed(2)}× (median of ${rounds}, ${cpus().length} cores here)`)
  }
  const best = variants[0] as { oneHolder: Series, threeHolders: Series, ratio: number }
  return {
    size: r.size,
    source: 'peer',
    provisioned,
    // the default variant (1 MiB chunks, streams reused): what provisioning uses
    mbPerSecond: best.oneHolder.median,
    threeHolderMbPerSecond: best.threeHolders.median,
    ratio: best.ratio,
    chromiumCores: (best as { chromiumCores?: unknown }).chromiumCores,
    fetcherMainThread: (best as { fetcherMainThread?: unknown }).fetcherMainThread,
    cores: cpus().length,
    rounds,
    variants
  }
}

interface ThroughputPoint { peers: number, browsers: number, nodeWorkers: number, round: number, paced?: number, jobs: number, errors: number, seconds: number, jobsPerSecond: number, latency: Series, requesterMainThread: number, workerMainThread: number, rendererCores: number }

/** Rounds of the Node-worker windows (1, 2, 4 workers each round, interleaved). */
const THROUGHPUT_ROUNDS = 3
const NODE_WORKER_COUNTS = [1, 2, 4]
/** The rate the issue asks a requester page to sustain against 4 Node workers (k=1): its main thread is read at it. */
const PACED_JOBS_PER_SECOND = 150

async function throughputSection (browser: Browser, net: LocalNetwork, pages: PeerPage[], inputs: Record<string, Json>, peerCounts: number[], ms: number): Promise<ThroughputPoint[]> {
  const requester = pages[0]
  const maxPeers = Math.max(...peerCounts)
  const more = maxPeers - (pages.length - 1)
  if (more > 0) {
    log(`throughput: opening ${more} more pages`)
    pages.push(...await openPeers(browser, net, more))
  }
  const workers = pages.slice(1)
  const sys = await browser.newBrowserCDPSession()
  const points: ThroughputPoint[] = []
  const nodeWorkers: Array<{ child: ChildProcess, peerId: string }> = []
  const warmed = new Set<string>()

  // `nodes` of the running Node workers take jobs (the others are excluded from selection)
  const measure = async (browsers: number, nodes: number, round: number, ratePerSecond?: number): Promise<void> => {
    for (const [i, w] of workers.entries()) await w.page.evaluate((on) => { if (on) window.crosscheck.resume(); else window.crosscheck.pause() }, i < browsers)
    const peers = browsers + nodes
    await waitContributors(requester, browsers + nodeWorkers.length)
    const concurrency = Math.max(2, 2 * peers)
    const opts = { replicas: 1, quorum: 1, exclude: nodeWorkers.slice(nodes).map(w => w.peerId) }
    // warm-up, once per setting: models fetched and loaded where missing, links made
    const key = `${browsers}/${nodes}`
    if (!warmed.has(key)) {
      warmed.add(key)
      await requester.page.evaluate(async ([json, o, c]) => await window.crosscheck.bench.throughput('mlp', json, o, { concurrency: c, durationMs: 1500 }), [inputs.mlp, opts, concurrency] as const)
    }
    const active = [requester, ...workers.slice(0, browsers)]
    const busy0 = await Promise.all(active.map(mainThreadSeconds))
    const cpu0 = await processCpu(sys)
    const r = await requester.page.evaluate(async ([json, o, c, d, rate]) => await window.crosscheck.bench.throughput('mlp', json, o, { concurrency: c, durationMs: d, ...(rate != null ? { ratePerSecond: rate } : {}) }), [inputs.mlp, opts, concurrency, ms, ratePerSecond] as const)
    const cpu = cpuDelta(cpu0, await processCpu(sys))
    const busy = (await Promise.all(active.map(mainThreadSeconds))).map((b, i) => b - busy0[i])
    // no job done: the whole window counts (0 jobs/s), not a zero-length one
    const seconds = r.done > 0 ? r.ms / 1000 : ms / 1000
    const point: ThroughputPoint = {
      peers,
      browsers,
      nodeWorkers: nodes,
      round,
      ...(ratePerSecond != null ? { paced: ratePerSecond } : {}),
      jobs: r.done,
      errors: r.errors.length,
      seconds,
      jobsPerSecond: r.done / seconds,
      latency: summarize(r.latencies),
      requesterMainThread: busy[0] / seconds,
      workerMainThread: busy.length > 1 ? busy.slice(1).reduce((a, b) => a + b, 0) / (busy.length - 1) / seconds : NaN,
      rendererCores: (cpu.renderer ?? 0) / seconds
    }
    points.push(point)
    log(`throughput ${browsers} browser${browsers === 1 ? '' : 's'} + ${nodes} node${ratePerSecond != null ? `, paced at ${ratePerSecond} jobs/s` : ''} (round ${round + 1}): ${point.jobsPerSecond.toFixed(1)} jobs/s (c=${concurrency}, ${r.errors.length} errors), requester main thread ${(100 * point.requesterMainThread).toFixed(0)}% busy, renderers ${point.rendererCores.toFixed(2)} cores`)
    if (r.errors.length > 0) log(`  first error: ${r.errors[0]}`)
  }

  try {
    await requester.page.evaluate(async () => { await window.crosscheck.configureRequester({ canaryRate: 0 }) })
    for (const n of peerCounts) await measure(n, 0, 0)
    // Node workers (onnxruntime-node): all started, the windows interleaved over rounds
    for (let i = 0; i < Math.max(...NODE_WORKER_COUNTS); i++) nodeWorkers.push(await startNodeWorker(net.relay))
    // the same requester at the acceptance rate: what its main thread needs for PACED_JOBS_PER_SECOND, interleaved with the open-loop windows
    for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
      for (const n of NODE_WORKER_COUNTS) await measure(0, n, round)
      await measure(0, Math.max(...NODE_WORKER_COUNTS), round, PACED_JOBS_PER_SECOND)
    }
  } finally {
    for (const w of nodeWorkers) w.child.kill('SIGTERM')
    for (const w of workers) await w.page.evaluate(() => { window.crosscheck.resume() }).catch(() => {})
  }
  return points
}

/** `crosscheck worker` (onnxruntime-node) as a child process; resolves once it has joined. */
async function startNodeWorker (relay: string): Promise<{ child: ChildProcess, peerId: string }> {
  const child = spawn(process.execPath, ['bin/crosscheck.js', 'worker', '--relay', relay], { stdio: ['ignore', 'pipe', 'pipe'] })
  const peerId = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('node worker did not start in 60 s')) }, 60_000)
    // its first line: `worker <peer id> (runtime, backend, threads, class)`
    child.stdout?.on('data', (b: Buffer) => { const m = /worker (\S+)/.exec(b.toString()); if (m != null) { clearTimeout(timer); resolve(m[1]) } })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`node worker exited (${String(code)})`)) })
  })
  child.removeAllListeners('exit')
  return { child, peerId }
}

// ---- main ----------------------------------------------------------------------

export async function runBench (args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      out: { type: 'string', default: 'bench/results.json' },
      svg: { type: 'string', default: 'bench/results.svg' },
      'no-svg': { type: 'boolean', default: false },
      sections: { type: 'string', default: 'runtime,jobs,ocr,receipt,transfer,throughput,crowd' },
      'receipt-rounds': { type: 'string', default: '12' },
      runs: { type: 'string', default: '15' },
      'option-runs': { type: 'string', default: '12' },
      'no-sweep': { type: 'boolean', default: false },
      'no-profile': { type: 'boolean', default: false },
      jobs: { type: 'string', default: '6' },
      'job-models': { type: 'string', default: JOB_MODELS.join(',') },
      ocr: { type: 'string', default: '3' },
      'transfer-mb': { type: 'string', default: '24' },
      'transfer-rounds': { type: 'string', default: '3' },
      peers: { type: 'string', default: '1,2,4,8' },
      'throughput-ms': { type: 'string', default: '3000' },
      crowd: { type: 'string', default: '8,16,24' },
      'arrival-ms': { type: 'string', default: '500' },
      'crowd-jobs': { type: 'string', default: '6' },
      'idle-s': { type: 'string', default: '50' }
    }
  })
  const sections = new Set(values.sections.split(',').map(s => s.trim()))
  const outDir = process.env.CROSSCHECK_OUT_DIR ?? 'dist'
  const started = performance.now()
  const results: Record<string, any> = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadavgAtStart: loadavg() },
    options: values
  }
  const native = await benchInputs()
  const inputs: Record<string, Json> = Object.fromEntries(Object.entries(native).map(([k, v]) => [k, tensorsToJSON(v) as Json]))

  if (['runtime', 'jobs', 'ocr', 'transfer', 'throughput'].some(s => sections.has(s))) {
    await withNetwork(outDir, async (net, browser) => {
      results.machine.chromium = browser.version()
      log('opening a requester and three workers')
      const pages = await openPeers(browser, net, 4)
      const requester = pages[0]
      await waitContributors(requester, 3)
      await requester.page.evaluate(async () => { await window.crosscheck.configureRequester({ canaryRate: 0 }) })
      results.browserRuntime = await requester.page.evaluate(() => window.crosscheck.stats()?.runtime)
      if (sections.has('runtime')) results.runtime = await runtimeSection(requester, inputs, { runs: Number(values.runs), optionRuns: Number(values['option-runs']), sweep: !values['no-sweep'], profile: !values['no-profile'] })
      if (sections.has('jobs')) results.jobs = await jobsSection(pages, inputs, Number(values.jobs), values['job-models'].split(',').map(m => m.trim()).filter(m => (JOB_MODELS as readonly string[]).includes(m)))
      if (sections.has('ocr')) results.ocr = await ocrSection(requester, Number(values.ocr))
      if (sections.has('transfer')) results.transfer = await transferSection(pages, inputs, Number(values['transfer-mb']), Number(values['transfer-rounds']))
      if (sections.has('throughput')) results.throughput = await throughputSection(browser, net, pages, inputs, ints(values.peers), Number(values['throughput-ms']))
    })
  }
  if (sections.has('receipt')) results.receipt = await receiptSection(native, Number(values['receipt-rounds']), log)
  if (sections.has('crowd')) {
    const crowds: CrowdResult[] = []
    for (const n of ints(values.crowd)) {
      crowds.push(await withNetwork(outDir, async (net, browser) => await crowdSection(browser, net, n, {
        arrivalMs: Number(values['arrival-ms']),
        jobs: Number(values['crowd-jobs']),
        idleSeconds: Number(values['idle-s']),
        joinTimeoutMs: 60_000,
        log
      })))
    }
    results.crowd = { crowds, slopes: crowdSlopes(crowds) }
  }
  results.machine.loadavgAtEnd = loadavg()
  results.seconds = (performance.now() - started) / 1000
  results.goals = goalRows(results)
  results.stages = STAGES

  process.stdout.write(formatTable(results))
  await writeFile(values.out, JSON.stringify(results, null, 2) + '\n')
  const md = values.out.replace(/\.json$/, '') + '.md'
  await writeFile(md, formatMarkdown(results))
  process.stdout.write(`\nresults written to ${values.out}, ${md}`)
  if (!values['no-svg'] && results.jobs != null) {
    const svg = renderChart({
      title: `Crosscheck bench, ${results.machine.cpus} cores (${results.machine.model ?? 'cpu'}), ${results.date.slice(0, 10)}`,
      latency: JOB_MODELS.filter(id => results.jobs.perModel[id] != null).map(id => ({ label: id, stages: results.jobs.perModel[id].meanStages })),
      throughput: (results.throughput ?? []).filter((p: ThroughputPoint) => p.round === 0 && p.paced == null).map((p: ThroughputPoint) => ({ peers: p.peers, jobsPerSecond: p.jobsPerSecond, node: p.nodeWorkers > 0, label: p.nodeWorkers > 0 ? `${p.nodeWorkers} Node` : undefined }))
    })
    await writeFile(values.svg, svg)
    process.stdout.write(` and ${values.svg}`)
  }
  process.stdout.write('\n')
  return 0
}
