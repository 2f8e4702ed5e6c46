/**
 * Direct links: one WebRTC connection per peer, signalled through a relay.
 * Jobs and models only ever travel over these (relayed connections are
 * limited to 128 KiB / 2 min and pass through somebody else's server).
 *
 * - On discovery only the lower peer id dials, so one link forms per pair;
 *   a failed dial is retried with exponential backoff on later discoveries.
 * - Once a direct link to a peer is open, the relayed connection that carried
 *   its signalling is closed (after a short grace, so the other side can
 *   finish its half of the handshake). Left open, each pair kept one or more
 *   circuits, and their hop/stop streams, on the relay for minutes (NOTES,
 *   Churn).
 *
 * @example
 * ```ts
 * const links = new DirectLinks({ node, routes: (id) => addrsFor(id) }, { dialTimeout: 20_000 })
 * await links.start()
 * const conn = await links.ensureDirect(peerId, { signal })
 * ```
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, Libp2pEvents, Startable } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { JobRejectedError, NotStartedError } from '../errors.js'
import type { AbortOptions } from '../abort.js'
import { createLogger } from '../logger.js'
import { DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_LINK_BACKOFF_INITIAL_MS, DEFAULT_LINK_BACKOFF_MAX_MS } from './constants.js'
import { asError, withTimeout, wrapAbort } from './signals.js'

const log = createLogger('network:links')

/** How long a relayed connection is left open after a direct link to the same peer opened. */
const RELAYED_CLOSE_GRACE_MS = 5_000

/**
 * A direct WebRTC link: unlimited, WebRTC's own multiplexer. (The dialler's
 * remoteAddr is the `/p2p-circuit/webrtc` address it dialled, signalled through
 * the relay; the listener sees `/webrtc`. Either way the data path is WebRTC.)
 */
export function isDirect (c: Connection): boolean {
  return c.status === 'open' && c.limits == null && c.multiplexer === '/webrtc' && c.remoteAddr.toString().includes('/webrtc')
}

/** A connection carried through a relay (a circuit), not WebRTC. */
function isRelayed (c: Connection): boolean {
  return c.multiplexer !== '/webrtc' && c.remoteAddr.toString().includes('/p2p-circuit')
}

type NodeEvents = Pick<Libp2pEvents, 'connection:open'>

/** The part of a libp2p node this module uses. */
export interface LinkNode {
  peerId: { toString: () => string }
  dial: (addr: Multiaddr, options: { signal: AbortSignal, force: boolean }) => Promise<Connection>
  getConnections: (peerId?: ReturnType<typeof peerIdFromString>) => Connection[]
  addEventListener: <K extends keyof NodeEvents>(type: K, listener: (evt: NodeEvents[K]) => void) => void
  removeEventListener: <K extends keyof NodeEvents>(type: K, listener: (evt: NodeEvents[K]) => void) => void
}

/** What the job and model protocols need from the link layer. */
export interface LinkDialer {
  ensureDirect: (peerId: string, options?: AbortOptions) => Promise<Connection>
}

export interface LinkComponents {
  node: LinkNode
  /** `/p2p-circuit/webrtc` addresses to dial `peerId` on, best first. */
  routes: (peerId: string) => Multiaddr[]
  /** @default Math.random (backoff jitter) */
  random?: () => number
  /** @default Date.now */
  now?: () => number
}

export interface LinkInit {
  /** One direct dial attempt (ms). @default 20000 */
  dialTimeout?: number
  /** First wait before redialling a peer whose dial failed (ms). @default 1000 */
  backoffInitial?: number
  /** Longest wait between redials to one peer (ms). @default 30000 */
  backoffMax?: number
  /** Close relayed connections to a peer once a direct link to it is open. @default true */
  closeRelayed?: boolean
}

export class DirectLinks implements Startable, LinkDialer {
  private readonly components: LinkComponents
  private readonly dialTimeout: number
  private readonly backoffInitial: number
  private readonly backoffMax: number
  private readonly closeRelayed: boolean
  private readonly dialing = new Map<string, Promise<Connection>>()
  private readonly failures = new Map<string, { attempts: number, nextAt: number }>()
  private readonly closeTimers = new Set<ReturnType<typeof setTimeout>>()
  private started = false

  constructor (components: LinkComponents, init: LinkInit = {}) {
    this.components = components
    this.dialTimeout = init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT_MS
    this.backoffInitial = init.backoffInitial ?? DEFAULT_LINK_BACKOFF_INITIAL_MS
    this.backoffMax = init.backoffMax ?? DEFAULT_LINK_BACKOFF_MAX_MS
    this.closeRelayed = init.closeRelayed ?? true
  }

  isStarted (): boolean { return this.started }

  start (): void {
    if (this.started) return
    this.components.node.addEventListener('connection:open', this.onOpen)
    this.started = true
  }

  stop (): void {
    if (!this.started) return
    this.started = false
    this.components.node.removeEventListener('connection:open', this.onOpen)
    for (const t of this.closeTimers) clearTimeout(t)
    this.closeTimers.clear()
    this.failures.clear()
  }

  /** The open direct link to `peerId`, if any. */
  find (peerId: string): Connection | undefined {
    return this.components.node.getConnections(peerIdFromString(peerId)).find(isDirect)
  }

  /**
   * Seen on discovery: dials when this side is the lower id, the peer listed a
   * WebRTC address, no link or dial exists and its backoff has passed.
   */
  discovered (peerId: string, addrs: string[]): void {
    if (!this.started) return
    const self = this.components.node.peerId.toString()
    if (!(self < peerId) || !addrs.some(a => a.includes('/webrtc'))) return
    if (this.dialing.has(peerId) || this.find(peerId) != null) return
    const failure = this.failures.get(peerId)
    const now = (this.components.now ?? Date.now)()
    if (failure != null && now < failure.nextAt) return
    this.ensureDirect(peerId).then(() => {
      this.failures.delete(peerId)
    }, (err: Error) => {
      const attempts = (failure?.attempts ?? 0) + 1
      const delay = Math.min(this.backoffMax, this.backoffInitial * 2 ** (attempts - 1)) * (0.5 + 0.5 * (this.components.random ?? Math.random)())
      this.failures.set(peerId, { attempts, nextAt: (this.components.now ?? Date.now)() + delay })
      log('direct dial to %s failed (attempt %d, next in %d ms): %s', peerId, attempts, Math.round(delay), err.message)
    })
  }

  /** Returns a direct WebRTC connection to `peerId`, dialling one through a relay's signalling if needed. */
  async ensureDirect (peerId: string, options: AbortOptions = {}): Promise<Connection> {
    if (!this.started) throw new NotStartedError('network is not started')
    const existing = this.find(peerId)
    if (existing != null) return existing
    let pending = this.dialing.get(peerId)
    if (pending == null) {
      pending = this.dial(peerId, withTimeout(options.signal, this.dialTimeout)).finally(() => { this.dialing.delete(peerId) })
      this.dialing.set(peerId, pending)
    }
    // a caller joining someone else's dial still gets to give up on its own signal
    return await raceSignal(pending, options.signal, `dialling ${peerId}`)
  }

  /** Closes a link that failed, so the next ensureDirect dials a fresh one. */
  drop (conn: Connection, err: unknown): void {
    conn.abort(asError(err))
  }

  /**
   * Dials each route in turn, again and again until `signal` ends: a WebRTC
   * handshake that fails (node-datachannel sometimes loses ICE on loopback)
   * can leave its dial hanging until libp2p's own dial timeout, so one failed
   * attempt must not use up the caller's whole budget. Between rounds it
   * waits (backoff) for a link the other side may be dialling.
   */
  private async dial (peerId: string, signal: AbortSignal): Promise<Connection> {
    for (let round = 0; ; round++) {
      for (const addr of this.components.routes(peerId)) {
        try {
          log('dialling %s via %s', peerId, addr.toString())
          // force: an existing relayed (limited) connection must not satisfy this dial
          const c = await this.components.node.dial(addr, { signal, force: true })
          if (isDirect(c)) return c
          log('dial to %s gave a connection that is not direct (%s)', peerId, c.remoteAddr.toString())
        } catch (err) {
          // the other side may be dialling us at the same moment: its link counts too
          const c = this.find(peerId)
          if (c != null) return c
          if (signal.aborted) throw wrapAbort(err, signal, `dialling ${peerId}`)
          log('direct dial to %s via %s failed: %s', peerId, addr.toString(), (err as Error).message)
        }
      }
      const wait = Math.min(this.backoffMax, this.backoffInitial * 2 ** round)
      try {
        return await this.waitForDirect(peerId, withTimeout(signal, wait))
      } catch (err) {
        if (signal.aborted) throw wrapAbort(err, signal, `dialling ${peerId}`)
      }
    }
  }

  private async waitForDirect (peerId: string, signal: AbortSignal): Promise<Connection> {
    const found = this.find(peerId)
    if (found != null) return found
    const node = this.components.node
    return await new Promise<Connection>((resolve, reject) => {
      const onOpen = (evt: CustomEvent<Connection>): void => {
        if (evt.detail.remotePeer.toString() === peerId && isDirect(evt.detail)) { cleanup(); resolve(evt.detail) }
      }
      const onAbort = (): void => { cleanup(); reject(wrapAbort(new JobRejectedError(`no direct connection to ${peerId}`), signal, `dialling ${peerId}`)) }
      const cleanup = (): void => { node.removeEventListener('connection:open', onOpen); signal.removeEventListener('abort', onAbort) }
      node.addEventListener('connection:open', onOpen)
      signal.addEventListener('abort', onAbort, { once: true })
      if (signal.aborted) onAbort()
    })
  }

  private readonly onOpen = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail
    if (!this.closeRelayed || !isDirect(conn)) return
    this.failures.delete(conn.remotePeer.toString())
    const timer = setTimeout(() => {
      this.closeTimers.delete(timer)
      if (!this.started || conn.status !== 'open') return
      for (const c of this.components.node.getConnections(conn.remotePeer)) {
        if (c === conn || !isRelayed(c) || c.status !== 'open') continue
        log('closing relayed connection %s to %s: a direct link is open', c.id, c.remotePeer.toString())
        c.close({ signal: AbortSignal.timeout(5_000) }).catch((err: unknown) => { c.abort(asError(err)) })
      }
    }, RELAYED_CLOSE_GRACE_MS)
    this.closeTimers.add(timer)
  }
}

async function raceSignal<T> (promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal == null) return await promise
  if (signal.aborted) throw wrapAbort(signal.reason, signal, what)
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(wrapAbort(signal.reason, signal, what)) }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}
