/**
 * Every message between the extension's three contexts, in one place:
 *
 *   popup ──BackgroundRequest──▶ service worker ──OffscreenRequest──▶ offscreen document (the node)
 *         ◀──ExtensionStatus───                 ◀──OffscreenStatus──
 *
 * `chrome.runtime.sendMessage` delivers a message to every extension context
 * but the sender, so each request names its receiver (`to`) and each receiver
 * ignores the rest. Requests are validated before use (`parse*`), replies carry
 * `{ ok, value | error }` so that a failure keeps its error name across the hop.
 *
 * @example
 * ```ts
 * // popup
 * const status = await askBackground({ to: 'background', type: 'start', relay })
 * // offscreen document
 * serve(parseOffscreenRequest, async (req) => handle(req))
 * ```
 */
import type { NodeStats } from '../../index.js'
import { CrosscheckError, InvalidArgumentError, InvalidMessageError } from '../../errors.js'

/** Longest relay field accepted (characters). */
export const MAX_RELAY_CHARS = 4096
/** Most relays one node dials. */
export const MAX_RELAYS = 8

export interface ExtensionSettings {
  /** Relay multiaddrs as typed in the popup (comma- or space-separated). */
  relay: string
  /** The person pressed Start and not Stop since: the node comes back when the browser starts. */
  contribute: boolean
  /** 0 < share <= 1. */
  cpuShare: number
  /** The last peer id the node reported, shown while it is stopped. */
  peerId?: string
}

export interface ErrorInfo { name: string, message: string }

/** NodeStats as the popup needs it: the peer list without announcements (small, plain JSON). */
export type NodeView = Omit<NodeStats, 'peers'> & { peers: Array<{ peerId: string, direct: boolean, relayed: boolean }> }

export interface OffscreenStatus {
  /** null until the first Start in this document. */
  node: NodeView | null
  /** Why the last start failed, until the next one. */
  error?: ErrorInfo
  /** SharedArrayBuffer (WASM threads) available in the offscreen document. */
  crossOriginIsolated: boolean
  hardwareConcurrency: number
}

export interface ExtensionStatus {
  settings: ExtensionSettings
  /** null while there is no offscreen document (never started, or stopped). */
  offscreen: OffscreenStatus | null
}

export type BackgroundRequest =
  | { to: 'background', type: 'status' }
  | { to: 'background', type: 'start', relay: string }
  | { to: 'background', type: 'stop' }
  | { to: 'background', type: 'cpu-share', share: number }

export type OffscreenRequest =
  | { to: 'offscreen', type: 'status' }
  | { to: 'offscreen', type: 'start', relays: string[], cpuShare: number }
  | { to: 'offscreen', type: 'stop' }
  | { to: 'offscreen', type: 'cpu-share', share: number }

export type Reply<T> = { ok: true, value: T } | { ok: false, error: ErrorInfo }

export const DEFAULT_SETTINGS: ExtensionSettings = { relay: '', contribute: false, cpuShare: 1 }

function isRecord (v: unknown): v is Record<string, unknown> {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}

function isShare (v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 1
}

/**
 * The relay field as a list of multiaddrs. Each must be a multiaddr naming the
 * relay's peer id (`…/p2p/<id>`); libp2p parses them fully when the node starts.
 * Throws InvalidArgumentError.
 */
export function parseRelays (text: string): string[] {
  if (text.length > MAX_RELAY_CHARS) throw new InvalidArgumentError(`the relay field is longer than ${MAX_RELAY_CHARS} characters`)
  const relays = text.split(/[\s,]+/).filter(r => r !== '')
  if (relays.length === 0) throw new InvalidArgumentError('enter a relay multiaddr (/ip4/…/tcp/…/ws/p2p/…)')
  if (relays.length > MAX_RELAYS) throw new InvalidArgumentError(`at most ${MAX_RELAYS} relays`)
  for (const r of relays) {
    if (!r.startsWith('/') || !/\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(r)) throw new InvalidArgumentError(`not a relay multiaddr ending in /p2p/<peer id>: ${r}`)
  }
  return relays
}

/** Settings from chrome.storage, tolerant of missing or damaged fields (each falls back to its default). */
export function parseSettings (v: unknown, defaults: ExtensionSettings = DEFAULT_SETTINGS): ExtensionSettings {
  const o = isRecord(v) ? v : {}
  return {
    relay: typeof o.relay === 'string' && o.relay.length <= MAX_RELAY_CHARS ? o.relay : defaults.relay,
    contribute: typeof o.contribute === 'boolean' ? o.contribute : defaults.contribute,
    cpuShare: isShare(o.cpuShare) ? o.cpuShare : defaults.cpuShare,
    ...(typeof o.peerId === 'string' && o.peerId.length <= 128 ? { peerId: o.peerId } : defaults.peerId != null ? { peerId: defaults.peerId } : {})
  }
}

/** A request for the service worker, `undefined` when addressed elsewhere. Throws InvalidMessageError when malformed. */
export function parseBackgroundRequest (msg: unknown): BackgroundRequest | undefined {
  if (!isRecord(msg) || msg.to !== 'background') return undefined
  switch (msg.type) {
    case 'status':
    case 'stop':
      return { to: 'background', type: msg.type }
    case 'start':
      if (typeof msg.relay !== 'string' || msg.relay.length > MAX_RELAY_CHARS) throw new InvalidMessageError('start: relay must be a string')
      return { to: 'background', type: 'start', relay: msg.relay }
    case 'cpu-share':
      if (!isShare(msg.share)) throw new InvalidMessageError('cpu-share: share must be a number with 0 < share <= 1')
      return { to: 'background', type: 'cpu-share', share: msg.share }
    default:
      throw new InvalidMessageError(`unknown request for the service worker: ${String(msg.type)}`)
  }
}

/** A request for the offscreen document, `undefined` when addressed elsewhere. Throws InvalidMessageError when malformed. */
export function parseOffscreenRequest (msg: unknown): OffscreenRequest | undefined {
  if (!isRecord(msg) || msg.to !== 'offscreen') return undefined
  switch (msg.type) {
    case 'status':
    case 'stop':
      return { to: 'offscreen', type: msg.type }
    case 'start': {
      const relays = msg.relays
      if (!Array.isArray(relays) || relays.length === 0 || relays.length > MAX_RELAYS || !relays.every(r => typeof r === 'string' && r.length <= MAX_RELAY_CHARS)) {
        throw new InvalidMessageError('start: relays must be 1 to 8 strings')
      }
      if (!isShare(msg.cpuShare)) throw new InvalidMessageError('start: cpuShare must be a number with 0 < share <= 1')
      return { to: 'offscreen', type: 'start', relays: relays as string[], cpuShare: msg.cpuShare }
    }
    case 'cpu-share':
      if (!isShare(msg.share)) throw new InvalidMessageError('cpu-share: share must be a number with 0 < share <= 1')
      return { to: 'offscreen', type: 'cpu-share', share: msg.share }
    default:
      throw new InvalidMessageError(`unknown request for the offscreen document: ${String(msg.type)}`)
  }
}

function isOffscreenStatus (v: unknown): v is OffscreenStatus {
  return isRecord(v) && typeof v.crossOriginIsolated === 'boolean' && typeof v.hardwareConcurrency === 'number' &&
    (v.node === null || (isRecord(v.node) && typeof v.node.state === 'string' && typeof v.node.peerId === 'string' && Array.isArray(v.node.peers)))
}

export function parseOffscreenStatus (v: unknown): OffscreenStatus {
  if (!isOffscreenStatus(v)) throw new InvalidMessageError('malformed status from the offscreen document')
  return v
}

export function parseExtensionStatus (v: unknown): ExtensionStatus {
  if (!isRecord(v) || !isRecord(v.settings)) throw new InvalidMessageError('malformed status from the service worker')
  return { settings: parseSettings(v.settings), offscreen: v.offscreen == null ? null : parseOffscreenStatus(v.offscreen) }
}

/** The popup's view of the node: the peer list without announcements, models without names it does not draw. */
export function toView (s: NodeStats): NodeView {
  return { ...s, peers: s.peers.map(p => ({ peerId: p.peerId, direct: p.direct, relayed: p.relayed })) }
}

export function errorInfo (err: unknown): ErrorInfo {
  const e = err as { name?: unknown, message?: unknown } | undefined
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(err)
  }
}

/** The error a reply carried, with its name kept (callers branch on `err.name`). */
export function errorFromInfo (info: ErrorInfo): Error {
  const err = new CrosscheckError(info.message)
  err.name = info.name
  return err
}

/** Unwraps a reply envelope: the value (checked by `parse`), or the error it carried. */
export function unwrapReply<T> (reply: unknown, parse: (v: unknown) => T): T {
  if (!isRecord(reply) || typeof reply.ok !== 'boolean') throw new InvalidMessageError('malformed reply')
  if (!reply.ok) {
    const e = isRecord(reply.error) ? reply.error : {}
    throw errorFromInfo({ name: typeof e.name === 'string' ? e.name : 'Error', message: typeof e.message === 'string' ? e.message : 'unknown error' })
  }
  return parse(reply.value)
}

// ---- chrome.runtime plumbing (extension contexts only) ----------------------

export async function askBackground (req: BackgroundRequest): Promise<ExtensionStatus> {
  return unwrapReply(await chrome.runtime.sendMessage(req), parseExtensionStatus)
}

export async function askOffscreen (req: OffscreenRequest): Promise<OffscreenStatus> {
  return unwrapReply(await chrome.runtime.sendMessage(req), parseOffscreenStatus)
}

/**
 * Answers the requests `parse` accepts with `handle`'s result, as a Reply.
 * Messages from outside this extension are ignored (there is no
 * `externally_connectable`, so Chrome should not deliver any; checked anyway).
 */
export function serve<R, T> (parse: (msg: unknown) => R | undefined, handle: (req: R) => Promise<T>): void {
  chrome.runtime.onMessage.addListener((msg, sender, sendResponse) => {
    if (sender.id !== chrome.runtime.id) return false
    let req: R | undefined
    try {
      req = parse(msg)
    } catch (err) {
      sendResponse({ ok: false, error: errorInfo(err) } satisfies Reply<T>)
      return false
    }
    if (req === undefined) return false
    handle(req).then(
      (value) => { sendResponse({ ok: true, value } satisfies Reply<T>) },
      (err: unknown) => { sendResponse({ ok: false, error: errorInfo(err) } satisfies Reply<T>) }
    )
    return true
  })
}
