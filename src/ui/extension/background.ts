/**
 * The extension's service worker: keeps the person's choices (relay,
 * Start/Stop, CPU share) in chrome.storage.local and routes the popup's
 * requests to the offscreen document that hosts the node, creating it on
 * demand. It holds no node state itself: Chrome stops it after ~30 s idle.
 *
 * When the browser starts with "contribute" chosen, the node comes back on its
 * own (same identity and models: they are in the extension's IndexedDB).
 */
import { createLogger } from '../../logger.js'
import { InvalidArgumentError } from '../../errors.js'
import { DEFAULT_SETTINGS, askOffscreen, parseBackgroundRequest, parseRelays, parseSettings, serve } from './messages.js'
import type { BackgroundRequest, ExtensionSettings, ExtensionStatus, OffscreenRequest, OffscreenStatus } from './messages.js'
import { OFFSCREEN_FILE } from './manifest.js'

const log = createLogger('extension:background')

/** Relay baked in at build time (env CROSSCHECK_RELAY), '' when none. */
declare const __CROSSCHECK_DEFAULT_RELAY__: string

const SETTINGS_KEY = 'settings'
const DEFAULTS: ExtensionSettings = { ...DEFAULT_SETTINGS, relay: __CROSSCHECK_DEFAULT_RELAY__ }
const OFFSCREEN_URL = chrome.runtime.getURL(OFFSCREEN_FILE)
/** A new offscreen document may not have its listener yet: retry this many times, this far apart (ms). */
const READY_RETRIES = 20
const READY_RETRY_MS = 100

async function loadSettings (): Promise<ExtensionSettings> {
  const got = await chrome.storage.local.get(SETTINGS_KEY)
  return parseSettings(got[SETTINGS_KEY], DEFAULTS)
}

async function saveSettings (patch: Partial<ExtensionSettings>): Promise<ExtensionSettings> {
  const next = parseSettings({ ...await loadSettings(), ...patch }, DEFAULTS)
  await chrome.storage.local.set({ [SETTINGS_KEY]: next })
  return next
}

async function hasOffscreen (): Promise<boolean> {
  const contexts = await chrome.runtime.getContexts({ contextTypes: ['OFFSCREEN_DOCUMENT'], documentUrls: [OFFSCREEN_URL] })
  return contexts.length > 0
}

// Chrome allows one offscreen document per profile: concurrent callers share one check-and-create.
let ensuring: Promise<void> | undefined

async function ensureOffscreen (): Promise<void> {
  ensuring ??= (async () => {
    if (await hasOffscreen()) return
    await chrome.offscreen.createDocument({
      url: OFFSCREEN_FILE,
      reasons: ['WEB_RTC', 'WORKERS'],
      justification: 'Hosts the Crosscheck peer: WebRTC links to other peers and an onnxruntime-web Worker that runs the jobs.'
    })
  })().finally(() => { ensuring = undefined })
  await ensuring
}

/** Sends to the offscreen document, waiting out the moment between its creation and its listener. */
async function toOffscreen (req: OffscreenRequest): Promise<OffscreenStatus> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await askOffscreen(req)
    } catch (err) {
      // "Could not establish connection. Receiving end does not exist." has no name of its own
      const noReceiver = (err as Error).name === 'Error' && /receiving end/i.test((err as Error).message)
      if (!noReceiver || attempt >= READY_RETRIES) throw err
      await new Promise(resolve => setTimeout(resolve, READY_RETRY_MS))
    }
  }
}

async function rememberPeer (settings: ExtensionSettings, offscreen: OffscreenStatus | null): Promise<ExtensionSettings> {
  const peerId = offscreen?.node?.peerId
  if (peerId == null || peerId === '' || peerId === settings.peerId) return settings
  return await saveSettings({ peerId })
}

async function status (): Promise<ExtensionStatus> {
  const settings = await loadSettings()
  const offscreen = await hasOffscreen() ? await toOffscreen({ to: 'offscreen', type: 'status' }) : null
  return { settings: await rememberPeer(settings, offscreen), offscreen }
}

async function start (relayField: string): Promise<ExtensionStatus> {
  const relays = parseRelays(relayField.trim())
  const settings = await saveSettings({ relay: relayField.trim(), contribute: true })
  await ensureOffscreen()
  const offscreen = await toOffscreen({ to: 'offscreen', type: 'start', relays, cpuShare: settings.cpuShare })
  return { settings: await rememberPeer(settings, offscreen), offscreen }
}

async function stop (): Promise<ExtensionStatus> {
  const settings = await saveSettings({ contribute: false })
  if (await hasOffscreen()) {
    await toOffscreen({ to: 'offscreen', type: 'stop' }).catch((err: Error) => { log.error('stopping the node: %s', err.message) })
    // the document only exists to host the node: closing it frees its worker and wasm memory
    await chrome.offscreen.closeDocument()
  }
  return { settings, offscreen: null }
}

async function setCpuShare (share: number): Promise<ExtensionStatus> {
  const settings = await saveSettings({ cpuShare: share })
  const offscreen = await hasOffscreen() ? await toOffscreen({ to: 'offscreen', type: 'cpu-share', share }) : null
  return { settings, offscreen }
}

// One request at a time: a status asked while Stop closes the offscreen
// document would otherwise reach a document that goes away before it answers.
let queue: Promise<unknown> = Promise.resolve()

async function serially<T> (fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn)
  queue = run.catch(() => {})
  return await run
}

async function handle (req: BackgroundRequest): Promise<ExtensionStatus> {
  return await serially(async () => {
    switch (req.type) {
      case 'status': return await status()
      case 'start': return await start(req.relay)
      case 'stop': return await stop()
      case 'cpu-share': return await setCpuShare(req.share)
    }
  })
}

/**
 * Brings the node back if the person had chosen to contribute. Runs whenever
 * this worker starts (browser start, or a wake-up after idling): idempotent,
 * since a running node ignores a second start.
 */
async function restore (): Promise<void> {
  const settings = await loadSettings()
  if (!settings.contribute) return
  try {
    await serially(async () => await start(settings.relay))
  } catch (err) {
    const e = err as Error
    // a relay the person can no longer use stays in the popup, with its error
    log.error('could not restore the node: %s: %s', e.name, e.message)
    if (e instanceof InvalidArgumentError) await saveSettings({ contribute: false })
  }
}

serve(parseBackgroundRequest, handle)
// The listener's presence makes Chrome start this worker when the browser
// starts; the work is the restore() below, which runs on every worker start.
chrome.runtime.onStartup.addListener(() => {})
void restore()
