/**
 * The one conversation between a host page's `<crosscheck-contributor>`
 * element and the Crosscheck frame inside it, in one place:
 *
 *   host page (element) ──command (pause | stop)──▶ frame (the node)
 *                       ◀──ready, state (coarse)──
 *
 * Both sides speak only through `listen` and `post` below: every message is
 * checked for the exact origin (`===`, never a prefix or `'*'`), for the exact
 * sending window (`event.source`) and for its shape (versioned, exact keys,
 * bounded values) before anyone acts on it. Lint keeps window messaging out of
 * every other module.
 *
 * What the host may ask is deliberately harmless: pause or stop. Starting
 * needs a click inside the frame, which a host page cannot forge, and the host
 * learns only coarse state (no peer id, no peers, no jobs' contents).
 *
 * @example
 * ```ts
 * // in the frame
 * const stop = listen(window, { origin: hostOrigin, source: window.parent, accept: ['command'] }, (m) => { … })
 * post(window.parent, hostOrigin, { source: 'crosscheck', v: 1, type: 'state', detail })
 * ```
 */
import { InvalidArgumentError, InvalidMessageError } from '../../errors.js'

export const WIDGET_SOURCE = 'crosscheck'
export const WIDGET_PROTOCOL_VERSION = 1

/** Coarse states a host may style: `data-state` / the `state` attribute. */
export const WIDGET_STATES = ['idle', 'starting', 'connecting', 'running', 'paused', 'stopped', 'locked', 'error'] as const
export type WidgetState = typeof WIDGET_STATES[number]

/** Commands a host may send. Never start or resume: consent is a click in the frame. */
export const WIDGET_COMMANDS = ['pause', 'stop'] as const
export type WidgetCommand = typeof WIDGET_COMMANDS[number]

export const WIDGET_BACKENDS = ['wasm', 'webgpu'] as const

/** Upper bounds on the numbers in a state message (a malformed or hostile frame cannot make the host render nonsense). */
export const MAX_LINKED = 10_000
export const MAX_JOBS_DONE = Number.MAX_SAFE_INTEGER
export const MAX_THREADS = 256

/** What the host learns: enough to show and style "contributing, 3 peers, 12 jobs", nothing that identifies the peer. */
export interface WidgetStateDetail {
  state: WidgetState
  /** Peers with a direct WebRTC link. */
  linked: number
  jobsDone: number
  /** Inference backend once the runtime is up, else null. */
  backend: typeof WIDGET_BACKENDS[number] | null
  /** WASM threads actually in use (1 when the frame is not cross-origin isolated), null before the runtime is up. */
  threads: number | null
  /** Whether the frame got SharedArrayBuffer (Document-Isolation-Policy worked). */
  crossOriginIsolated: boolean
  /** Contributing is paused (by the visitor, or the tab is hidden, on battery, under load). */
  paused: boolean
}

interface Envelope { source: typeof WIDGET_SOURCE, v: typeof WIDGET_PROTOCOL_VERSION }

export type WidgetMessage =
  | Envelope & { type: 'ready' }
  | Envelope & { type: 'state', detail: WidgetStateDetail }
  | Envelope & { type: 'command', command: WidgetCommand }

export type WidgetMessageType = WidgetMessage['type']

function isRecord (v: unknown): v is Record<string, unknown> {
  return v != null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype
}

function hasExactKeys (o: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(o)
  return own.length === keys.length && keys.every(k => Object.hasOwn(o, k))
}

function isCount (v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max
}

function oneOf<T extends string> (list: readonly T[], v: unknown): v is T {
  return typeof v === 'string' && (list as readonly string[]).includes(v)
}

function parseDetail (d: unknown): WidgetStateDetail {
  if (!isRecord(d) || !hasExactKeys(d, ['state', 'linked', 'jobsDone', 'backend', 'threads', 'crossOriginIsolated', 'paused'])) throw new InvalidMessageError('state detail has the wrong keys')
  if (!oneOf(WIDGET_STATES, d.state)) throw new InvalidMessageError('unknown state')
  if (!isCount(d.linked, MAX_LINKED) || !isCount(d.jobsDone, MAX_JOBS_DONE)) throw new InvalidMessageError('linked and jobsDone are counts')
  if (d.backend !== null && !oneOf(WIDGET_BACKENDS, d.backend)) throw new InvalidMessageError('unknown backend')
  if (d.threads !== null && !(isCount(d.threads, MAX_THREADS) && d.threads >= 1)) throw new InvalidMessageError('threads is 1..256 or null')
  if (typeof d.crossOriginIsolated !== 'boolean' || typeof d.paused !== 'boolean') throw new InvalidMessageError('crossOriginIsolated and paused are booleans')
  return { state: d.state, linked: d.linked, jobsDone: d.jobsDone, backend: d.backend, threads: d.threads, crossOriginIsolated: d.crossOriginIsolated, paused: d.paused }
}

/**
 * Validates a message of this protocol and returns a fresh copy of it (the
 * caller never holds the sender's object). Throws InvalidMessageError on
 * anything else: other sources or versions, extra or missing keys, values out
 * of range.
 */
export function parseWidgetMessage (data: unknown): WidgetMessage {
  if (!isRecord(data)) throw new InvalidMessageError('not a plain object')
  if (data.source !== WIDGET_SOURCE) throw new InvalidMessageError('not a Crosscheck widget message')
  if (data.v !== WIDGET_PROTOCOL_VERSION) throw new InvalidMessageError(`unsupported widget protocol version ${String(data.v)}`)
  const envelope: Envelope = { source: WIDGET_SOURCE, v: WIDGET_PROTOCOL_VERSION }
  switch (data.type) {
    case 'ready':
      if (!hasExactKeys(data, ['source', 'v', 'type'])) throw new InvalidMessageError('ready has the wrong keys')
      return { ...envelope, type: 'ready' }
    case 'state':
      if (!hasExactKeys(data, ['source', 'v', 'type', 'detail'])) throw new InvalidMessageError('state has the wrong keys')
      return { ...envelope, type: 'state', detail: parseDetail(data.detail) }
    case 'command':
      if (!hasExactKeys(data, ['source', 'v', 'type', 'command'])) throw new InvalidMessageError('command has the wrong keys')
      if (!oneOf(WIDGET_COMMANDS, data.command)) throw new InvalidMessageError('unknown command')
      return { ...envelope, type: 'command', command: data.command }
    default:
      throw new InvalidMessageError('unknown message type')
  }
}

/**
 * `origin` as a serialized http(s) origin, exactly (`https://host[:port]`, no
 * path, no trailing slash). Refuses `'*'`, `'null'` (any sandboxed or opaque
 * document has it: accepting it would accept them all) and other schemes.
 */
export function checkOrigin (origin: string): string {
  let url: URL
  try {
    url = new URL(origin)
  } catch (err) {
    throw new InvalidArgumentError(`not an origin: ${origin}`, { cause: err })
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== origin) throw new InvalidArgumentError(`not an http(s) origin: ${origin}`)
  return origin
}

export interface ExpectedSender {
  /** The one origin accepted, compared with `===`. */
  origin: string
  /** The one window accepted (`iframe.contentWindow` in the host, `window.parent` in the frame). */
  source: MessageEventSource | null
  /** Message types this side handles; others are refused. */
  accept: readonly WidgetMessageType[]
}

export type IgnoreReason = 'origin' | 'source' | 'shape' | 'type'

export type Acceptance = { ok: true, message: WidgetMessage } | { ok: false, reason: IgnoreReason, error?: string }

/** The part of a MessageEvent looked at. */
export interface MessageEventLike { origin: string, source: MessageEventSource | null, data: unknown }

/**
 * Decides whether one `message` event is for us: exact origin, exact source
 * window, valid shape, a type this side handles. Pure: no side effects.
 */
export function acceptMessage (event: MessageEventLike, expected: ExpectedSender): Acceptance {
  // an opaque ('null') origin never matches: checkOrigin refuses to expect it
  if (expected.origin === 'null' || event.origin !== expected.origin) return { ok: false, reason: 'origin' }
  if (expected.source == null || event.source !== expected.source) return { ok: false, reason: 'source' }
  let message: WidgetMessage
  try {
    message = parseWidgetMessage(event.data)
  } catch (err) {
    return { ok: false, reason: 'shape', error: (err as Error).message }
  }
  if (!expected.accept.includes(message.type)) return { ok: false, reason: 'type' }
  return { ok: true, message }
}

/** The part of `window` used to listen. */
export interface MessageTarget {
  addEventListener (type: 'message', listener: (evt: MessageEvent) => void): void
  removeEventListener (type: 'message', listener: (evt: MessageEvent) => void): void
}

/**
 * Calls `onMessage` with each accepted message on `target`, `onIgnored` with
 * the reason for every other `message` event. Returns the unsubscribe function.
 */
export function listen (target: MessageTarget, expected: ExpectedSender, onMessage: (m: WidgetMessage) => void, onIgnored?: (reason: IgnoreReason, event: MessageEvent) => void): () => void {
  checkOrigin(expected.origin)
  const listener = (event: MessageEvent): void => {
    const r = acceptMessage(event, expected)
    if (r.ok) onMessage(r.message)
    else onIgnored?.(r.reason, event)
  }
  target.addEventListener('message', listener)
  return () => { target.removeEventListener('message', listener) }
}

/** The part of a Window posted to. */
export interface PostTarget { postMessage (message: unknown, targetOrigin: string): void }

/**
 * Posts a validated message to `target`, delivered only if `target` is
 * showing a document of exactly `origin` (never `'*'`: the window may have
 * been navigated elsewhere since we looked).
 */
export function post (target: PostTarget, origin: string, message: WidgetMessage): void {
  target.postMessage(parseWidgetMessage(message), checkOrigin(origin))
}

export interface HostOriginSources {
  /** `location.ancestorOrigins` where the browser has it (Chromium, Safari), else undefined. */
  ancestorOrigins?: ArrayLike<string>
  /** The `host` query parameter the element put in the frame's URL. */
  hostParam: string | null
  /** `window.parent !== window` */
  framed: boolean
}

export type HostOrigin = { ok: true, origin: string } | { ok: false, reason: string }

/**
 * The frame's embedder, whose messages it accepts and to whom it posts.
 * `ancestorOrigins[0]` is the browser's word for the parent's origin; the
 * `host` parameter is the embedder's own claim and must agree with it. Where
 * there is no `ancestorOrigins` (Firefox) the claim is used alone: that is
 * safe because a lying embedder can neither receive (`post` targets the
 * claimed origin) nor send (its messages carry its real origin).
 */
export function resolveHostOrigin (s: HostOriginSources): HostOrigin {
  if (!s.framed) return { ok: false, reason: 'not embedded in a page' }
  const claimed = s.hostParam
  const parent = s.ancestorOrigins != null && s.ancestorOrigins.length > 0 ? s.ancestorOrigins[0] : undefined
  if (claimed == null || claimed === '') return { ok: false, reason: 'the embedding page did not say its origin' }
  try {
    checkOrigin(claimed)
  } catch {
    return { ok: false, reason: `the embedding page gave an invalid origin: ${claimed}` }
  }
  if (parent !== undefined && parent !== claimed) return { ok: false, reason: `the embedding page (${parent}) claims to be ${claimed}` }
  return { ok: true, origin: claimed }
}
