/**
 * The contributor page: a thin shell around the core (`createNode`). Nothing
 * joins until the person presses Start (`?autostart=1` presses it for them);
 * `?relay=<multiaddr>[,<multiaddr>…]` picks relays (default: the one
 * `npm start` serves in /relay.json); `?backend=wasm|webgpu|auto`;
 * `?pauseOnPressure=0` / `?pauseWhenHidden=0` turn those automatic pauses off.
 * `window.crosscheck` exposes typed hooks for end-to-end tests.
 */
import './styles.css'
import { createNode, serializeReceiptOutputs } from '../index.js'
import type { ReceiptOutputs } from '../index.js'
import { receiptLink } from './receipt-link.js'
import type { CrosscheckNode, NodeStats } from '../index.js'
import type { ModelEntry, ModelManifest } from '../models/manifest.js'
import { tensorsFromJSON, tensorsToJSON } from '../tensor/index.js'
import type { NamedTensors } from '../tensor/index.js'
import { readText, parseKeys } from '../ocr/index.js'
import type { RgbaImage } from '../ocr/index.js'
import type { AdaptiveOptions } from '../jobs/requester.js'
import type { RequesterInit } from '../jobs/trust.js'
import type { RunResult } from '../core/node.js'
import { watchAll } from './signals.js'
import { CHARTS, drawChart } from './charts.js'
import { benchHooks } from './bench-hooks.js'

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T

const params = new URLSearchParams(location.search)
let node: CrosscheckNode | undefined
let manifest: ModelManifest | undefined
let unwatch: (() => void) | undefined

async function resolveRelays (): Promise<string[]> {
  const fromQuery = params.get('relay')
  if (fromQuery != null && fromQuery !== '') return fromQuery.split(',')
  const res = await fetch('relay.json', { cache: 'no-store' })
  if (!res.ok) throw new Error('no relay configured: open this page with ?relay=<multiaddr> or through `npm start`')
  const body = await res.json() as { relay?: unknown, relays?: unknown }
  const list = Array.isArray(body.relays) ? body.relays : [body.relay]
  const relays = list.filter((r): r is string => typeof r === 'string' && r !== '')
  if (relays.length === 0) throw new Error('relay.json names no relay')
  return relays
}

function short (id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
}

function fmtBytes (n: number): string {
  return n > 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} kB`
}

/** The one-word state shown to the person: only what is true end to end. */
function stateOf (s: NodeStats): { word: string, detail: string } {
  if (s.state === 'locked') return { word: 'locked', detail: 'This identity is in use in another tab.' }
  if (s.state !== 'running') return { word: s.state, detail: '' }
  if (!s.reachable) {
    const up = s.relays.filter(r => r.connected).length
    return { word: 'unreachable', detail: up > 0 ? 'Connected to a relay, but it holds no reservation for this peer yet: other peers cannot reach it.' : 'No relay connection: reconnecting. Direct links that are already open keep working.' }
  }
  if (s.paused.length > 0) return { word: 'paused', detail: `Paused: ${s.paused.map(r => ({ user: 'by you', hidden: 'this tab is hidden', battery: 'on battery', pressure: 'the computer is under heavy load' }[r])).join(', ')}. Peers are told; no jobs come.` }
  if (s.contributing) return { word: 'contributing', detail: s.linked > 0 ? `Linked directly to ${s.linked} peer${s.linked === 1 ? '' : 's'}; taking jobs.` : 'Reachable and taking jobs; no direct link to another peer yet.' }
  return { word: 'requesting only', detail: '' }
}

function render (s: NodeStats): void {
  const { word, detail } = stateOf(s)
  $('state').textContent = word
  $('state').dataset.state = word
  $('state-detail').textContent = detail
  $('peer-id').textContent = s.peerId || '–'
  $('relays').replaceChildren(...s.relays.map(r => {
    const li = document.createElement('li')
    li.textContent = `${r.connected ? 'connected' : 'not connected'} — ${r.addr}`
    return li
  }))
  $('reachable').textContent = s.reachable ? 'yes (relay reservation held)' : 'no'
  const c = s.runtime
  $('backend').textContent = c == null
    ? '–'
    : `${c.backend === 'webgpu' ? 'WebGPU' : 'WASM'}, ${c.threads} thread${c.threads === 1 ? '' : 's'}${c.crossOriginIsolated === false ? ' (page not cross-origin isolated)' : ''}${c.note != null ? ` — ${c.note}` : ''} · ${c.numericClass}`
  $('jobs-done').textContent = String(s.jobsDone)
  $('last-job').textContent = s.lastJobAt != null ? `(last at ${new Date(s.lastJobAt).toLocaleTimeString()})` : ''
  $('pause').textContent = s.paused.includes('user') ? 'Resume' : 'Pause'
  $<HTMLInputElement>('cpu-share').value = String(Math.round(s.cpuShare * 100))
  $('cpu-share-label').textContent = `${Math.round(s.cpuShare * 100)}%`
  const flagged = new Set((node?.reputation() ?? []).filter(r => r.flagged).map(r => r.peerId))
  $('peers').replaceChildren(...s.peers.map(p => {
    const li = document.createElement('li')
    li.dataset.peerId = p.peerId
    li.dataset.direct = String(p.direct)
    li.dataset.flagged = String(flagged.has(p.peerId))
    const a = p.announcement
    li.textContent = `${short(p.peerId)} — ${p.direct ? 'direct WebRTC' : p.relayed ? 'via relay' : 'seen'}${a != null ? ` · ${a.backend} · ${a.jobsDone} job${a.jobsDone === 1 ? '' : 's'}${a.paused === true ? ' · paused' : ''}` : ''}${flagged.has(p.peerId) ? ' · FLAGGED (not selected)' : ''}`
    return li
  }))
  $('peer-count').textContent = String(s.linked)
  const names = new Map((manifest?.models ?? []).map(m => [m.sha256, m.name]))
  $('models').replaceChildren(...s.models.map(m => {
    const li = document.createElement('li')
    li.dataset.sha256 = m.sha256
    li.textContent = `${names.get(m.sha256) ?? m.name ?? 'model'} — ${fmtBytes(m.size)} — sha256 ${m.sha256.slice(0, 16)}…`
    return li
  }))
}

function renderCharts (): void {
  if (node == null) return
  const series = node.metrics({ bucketMs: 10_000, buckets: 30 })
  CHARTS.forEach((spec, i) => { drawChart($(`chart-${i}`), series, spec) })
}

/** A progress bar per transfer (model downloads and uploads), removed when done. */
function showTransfer (key: string, label: string, loaded: number, total: number): void {
  const host = $('transfers')
  let row = host.querySelector<HTMLDivElement>(`[data-key="${CSS.escape(key)}"]`)
  if (row == null) {
    row = document.createElement('div')
    row.className = 'transfer'
    row.dataset.key = key
    row.append(document.createElement('label'), document.createElement('progress'))
    host.append(row)
  }
  const [l, bar] = row.children as unknown as [HTMLLabelElement, HTMLProgressElement]
  l.textContent = `${label}: ${fmtBytes(loaded)} of ${fmtBytes(total)}`
  bar.max = 1
  bar.value = total > 0 ? loaded / total : 0
  if (total > 0 && loaded >= total) setTimeout(() => { row?.remove() }, 1500)
}

/** What this page, as a requester, has learnt: flagged peers, backends judged wrong, answers retracted. */
async function renderTrust (): Promise<void> {
  if (node == null) return
  const flagged = node.reputation().filter(r => r.flagged)
  const backends = node.backendVerdicts()
  const retracted = (await node.listJobs()).filter(j => j.status === 'retracted').length
  const names = new Map((manifest?.models ?? []).map(m => [m.sha256, m.name]))
  const parts = [
    flagged.length === 0 ? 'No peer flagged' : `${flagged.length} peer${flagged.length === 1 ? '' : 's'} flagged and no longer asked (${flagged.slice(0, 3).map(r => `${short(r.peerId)}: ${r.flaggedReason ?? 'flagged'}`).join('; ')}${flagged.length > 3 ? '; …' : ''})`,
    backends.length === 0 ? 'no backend judged wrong' : `judged wrong by canaries: ${backends.map(b => `${b.backend} on ${names.get(b.modelHash) ?? b.modelHash.slice(0, 10) + '…'} (${b.failed.length} peers failed)`).join(', ')}`,
    retracted === 0 ? 'no answer retracted' : `${retracted} accepted answer${retracted === 1 ? '' : 's'} retracted after re-verification`
  ]
  $('trust').textContent = `${parts.join(', ')}.`
}

/** Outputs past this size stay out of a receipt link (the page then asks for the outputs file). */
const LINK_OUTPUTS_MAX_CHARS = 512 * 1024

/**
 * The receipt page's link for a stored receipt; with its outputs only where
 * a vote agreed with other bytes (re-checking that needs them) and they fit.
 */
function linkFor (r: { jobId: string, text: string, outputs?: ReceiptOutputs }): string {
  let needsOutputs = false
  try {
    const parsed = JSON.parse(r.text) as { accepted: { outputHash: string }, votes: Array<{ agrees: boolean, body: { outputHash: string } }> }
    needsOutputs = parsed.votes.some(v => v.agrees && v.body.outputHash !== parsed.accepted.outputHash)
  } catch {}
  const outputs = needsOutputs && r.outputs !== undefined ? serializeReceiptOutputs(r.jobId, r.outputs) : undefined
  return receiptLink(r.text, outputs !== undefined && outputs.length <= LINK_OUTPUTS_MAX_CHARS ? outputs : undefined)
}

async function renderHistory (): Promise<void> {
  if (node == null) return
  const [jobs, receipts] = await Promise.all([node.listJobs({ limit: 20 }), node.listReceipts({ limit: 20 })])
  const byJob = new Map(receipts.map(r => [r.jobId, r]))
  $('history').replaceChildren(...jobs.map(j => {
    const li = document.createElement('li')
    li.textContent = `${new Date(j.finishedAt ?? j.startedAt).toLocaleTimeString()} ${j.role} ${j.status} ${j.jobId.slice(0, 10)}… ${Math.round(j.ms ?? 0)} ms`
    const receipt = byJob.get(j.jobId)
    if (receipt != null) {
      const a = document.createElement('a')
      a.href = linkFor(receipt)
      a.target = '_blank'
      a.rel = 'noopener'
      a.textContent = 'receipt'
      li.append(' ', a)
    }
    return li
  }))
}

let chartTimer: ReturnType<typeof setInterval> | undefined

/**
 * Runs `fn` at most once per `ms`, a burst of calls coalescing into one run
 * at the end of the window: a page serving or requesting many jobs a second
 * redraws its charts and re-reads its history a few times a second, not once
 * per job (which cost the requester's main thread more than the jobs did).
 */
function coalesce (fn: () => unknown, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  return () => {
    timer ??= setTimeout(() => { timer = undefined; void fn() }, ms)
  }
}
const UI_REFRESH_MS = 250
const chartsSoon = coalesce(renderCharts, UI_REFRESH_MS)
const historySoon = coalesce(renderHistory, UI_REFRESH_MS)

/** The page's node and its listeners (made once; Start after Stop or a takeover reuses it). */
function makeNode (relays: string[]): CrosscheckNode {
  const n = createNode({
    relays,
    surface: 'page',
    preferredBackend: (params.get('backend') as 'auto' | 'webgpu' | 'wasm' | null) ?? 'auto',
    contribute: { startPaused: true, pauseOnPressure: params.get('pauseOnPressure') !== '0', pauseWhenHidden: params.get('pauseWhenHidden') !== '0' },
    // ?maxLinks=N lowers the direct-link bound (default 16), e.g. to watch the pool cycle links in a small crowd
    ...(Number(params.get('maxLinks')) >= 1 ? { network: { links: { maxLinks: Number(params.get('maxLinks')) } } } : {})
  })
  n.addEventListener('node:state', (evt) => { render(evt.detail) })
  n.addEventListener('job:served', () => { historySoon(); chartsSoon() })
  n.addEventListener('job:accepted', () => { chartsSoon() })
  n.addEventListener('job:interrupted', () => { historySoon() })
  // an accepted answer found wrong later: the history must not keep calling it accepted
  n.addEventListener('job:retracted', () => { void renderHistory(); void renderTrust() })
  n.addEventListener('receipt:retracted', () => { void renderHistory(); void renderTrust() })
  n.addEventListener('trust:flagged', () => { void renderTrust() })
  n.addEventListener('trust:backend', () => { void renderTrust() })
  n.addEventListener('model:progress', (evt) => {
    const { loaded, total, sha256, source } = evt.detail
    showTransfer(`in:${sha256}`, `Fetching model ${sha256.slice(0, 10)}… from ${source === 'peer' ? 'a peer' : 'the site'}`, loaded, total)
  })
  n.addEventListener('model:upload', (evt) => {
    const { peerId, sha256, sent, total } = evt.detail
    showTransfer(`out:${peerId}:${sha256}`, `Sending model ${sha256.slice(0, 10)}… to ${short(peerId)}`, sent, total)
  })
  n.addEventListener('identity:lost', () => {
    unwatch?.()
    unwatch = undefined
    showLocked('Another tab took this identity over: this tab stopped contributing.')
  })
  return n
}

async function start (options: { takeOver?: boolean } = {}): Promise<void> {
  $<HTMLButtonElement>('start').disabled = true
  $('start-error').hidden = true
  $('locked').hidden = true
  try {
    const relays = await resolveRelays()
    node ??= makeNode(relays)
    const n = node
    $('status').hidden = false
    await n.start(options)
    // the click (or ?autostart=1) is the person's choice to contribute
    n.resume()
    unwatch = watchAll(n.controls, { document, navigator })
    manifest = await n.getManifest()
    setupRequestPanel(manifest)
    $('request').hidden = false
    $('intro').hidden = true
    render(n.stats())
    renderCharts()
    chartTimer ??= setInterval(renderCharts, 5000)
    void renderHistory()
    // trust changes only on its own events (below): not re-read, with the whole job history, on every job
    void renderTrust()
  } catch (err: any) {
    if (err?.name === 'IdentityLockedError') {
      const h = err.holder as { peerId?: string, surface: string, since: number } | undefined
      showLocked(`This browser's Crosscheck identity${h?.peerId != null ? ` (peer ${short(h.peerId)})` : ''} is in use in another ${h?.surface ?? 'tab'}${h != null ? ` since ${new Date(h.since).toLocaleTimeString()}` : ''}. One browser profile runs one peer at a time.`)
    } else {
      $('start-error').textContent = `Could not join: ${String(err?.name ?? 'Error')}: ${String(err?.message ?? err)}`
      $('start-error').hidden = false
    }
    $<HTMLButtonElement>('start').disabled = false
    $('status').hidden = true
    await node?.stop().catch(() => {})
    node = undefined
  }
}

function showLocked (text: string): void {
  $('locked-text').textContent = text
  $('locked').hidden = false
  $('status').hidden = true
  $('request').hidden = true
  $('intro').hidden = true
}

async function stop (): Promise<void> {
  unwatch?.()
  unwatch = undefined
  if (chartTimer != null) clearInterval(chartTimer)
  chartTimer = undefined
  await node?.stop()
  $('intro').hidden = false
  $('request').hidden = true
  $('status').hidden = true
  $<HTMLButtonElement>('start').disabled = false
  node = undefined
}

// ---- request panel -------------------------------------------------------

const OCR = 'ocr'
let image: RgbaImage | undefined

function defaultInputs (m: ModelEntry): string {
  const doc: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(m.inputs)) {
    const dims = spec.dims.map(d => (d < 0 ? 1 : d))
    const n = dims.reduce((a, b) => a * b, 1)
    doc[name] = { dtype: spec.dtype, dims, data: Array.from({ length: n }, (_, i) => Math.round(Math.sin(i + 1) * 1000) / 1000) }
  }
  return JSON.stringify(doc)
}

function setupRequestPanel (m: ModelManifest): void {
  const select = $<HTMLSelectElement>('model')
  const options = m.models.filter(e => !e.id.startsWith('ocr-')).map(e => new Option(`${e.name} (${e.id})`, e.id))
  if (m.models.some(e => e.id === 'ocr-det') && m.models.some(e => e.id === 'ocr-rec')) options.unshift(new Option('PaddleOCR: read text in an image', OCR))
  select.replaceChildren(...options)
  const onChange = (): void => {
    const isOcr = select.value === OCR
    $('ocr-input').hidden = !isOcr
    $('tensor-input').hidden = isOcr
    const entry = m.models.find(e => e.id === select.value)
    if (entry != null) $<HTMLTextAreaElement>('tensors').value = defaultInputs(entry)
  }
  select.onchange = onChange
  onChange()
}

async function decodeImage (blob: Blob): Promise<RgbaImage> {
  const bitmap = await createImageBitmap(blob)
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height)
  const ctx = canvas.getContext('2d') as OffscreenCanvasRenderingContext2D
  ctx.drawImage(bitmap, 0, 0)
  const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height)
  return { width: data.width, height: data.height, data: data.data }
}

async function loadImage (blob: Blob): Promise<void> {
  image = await decodeImage(blob)
  const img = $<HTMLImageElement>('preview')
  img.src = URL.createObjectURL(blob)
  img.hidden = false
}

export interface OcrResult { text: string, lines: Array<{ text: string, confidence: number }>, jobs: RunResult[] }

export interface RequestOptions { replicas?: number, quorum?: number, adaptive?: AdaptiveOptions }

async function requestModel (id: string, inputs: NamedTensors, opts: RequestOptions): Promise<RunResult> {
  if (node == null) throw new Error('join the network first')
  return await node.run(id, inputs, opts.adaptive != null ? { adaptive: opts.adaptive } : { replicas: opts.replicas, quorum: opts.quorum })
}

async function readImage (img: RgbaImage, opts: RequestOptions): Promise<OcrResult> {
  if (node == null || manifest == null) throw new Error('join the network first')
  const keysEntry = manifest.extras.find(e => e.id === 'ocr-keys')
  if (keysEntry == null) throw new Error('the catalog has no OCR keys file')
  const keys = parseKeys(new TextDecoder().decode(await node.getModelBytes(keysEntry.sha256)))
  const jobs: RunResult[] = []
  const run = (id: string) => async (inputs: NamedTensors): Promise<NamedTensors> => {
    const r = await requestModel(id, inputs, opts)
    jobs.push(r)
    return r.outputs
  }
  const lines = await readText(img, run('ocr-det'), run('ocr-rec'), keys)
  return { text: lines.map(l => l.text).join('\n'), lines: lines.map(l => ({ text: l.text, confidence: l.confidence })), jobs }
}

async function onRun (evt: Event): Promise<void> {
  evt.preventDefault()
  const opts: RequestOptions = $<HTMLInputElement>('adaptive').checked
    ? { adaptive: {} }
    : { replicas: Number($<HTMLInputElement>('replicas').value), quorum: Number($<HTMLInputElement>('quorum').value) }
  const id = $<HTMLSelectElement>('model').value
  $('result').hidden = false
  $('result-state').textContent = 'running…'
  $('result-output').textContent = ''
  $('receipt').textContent = ''
  $<HTMLButtonElement>('run').disabled = true
  try {
    let jobs: RunResult[]
    if (id === OCR) {
      if (image == null) await loadImage(await (await fetch('samples/hello.png')).blob())
      const r = await readImage(image as RgbaImage, opts)
      $('result-output').textContent = r.text === '' ? '(no text found)' : r.text
      jobs = r.jobs
    } else {
      const inputs = tensorsFromJSON(JSON.parse($<HTMLTextAreaElement>('tensors').value))
      const r = await requestModel(id, inputs, opts)
      $('result-output').textContent = JSON.stringify(tensorsToJSON(r.outputs))
      jobs = [r]
    }
    $('result-state').textContent = 'accepted by quorum'
    $('result-peers').textContent = jobs.map(j => j.agreeing.map(short).join(', ')).join(' | ')
    const last = jobs[jobs.length - 1]
    $('receipt').textContent = jobs.map(j => j.receipt).join('\n')
    if (last != null) {
      $<HTMLAnchorElement>('receipt-download').href = URL.createObjectURL(new Blob([last.receipt], { type: 'application/json' }))
      // the receipt commits to its outputs by hash; their bytes download beside it
      $<HTMLAnchorElement>('outputs-download').href = URL.createObjectURL(new Blob([serializeReceiptOutputs(last.jobId, last.receiptOutputs)], { type: 'application/json' }))
      $<HTMLAnchorElement>('receipt-open').href = linkFor({ jobId: last.jobId, text: last.receipt, outputs: last.receiptOutputs })
    }
  } catch (err: any) {
    $('result-state').textContent = 'failed'
    $('result-output').textContent = `${String(err?.name ?? 'Error')}: ${String(err?.message ?? err)}`
  } finally {
    $<HTMLButtonElement>('run').disabled = false
    void renderHistory()
  }
}

$('start').addEventListener('click', () => { void start() })
$('take-over').addEventListener('click', () => { void start({ takeOver: true }) })
$('stop').addEventListener('click', () => { void stop() })
$('pause').addEventListener('click', () => {
  if (node == null) return
  if (node.controls.state.reasons.includes('user')) node.resume()
  else node.pause()
})
$<HTMLInputElement>('cpu-share').addEventListener('change', (evt) => {
  node?.setCpuShare(Number((evt.target as HTMLInputElement).value) / 100)
})
$('request-form').addEventListener('submit', (evt) => { void onRun(evt) })
$('use-sample').addEventListener('click', () => { void fetch('samples/hello.png').then(async r => { await loadImage(await r.blob()) }) })
$<HTMLInputElement>('image').addEventListener('change', (evt) => {
  const file = (evt.target as HTMLInputElement).files?.[0]
  if (file != null) void loadImage(file)
})

/** Typed hooks for end-to-end tests (no privileged or test-only behaviour). */
const hooks = {
  start,
  stop,
  stats: (): NodeStats | undefined => node?.stats(),
  connections: () => node?.connections() ?? [],
  /** Asks the relays for a fresh sample and returns the replica pool (what a job would draw from). */
  contributors: async (): Promise<string[]> => await node?.findContributors() ?? [],
  requestModel: async (id: string, inputsJson: unknown, opts: RequestOptions) => {
    const r = await requestModel(id, tensorsFromJSON(inputsJson), opts)
    return { jobId: r.jobId, output: tensorsToJSON(r.outputs), outputHash: r.outputHash, agreeing: r.agreeing, dissenting: r.dissenting, dispatched: r.dispatched, flagged: r.flagged, sole: r.sole, receiptText: r.receipt, receiptOutputsText: serializeReceiptOutputs(r.jobId, r.receiptOutputs) }
  },
  /** Requester settings: reputation thresholds and canary rate (kept across calls: the book is not reset). */
  configureRequester: async (init: RequesterInit) => { await node?.configureRequester(init) },
  reputation: () => node?.reputation() ?? [],
  backendVerdicts: () => node?.backendVerdicts() ?? [],
  settled: async () => { await node?.settled() },
  readSample: async (opts: RequestOptions) => {
    const img = await decodeImage(await (await fetch('samples/hello.png')).blob())
    const r = await readImage(img, opts)
    return { text: r.text, jobs: r.jobs.map(j => ({ jobId: j.jobId, agreeing: j.agreeing, receiptText: j.receipt, receiptOutputsText: serializeReceiptOutputs(j.jobId, j.receiptOutputs) })) }
  },
  /** Stored receipts, their texts and status (output bytes left out). */
  receipts: async () => (await node?.listReceipts() ?? []).map(({ outputs: _, ...r }) => r),
  /** Local (unverified) runs in this page's worker: per-run worker ms and wall ms. */
  /** Pause/resume contributing as the person would (the Pause button). */
  pause: () => { node?.pause() },
  resume: () => { node?.resume() },
  metrics: () => node?.metrics(),
  runLocal: async (id: string, inputsJson: unknown, n: number) => {
    if (node == null || manifest == null) throw new Error('join the network first')
    const entry = manifest.models.find(e => e.id === id)
    if (entry == null) throw new Error(`unknown model ${id}`)
    const inputs = tensorsFromJSON(inputsJson)
    const worker: number[] = []
    const wall: number[] = []
    let numericClass = ''
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      const r = await node.runLocal(entry.sha256, inputs)
      wall.push(performance.now() - t0)
      worker.push(r.ms)
      numericClass = r.numericClass
    }
    return { worker, wall, numericClass }
  },
  /** Measurement hooks for `npm run bench` (src/ui/bench-hooks.ts). */
  bench: benchHooks(() => node, () => manifest)
}
declare global { interface Window { crosscheck: typeof hooks } }
window.crosscheck = hooks

if (params.get('autostart') === '1') void start()
