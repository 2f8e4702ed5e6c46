/**
 * The offscreen document: the only place the extension runs a node. An
 * extension service worker has no RTCPeerConnection and cannot start Workers,
 * so the service worker opens this document (reasons WEB_RTC, WORKERS) and
 * forwards the popup's requests to it. It stays open while the browser runs.
 *
 * The node uses the extension's own model catalog (models/ inside the
 * extension) and the extension origin's IndexedDB, so its identity and cached
 * models survive browser restarts.
 */
import { createNode } from '../../index.js'
import type { CrosscheckNode } from '../../index.js'
import { createLogger } from '../../logger.js'
import { watchAll } from '../signals.js'
import { errorInfo, parseOffscreenRequest, serve, toView } from './messages.js'
import type { ErrorInfo, OffscreenRequest, OffscreenStatus } from './messages.js'

const log = createLogger('extension:offscreen')

let node: CrosscheckNode | undefined
let relaysOfNode = ''
let lastError: ErrorInfo | undefined
let unwatch: (() => void) | undefined

function status (): OffscreenStatus {
  return {
    node: node != null ? toView(node.stats()) : null,
    ...(lastError != null ? { error: lastError } : {}),
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    hardwareConcurrency: navigator.hardwareConcurrency ?? 1
  }
}

async function stopNode (): Promise<void> {
  unwatch?.()
  unwatch = undefined
  const n = node
  node = undefined
  await n?.stop()
}

/**
 * Creates the node (or keeps the running one when the relays are the same)
 * and starts joining in the background: the reply does not wait for the relay,
 * so the popup shows 'starting' at once and the service worker is not kept
 * waiting. A failure is kept in `lastError` for the popup.
 */
async function start (relays: string[], cpuShare: number): Promise<void> {
  const key = relays.join(' ')
  if (node != null && key !== relaysOfNode) await stopNode()
  lastError = undefined
  if (node == null) {
    node = createNode({
      relays,
      surface: 'extension',
      catalogUrl: chrome.runtime.getURL(''),
      // the document is never visible: pausing while hidden would mean never contributing
      contribute: { startPaused: true, cpuShare, pauseWhenHidden: false }
    })
    relaysOfNode = key
  }
  const n = node
  n.setCpuShare(cpuShare)
  void n.start().then(() => {
    if (node !== n) return // stopped while joining
    // Start in the popup (or the choice restored at browser start) is the person's consent
    n.resume()
    unwatch ??= watchAll(n.controls, { navigator })
  }, async (err: unknown) => {
    lastError = errorInfo(err)
    log.error('start failed: %s: %s', lastError.name, lastError.message)
    if (node === n) await stopNode()
  })
}

// one request at a time: a Stop must not overtake the Start before it
let queue: Promise<unknown> = Promise.resolve()

async function handle (req: OffscreenRequest): Promise<OffscreenStatus> {
  const run = queue.then(async () => {
    switch (req.type) {
      case 'status': break
      case 'start': await start(req.relays, req.cpuShare); break
      case 'stop': await stopNode(); break
      case 'cpu-share': node?.setCpuShare(req.share); break
    }
    return status()
  })
  queue = run.catch(() => {})
  return await run
}

serve(parseOffscreenRequest, handle)
log('offscreen document ready (crossOriginIsolated: %s)', globalThis.crossOriginIsolated)
