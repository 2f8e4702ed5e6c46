/**
 * Direct links: WebRTC connections opened on demand, signalled through a
 * relay, bounded and reused. Jobs and models only ever travel over these
 * (relayed connections are limited to 128 KiB / 2 min and pass through
 * somebody else's server).
 *
 * - A link is dialled only when a job or a model needs it (`ensureDirect`),
 *   never on discovery: a peer links only to peers it works with.
 * - At most `maxLinks` (16) are open: a new one first closes the least
 *   recently used idle link, and is refused (LinkLimitError) when all carry
 *   work; links a crowd dialled to us beyond the bound are closed too.
 * - A link that carried no job or model for `idleMs` (60 s) is closed.
 * - A browser creates at most `budget` links in its life (Chromium's
 *   ~500 RTCPeerConnection limit per tab): past it, LinkBudgetError.
 * - Once a direct link to a peer is open, the relayed connection that carried
 *   its signalling is closed (after a short grace, so the other side can
 *   finish its half of the handshake).
 *
 * Periodic cost: one sweep every `idleMs / 6` (10 s) over this peer's own
 * links (at most 16): no traffic, flat in the size of the network.
 *
 * @example
 * ```ts
 * const links = new DirectLinks({ node, routes: (id) => addrsFor(id) }, { dialTimeout: 20_000, maxLinks: 16 })
 * await links.start()
 * const conn = await links.ensureDirect(peerId, { signal })
 * links.stats() // { links, created, budgetLeft, maxLinks }
 * ```
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, Libp2pEvents, Startable } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { JobRejectedError, LinkBudgetError, LinkLimitError, NotStartedError } from '../errors.js'
import type { AbortOptions } from '../abort.js'
import { createLogger } from '../logger.js'
import { DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_LINK_BACKOFF_INITIAL_MS, DEFAULT_LINK_BACKOFF_MAX_MS, JOB_PROTOCOL, MODEL_PROTOCOL } from './constants.js'
import { asError, withTimeout, wrapAbort } from './signals.js'
import { LinkPool } from './link-pool.js'
import { idleJobStreams } from './protocols/job/framing.js'
import type { LinkPoolStats } from './link-pool.js'

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

/** A WebRTC address: dialling it makes an RTCPeerConnection in a browser. */
function isWebRTC (addr: Multiaddr): boolean {
  return addr.toString().includes('/webrtc')
}

/** A connection carried through a relay (a circuit), not WebRTC. */
function isRelayed (c: Connection): boolean {
  return c.multiplexer !== '/webrtc' && c.remoteAddr.toString().includes('/p2p-circuit')
}

type NodeEvents = Pick<Libp2pEvents, 'connection:open' | 'connection:close'>

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
  /** Direct links open at once. @default 16 */
  maxLinks?: number
  /** A link idle this long closes (ms). @default 60000 */
  idleMs?: number
  /** Direct links this peer may create in its life. @default Infinity (browsers: 450) */
  budget?: number
  /** Protocols whose open streams make a link busy (never closed as idle). @default job and model */
  workProtocols?: string[]
}

export class DirectLinks implements Startable, LinkDialer {
  private readonly components: LinkComponents
  private readonly dialTimeout: number
  private readonly backoffInitial: number
  private readonly backoffMax: number
  private readonly closeRelayed: boolean
  private readonly dialing = new Map<string, Promise<Connection>>()
  private readonly closeTimers = new Set<ReturnType<typeof setTimeout>>()
  private readonly pool: LinkPool
  private readonly workProtocols: Set<string>
  private sweepTimer?: ReturnType<typeof setInterval>
  private started = false

  constructor (components: LinkComponents, init: LinkInit = {}) {
    this.components = components
    this.dialTimeout = init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT_MS
    this.backoffInitial = init.backoffInitial ?? DEFAULT_LINK_BACKOFF_INITIAL_MS
    this.backoffMax = init.backoffMax ?? DEFAULT_LINK_BACKOFF_MAX_MS
    this.closeRelayed = init.closeRelayed ?? true
    this.pool = new LinkPool({ now: components.now }, { maxLinks: init.maxLinks, idleMs: init.idleMs, budget: init.budget })
    this.workProtocols = new Set(init.workProtocols ?? [JOB_PROTOCOL, MODEL_PROTOCOL])
  }

  isStarted (): boolean { return this.started }

  start (): void {
    if (this.started) return
    this.components.node.addEventListener('connection:open', this.onOpen)
    this.components.node.addEventListener('connection:close', this.onClose)
    for (const c of this.components.node.getConnections()) if (isDirect(c)) this.pool.opened(c.remotePeer.toString())
    this.sweepTimer = setInterval(() => { this.sweep() }, Math.max(1_000, Math.floor(this.pool.idleMs / 6)))
    this.started = true
  }

  stop (): void {
    if (!this.started) return
    this.started = false
    this.components.node.removeEventListener('connection:open', this.onOpen)
    this.components.node.removeEventListener('connection:close', this.onClose)
    clearInterval(this.sweepTimer)
    for (const t of this.closeTimers) clearTimeout(t)
    this.closeTimers.clear()
  }

  /** The open direct link to `peerId`, if any. */
  find (peerId: string): Connection | undefined {
    return this.components.node.getConnections().find(c => isDirect(c) && c.remotePeer.toString() === peerId)
  }

  /** Returns a direct WebRTC connection to `peerId`, dialling one through a relay's signalling if needed. */
  async ensureDirect (peerId: string, options: AbortOptions = {}): Promise<Connection> {
    if (!this.started) throw new NotStartedError('network is not started')
    const existing = this.find(peerId)
    if (existing != null) { this.pool.touch(peerId); return existing }
    let pending = this.dialing.get(peerId)
    if (pending == null) {
      if (this.pool.budgetLeft() - this.dialing.size <= 0) throw new LinkBudgetError(`this peer created ${this.pool.created} direct links, its lifetime budget (${this.pool.budget}); reload to start a fresh one`)
      const victim = this.pool.makeRoom(peerId, this.busy)
      if (victim === null) throw new LinkLimitError(`all ${this.pool.maxLinks} direct links carry work: no room for a link to ${peerId}`)
      if (victim !== undefined) this.closeLink(victim, 'making room for a new link')
      pending = this.dial(peerId, withTimeout(options.signal, this.dialTimeout)).finally(() => { this.dialing.delete(peerId) })
      this.dialing.set(peerId, pending)
    }
    // a caller joining someone else's dial still gets to give up on its own signal
    return await raceSignal(pending, options.signal, `dialling ${peerId}`)
  }

  /** Links open, created in this peer's life, and budget left. */
  stats (): LinkPoolStats {
    return this.pool.stats()
  }

  /** Links this peer may still create. */
  budgetLeft (): number { return this.pool.budgetLeft() }

  /** How long a requester should wait before its next pool rotation (slower as the budget is spent). */
  rotationDelay (base: number): number { return this.pool.rotationDelay(base) }

  /**
   * This peer no longer needs the link to `peerId` (it left the requester's
   * pool): closed now unless it carries work, so a rotation does not push a
   * current member's link out through `makeRoom` instead.
   */
  release (peerId: string): void {
    if (this.find(peerId) != null && !this.busy(peerId)) this.closeLink(peerId, 'no longer in the replica pool')
  }

  /** The link to `peerId` carried work now (keeps it from closing as idle). */
  touch (peerId: string): void { this.pool.touch(peerId) }

  /**
   * A job or model stream carries work on the link to `peerId`. An idle job
   * stream (pooled between exchanges, `idleJobStreams`) does not: a link whose
   * only streams are idle closes as idle, or gives its place under the bound.
   */
  private readonly busy = (peerId: string): boolean => {
    const c = this.find(peerId)
    return c != null && c.streams.some(s => s.protocol != null && this.workProtocols.has(s.protocol) && !idleJobStreams.has(s))
  }

  /** Closes idle links and links over the bound; busy links count as used now. */
  private sweep (): void {
    if (!this.started) return
    for (const c of this.components.node.getConnections()) {
      if (!isDirect(c)) continue
      const id = c.remotePeer.toString()
      this.pool.opened(id)
      if (this.busy(id)) this.pool.touch(id)
    }
    for (const id of this.pool.toClose(this.busy)) this.closeLink(id, 'idle or over the link bound')
  }

  private closeLink (peerId: string, why: string): void {
    this.pool.closed(peerId)
    for (const c of this.components.node.getConnections()) {
      if (!isDirect(c) || c.remotePeer.toString() !== peerId) continue
      log('closing the link to %s: %s', peerId, why)
      c.close({ signal: AbortSignal.timeout(5_000) }).catch((err: unknown) => { c.abort(asError(err)) })
    }
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
        if (round > 0 && isWebRTC(addr) && this.pool.budgetLeft() <= 0) throw new LinkBudgetError(`this peer created ${this.pool.created} direct links (failed dials included), its lifetime budget (${this.pool.budget}); reload to start a fresh one`)
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
          // a failed WebRTC dial still made an RTCPeerConnection: it spends the budget
          if (isWebRTC(addr)) this.pool.dialFailed()
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

  private readonly onClose = (evt: CustomEvent<Connection>): void => {
    const id = evt.detail.remotePeer.toString()
    if (this.find(id) == null) this.pool.closed(id)
  }

  private readonly onOpen = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail
    if (!isDirect(conn)) return
    const id = conn.remotePeer.toString()
    this.pool.opened(id)
    // a crowd dialling us must not push us past the bound: the least recently used idle links go
    if (this.pool.size > this.pool.maxLinks) for (const victim of this.pool.toClose(this.busy)) this.closeLink(victim, 'over the link bound')
    if (!this.closeRelayed) return
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
