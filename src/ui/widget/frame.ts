/**
 * The widget frame (`frame.html`, served from the Crosscheck origin and
 * embedded by `<crosscheck-contributor>`): a thin shell around the core. It
 * shows what will run and a Start button; the click inside this frame is the
 * visitor's consent (a host page cannot click into a cross-origin frame).
 * Then it shows linked peers, jobs done, backend and real thread count, with
 * Pause/Resume and Stop.
 *
 * Talks to its host only through ./protocol.ts: accepts pause/stop from the
 * exact host origin and `window.parent`, posts coarse state to that origin.
 * `window.crosscheck` exposes read-only hooks for end-to-end tests.
 */
import './frame.css'
import { createNode } from '../../index.js'
import type { CrosscheckNode, NodeStats } from '../../index.js'
import { createLogger } from '../../logger.js'
import { watchAll } from '../signals.js'
import { listen, post, resolveHostOrigin, WIDGET_PROTOCOL_VERSION, WIDGET_SOURCE } from './protocol.js'
import type { IgnoreReason, WidgetState, WidgetStateDetail } from './protocol.js'
import { detailKey, widgetDetailOf } from './state.js'

const log = createLogger('widget:frame')
const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T

const params = new URLSearchParams(location.search)
const host = resolveHostOrigin({ ancestorOrigins: location.ancestorOrigins, hostParam: params.get('host'), framed: window.parent !== window })
const relays = (params.get('relay') ?? '').split(/[\s,]+/).filter(r => r !== '')
const shareParam = Number(params.get('cpu-share') ?? '1')
const cpuShare = Number.isFinite(shareParam) && shareParam > 0 && shareParam <= 1 ? shareParam : 1
const pauseOnPressure = params.get('pause-on-pressure') !== 'false'
const isolated = globalThis.crossOriginIsolated === true

let node: CrosscheckNode | undefined
let unwatch: (() => void) | undefined
/** Whether this frame's storage (IndexedDB, Web Locks) is usable; null before Start. */
let persistent: boolean | null = null
let takeOver = false
let frameState: WidgetState | undefined = 'idle'
let lastKey = ''
let lastDetail: WidgetStateDetail = widgetDetailOf(undefined, { state: 'idle', crossOriginIsolated: isolated })
const ignored: Record<IgnoreReason, number> = { origin: 0, source: 0, shape: 0, type: 0 }

/**
 * Can this frame keep an identity? A third-party frame's storage is
 * partitioned by the top-level site, and refused outright where third-party
 * storage is blocked (incognito, some browsers): IndexedDB then fails with
 * "The user denied permission" and Web Locks with SecurityError.
 */
async function storageUsable (): Promise<boolean> {
  try {
    await navigator.locks?.query()
    const probe = 'crosscheck-storage-probe'
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.open(probe)
      req.onsuccess = () => { req.result.close(); resolve() }
      req.onerror = () => { reject(req.error ?? new Error('indexedDB.open failed')) }
    })
    indexedDB.deleteDatabase(probe)
    return true
  } catch (err) {
    log('storage refused in this frame: %s', (err as Error).message)
    return false
  }
}

function makeNode (keep: boolean): CrosscheckNode {
  // without storage: a fresh identity for this visit only, models fetched again, no identity lock (Web Locks are refused too)
  return createNode({ relays, surface: 'widget', contribute: { startPaused: true, cpuShare, pauseOnPressure }, persist: keep })
}

function publish (detail: WidgetStateDetail): void {
  lastDetail = detail
  const key = detailKey(detail)
  if (key === lastKey) return
  lastKey = key
  if (host.ok) post(window.parent, host.origin, { source: WIDGET_SOURCE, v: WIDGET_PROTOCOL_VERSION, type: 'state', detail })
}

const DETAIL: Record<WidgetState, string> = {
  idle: '',
  starting: 'Joining the network…',
  connecting: 'Connected, waiting for the relay to make this peer reachable.',
  running: 'Contributing: taking jobs from other peers.',
  paused: 'Paused: no jobs come while paused.',
  stopped: 'Stopped.',
  locked: 'Crosscheck already runs in another tab of this site. Start to run it here instead.',
  error: ''
}

function render (s: NodeStats | undefined): void {
  const detail = widgetDetailOf(s, { state: frameState, crossOriginIsolated: isolated })
  $('state').textContent = detail.state === 'idle' ? 'not running' : detail.state
  $('state').dataset.state = detail.state
  $('detail').textContent = detail.state === 'paused' && s != null && !s.paused.includes('user')
    ? `Paused: ${s.paused.map(r => ({ user: 'by you', hidden: 'the page is hidden', battery: 'on battery', pressure: 'the computer is busy' }[r])).join(', ')}.`
    : DETAIL[detail.state]
  $('linked').textContent = String(detail.linked)
  $('jobs-done').textContent = String(detail.jobsDone)
  $('backend').textContent = detail.backend == null
    ? '–'
    : `${detail.backend === 'webgpu' ? 'WebGPU' : 'WASM'}, ${detail.threads ?? 1} thread${detail.threads === 1 ? '' : 's'}${detail.crossOriginIsolated ? ', isolated' : ' (this browser did not isolate the frame)'}`
  $('storage').textContent = persistent === false ? 'this visit only (storage blocked)' : 'kept for this site'
  $('pause').textContent = s?.paused.includes('user') === true ? 'Resume' : 'Pause'
  publish(detail)
}

function showConsent (error?: string): void {
  $('consent').hidden = false
  $('status').hidden = true
  $<HTMLButtonElement>('start').disabled = !host.ok || relays.length === 0
  $('error').textContent = error ?? ''
  $('error').hidden = error == null
}

async function start (): Promise<void> {
  if (!host.ok || relays.length === 0 || node != null) return
  $<HTMLButtonElement>('start').disabled = true
  $('error').hidden = true
  frameState = undefined
  persistent ??= await storageUsable()
  const n = node = makeNode(persistent)
  n.addEventListener('node:state', (evt) => { if (node === n) render(evt.detail) })
  n.addEventListener('identity:lost', () => {
    if (node !== n) return
    frameState = 'locked'
    void stop('locked')
  })
  $('consent').hidden = true
  $('status').hidden = false
  try {
    // start() reports 'starting' at once, through node:state
    await n.start({ takeOver })
    if (node !== n) return // stopped while joining
    // the Start click in this frame is the visitor's choice to contribute
    n.resume()
    unwatch = watchAll(n.controls, { document, navigator })
    render(n.stats())
  } catch (err: any) {
    if (node !== n) return
    const locked = err?.name === 'IdentityLockedError'
    takeOver = locked
    await stop(locked ? 'locked' : 'error', locked ? undefined : `Could not join: ${String(err?.name ?? 'Error')}: ${String(err?.message ?? err)}`)
  }
}

async function stop (state: WidgetState = 'stopped', error?: string): Promise<void> {
  unwatch?.()
  unwatch = undefined
  const n = node
  node = undefined
  frameState = state
  await n?.stop().catch((err: Error) => { log.error('stop: %s', err.message) })
  render(undefined)
  showConsent(error)
  if (state === 'locked') $('error').textContent = DETAIL.locked
  $('error').hidden = state !== 'locked' && error == null
  $('start').textContent = state === 'locked' ? 'Use it here' : 'Start'
}

$('start').addEventListener('click', () => { void start() })
$('stop').addEventListener('click', () => { void stop() })
$('pause').addEventListener('click', () => {
  if (node == null) return
  // Resume is a click in this frame too: the host can pause, never resume
  if (node.controls.state.reasons.includes('user')) node.resume()
  else node.pause()
})

if (host.ok) {
  listen(window, { origin: host.origin, source: window.parent, accept: ['command'] }, (m) => {
    if (m.type !== 'command') return
    if (m.command === 'pause') node?.pause()
    else if (m.command === 'stop') void stop()
  }, (reason) => { ignored[reason]++ })
  post(window.parent, host.origin, { source: WIDGET_SOURCE, v: WIDGET_PROTOCOL_VERSION, type: 'ready' })
  render(undefined)
  showConsent()
} else {
  showConsent(`This frame runs only inside a page that embeds it with <crosscheck-contributor> (${host.reason}).`)
}
if (relays.length === 0) showConsent('No relay: the embedding page must give <crosscheck-contributor relay="…">.')

/** Read-only hooks for end-to-end tests (no privileged or test-only behaviour). */
export const frameHooks = {
  stats: (): NodeStats | undefined => node?.stats(),
  /** What the host was last told. */
  widgetState: (): WidgetStateDetail => ({ ...lastDetail }),
  /** Messages refused, by reason. */
  ignored: (): Record<IgnoreReason, number> => ({ ...ignored }),
  host: () => host,
  persistent: () => persistent,
  crossOriginIsolated: () => isolated
}
export type FrameHooks = typeof frameHooks
// not `declare global`: the contributor page (src/ui/main.ts) owns the typing of window.crosscheck
;(window as unknown as { crosscheck: FrameHooks }).crosscheck = frameHooks
