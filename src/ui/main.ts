/**
 * The contributor page. `?autostart=1` joins without a click; `?relay=<multiaddr>`
 * picks another relay (default: the one `npm start` serves in /relay.json).
 * `window.crosscheck` exposes typed hooks for end-to-end tests.
 */
import './styles.css'
import { CrosscheckNode } from '../node.js'
import type { NodeStats } from '../node.js'
import type { ModelEntry, ModelManifest } from '../models/manifest.js'
import { tensorsFromJSON, tensorsToJSON } from '../tensor/index.js'
import type { NamedTensors } from '../tensor/index.js'
import { readText, parseKeys } from '../ocr/index.js'
import type { RgbaImage } from '../ocr/index.js'
import type { AdaptiveOptions, VerifiedJobResult } from '../jobs/requester.js'
import type { RequesterInit } from '../jobs/trust.js'

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T

const params = new URLSearchParams(location.search)
let node: CrosscheckNode | undefined
let manifest: ModelManifest | undefined

async function resolveRelay (): Promise<string> {
  const fromQuery = params.get('relay')
  if (fromQuery != null && fromQuery !== '') return fromQuery
  const res = await fetch('relay.json', { cache: 'no-store' })
  if (!res.ok) throw new Error('no relay configured: open this page with ?relay=<multiaddr> or through `npm start`')
  const body = await res.json() as { relay?: unknown }
  if (typeof body.relay !== 'string') throw new Error('relay.json has no relay address')
  return body.relay
}

function short (id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
}

function fmtBytes (n: number): string {
  return n > 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} kB`
}

function render (s: NodeStats): void {
  $('state').textContent = node?.started === true ? (s.relayConnected ? 'contributing' : 'relay lost') : 'stopped'
  $('peer-id').textContent = s.peerId || '–'
  $('relay-state').textContent = s.relayConnected ? 'connected' : 'not connected'
  $('relay-addr').textContent = s.relay
  const c = s.capabilities
  $('backend').textContent = c == null
    ? '–'
    : `${c.backend === 'webgpu' ? 'WebGPU' : 'WASM'}, ${c.threads} thread${c.threads === 1 ? '' : 's'}${c.crossOriginIsolated ? '' : ' (page not cross-origin isolated)'}${c.webgpuRejected != null ? ` — WebGPU not used: ${c.webgpuRejected}` : ''} · ${c.numericClass}`
  $('jobs-done').textContent = String(s.jobsDone)
  const flagged = new Set((node?.reputation() ?? []).filter(r => r.flagged).map(r => r.peerId))
  const peers = $('peers')
  peers.replaceChildren(...s.peers.map(p => {
    const li = document.createElement('li')
    li.dataset.peerId = p.peerId
    li.dataset.direct = String(p.direct)
    li.dataset.flagged = String(flagged.has(p.peerId))
    li.textContent = `${short(p.peerId)} — ${p.direct ? 'direct WebRTC' : p.relayed ? 'via relay' : 'seen'}${p.announcement != null ? ` · ${p.announcement.backend} · ${p.announcement.jobsDone} job${p.announcement.jobsDone === 1 ? '' : 's'}` : ''}${flagged.has(p.peerId) ? ' · FLAGGED (not selected)' : ''}`
    return li
  }))
  $('peer-count').textContent = String(s.peers.filter(p => p.direct).length)
  const names = new Map((manifest?.models ?? []).map(m => [m.sha256, m.name]))
  $('models').replaceChildren(...s.models.map(m => {
    const li = document.createElement('li')
    li.dataset.sha256 = m.sha256
    li.textContent = `${names.get(m.sha256) ?? m.name ?? 'model'} — ${fmtBytes(m.size)} — sha256 ${m.sha256.slice(0, 16)}…`
    return li
  }))
}

async function renderHistory (): Promise<void> {
  if (node == null) return
  const jobs = await node.listJobs()
  $('history').replaceChildren(...jobs.slice(-20).reverse().map(j => {
    const li = document.createElement('li')
    li.textContent = `${new Date(j.finishedAt ?? j.startedAt).toLocaleTimeString()} ${j.role} ${j.status} ${j.jobId.slice(0, 10)}… ${Math.round(j.ms ?? 0)} ms`
    return li
  }))
}

async function start (): Promise<void> {
  $<HTMLButtonElement>('start').disabled = true
  $('start-error').hidden = true
  try {
    const relay = await resolveRelay()
    node = new CrosscheckNode({ relay, preferredBackend: (params.get('backend') as 'auto' | 'webgpu' | 'wasm' | null) ?? 'auto' })
    node.addEventListener('node:state', (evt) => { render(evt.detail) })
    node.addEventListener('job:done', () => { void renderHistory() })
    node.addEventListener('model:progress', (evt) => {
      const { loaded, total, sha256, source } = evt.detail
      $('progress').hidden = loaded >= total
      $('progress-label').textContent = `Fetching model ${sha256.slice(0, 10)}… from ${source === 'peer' ? 'a peer' : 'the site'}: ${fmtBytes(loaded)} of ${fmtBytes(total)}`
      $<HTMLProgressElement>('progress-bar').value = total > 0 ? loaded / total : 0
    })
    $('status').hidden = false
    await node.start()
    manifest = await node.getManifest()
    setupRequestPanel(manifest)
    $('request').hidden = false
    $('intro').hidden = true
    render(node.stats())
    void renderHistory()
  } catch (err: any) {
    $('start-error').textContent = `Could not join: ${String(err?.name ?? 'Error')}: ${String(err?.message ?? err)}`
    $('start-error').hidden = false
    $<HTMLButtonElement>('start').disabled = false
    await node?.stop().catch(() => {})
    node = undefined
  }
}

async function stop (): Promise<void> {
  await node?.stop()
  $('state').textContent = 'stopped'
  $('intro').hidden = false
  $('request').hidden = true
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

export interface OcrResult { text: string, lines: Array<{ text: string, confidence: number }>, jobs: VerifiedJobResult[] }

export interface RequestOptions { replicas?: number, quorum?: number, adaptive?: AdaptiveOptions }

async function requestModel (id: string, inputs: NamedTensors, opts: RequestOptions): Promise<VerifiedJobResult> {
  if (node == null || manifest == null) throw new Error('join the network first')
  const entry = manifest.models.find(e => e.id === id)
  if (entry == null) throw new Error(`unknown model ${id}`)
  return await node.request({ modelHash: entry.sha256, inputs, policy: entry.policy, replicas: opts.replicas, quorum: opts.quorum, adaptive: opts.adaptive })
}

async function readImage (img: RgbaImage, opts: RequestOptions): Promise<OcrResult> {
  if (node == null || manifest == null) throw new Error('join the network first')
  const keysEntry = manifest.extras.find(e => e.id === 'ocr-keys')
  if (keysEntry == null) throw new Error('the catalog has no OCR keys file')
  const keys = parseKeys(new TextDecoder().decode(await node.getModelBytes(keysEntry.sha256)))
  const jobs: VerifiedJobResult[] = []
  const run = (id: string) => async (inputs: NamedTensors): Promise<NamedTensors> => {
    const r = await requestModel(id, inputs, opts)
    jobs.push(r)
    return r.output
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
    let jobs: VerifiedJobResult[]
    if (id === OCR) {
      if (image == null) await loadImage(await (await fetch('samples/hello.png')).blob())
      const r = await readImage(image as RgbaImage, opts)
      $('result-output').textContent = r.text === '' ? '(no text found)' : r.text
      jobs = r.jobs
    } else {
      const inputs = tensorsFromJSON(JSON.parse($<HTMLTextAreaElement>('tensors').value))
      const r = await requestModel(id, inputs, opts)
      $('result-output').textContent = JSON.stringify(tensorsToJSON(r.output))
      jobs = [r]
    }
    $('result-state').textContent = 'accepted by quorum'
    $('result-peers').textContent = jobs.map(j => j.agreeing.map(short).join(', ')).join(' | ')
    const last = jobs[jobs.length - 1]
    $('receipt').textContent = jobs.map(j => j.receiptText).join('\n')
    if (last != null) $<HTMLAnchorElement>('receipt-download').href = URL.createObjectURL(new Blob([last.receiptText], { type: 'application/json' }))
  } catch (err: any) {
    $('result-state').textContent = 'failed'
    $('result-output').textContent = `${String(err?.name ?? 'Error')}: ${String(err?.message ?? err)}`
  } finally {
    $<HTMLButtonElement>('run').disabled = false
    void renderHistory()
  }
}

$('start').addEventListener('click', () => { void start() })
$('stop').addEventListener('click', () => { void stop() })
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
  requestModel: async (id: string, inputsJson: unknown, opts: RequestOptions) => {
    const r = await requestModel(id, tensorsFromJSON(inputsJson), opts)
    return { jobId: r.jobId, output: tensorsToJSON(r.output), outputHash: r.outputHash, agreeing: r.agreeing, dissenting: r.dissenting, dispatched: r.dispatched, flagged: r.flagged, sole: r.sole, receiptText: r.receiptText }
  },
  /** Requester settings: reputation thresholds and canary rate (kept across calls: the book is not reset). */
  configureRequester: async (init: RequesterInit) => { await node?.configureRequester(init) },
  reputation: () => node?.reputation() ?? [],
  settled: async () => { await node?.settled() },
  readSample: async (opts: RequestOptions) => {
    const img = await decodeImage(await (await fetch('samples/hello.png')).blob())
    const r = await readImage(img, opts)
    return { text: r.text, jobs: r.jobs.map(j => ({ jobId: j.jobId, agreeing: j.agreeing, receiptText: j.receiptText })) }
  },
  receipts: async () => await node?.listReceipts() ?? [],
  /** Local (unverified) runs in this page's worker: per-run worker ms and wall ms. */
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
  }
}
declare global { interface Window { crosscheck: typeof hooks } }
window.crosscheck = hooks

if (params.get('autostart') === '1') void start()
