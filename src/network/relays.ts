/**
 * Relays: every configured relay is dialled; a relay whose connection drops
 * is redialled with exponential backoff and jitter (1 s → 30 s by default),
 * and the circuit relay transport then takes a fresh reservation on it, which
 * shows up again as a `/p2p-circuit/webrtc` address. Direct WebRTC links do
 * not pass through a relay and keep working meanwhile.
 *
 * `reachable()` means this peer holds a reservation now: other peers can
 * signal it through a relay, so it can be offered jobs.
 *
 * @example
 * ```ts
 * const relays = new RelayManager({ node }, { relays: ['/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3…'] })
 * relays.addEventListener('network:relay', (evt) => render(evt.detail.relays))
 * await relays.start({ signal }) // resolves once a reservation is held
 * ```
 */
import { TypedEventEmitter } from '@libp2p/interface'
import type { Connection, Libp2pEvents, Startable } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError, RelayUnreachableError, ReservationRefusedError, TimeoutError } from '../errors.js'
import type { AbortOptions } from '../abort.js'
import { createLogger } from '../logger.js'
import { DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_RELAY_BACKOFF_INITIAL_MS, DEFAULT_RELAY_BACKOFF_MAX_MS } from './constants.js'
import { withTimeout, wrapAbort } from './signals.js'
import { describeDialFailure } from './diagnose.js'
import { sha256Hex } from '../tensor/index.js'
import { DEFAULT_RELAY_FANOUT } from './constants.js'
import type { ReservationFailure } from './libp2p.js'

const log = createLogger('network:relays')

const STATUS_POLL_MS = 1_000

export interface RelayStatus {
  /** The configured multiaddr, `/p2p/<relay id>` included. */
  addr: string
  /** An open connection to the relay. */
  connected: boolean
  /** A reservation on this relay is held (a `/p2p-circuit/webrtc` address through it). */
  reserved: boolean
  /** The relay's answer when it last refused a reservation (`RESERVATION_REFUSED`: out of capacity); gone once one is held. */
  refused?: string
}

export interface RelayChange {
  /** Some relay is connected. */
  connected: boolean
  /** Some reservation is held: other peers can reach this one. */
  reachable: boolean
  /** This peer's multiaddrs now. */
  addresses: string[]
  relays: RelayStatus[]
}

export interface RelayManagerEvents {
  /** Connection or reservation state of some relay changed. */
  'network:relay': CustomEvent<RelayChange>
}

type NodeEvents = Pick<Libp2pEvents, 'connection:open' | 'connection:close' | 'self:peer:update' | 'transport:listening'>

/** The part of a libp2p node this module uses. */
export interface RelayNode {
  dial: (addr: Multiaddr, options: { signal: AbortSignal }) => Promise<Connection>
  getConnections: () => Connection[]
  getMultiaddrs: () => Multiaddr[]
  addEventListener: <K extends keyof NodeEvents>(type: K, listener: (evt: NodeEvents[K]) => void) => void
  removeEventListener: <K extends keyof NodeEvents>(type: K, listener: (evt: NodeEvents[K]) => void) => void
}

export interface RelayManagerComponents {
  node: RelayNode
  /** This peer's id: its home relays are the first `fanout` by rendezvous hash of (id, relay id). */
  self?: string
  /** @default Math.random (backoff jitter) */
  random?: () => number
}

export interface RelayManagerInit {
  /** Relay multiaddrs, each ending in `/p2p/<relay id>`. At least one. */
  relays: string[]
  /** Joining at start, and each redial (ms). @default 20000 */
  dialTimeout?: number
  /** First wait before redialling a dropped relay (ms). @default 1000 */
  backoffInitial?: number
  /** Longest wait between redials (ms). @default 30000 */
  backoffMax?: number
  /**
   * Relays joined at once: this peer's home relays, the first by rendezvous
   * hash of its id, so peers spread evenly over the relays and adding relays
   * adds capacity. A joined relay whose redial fails gives way to the next
   * one in this peer's order. @default 2
   */
  fanout?: number
}

/**
 * Rendezvous (highest random weight) order of relays for one peer: every
 * peer ranks the relays differently but stably, so load spreads evenly and
 * only the peers of a relay that goes away move.
 */
export function homeOrder<T extends { peerId: string }> (self: string, relays: readonly T[]): T[] {
  const score = (r: T): string => sha256Hex(new TextEncoder().encode(`${self}|${r.peerId}`))
  return [...relays].map(r => [score(r), r] as const).sort((a, b) => (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0)).map(([, r]) => r)
}

interface RelayState {
  addr: Multiaddr
  text: string
  peerId: string
  /** Redials since a reservation was last held here: the backoff exponent. */
  attempts: number
  timer?: ReturnType<typeof setTimeout>
  dialing?: Promise<void>
  /** Status of the relay's last refusal, until a reservation is held. */
  refused?: string
}

function refusalMessage (addr: string, status: string): string {
  const why = status === 'RESERVATION_REFUSED' ? 'it is out of reservation capacity (its maxReservations are all taken)' : status === 'PERMISSION_DENIED' ? 'it does not allow this peer' : 'it gave no reason'
  return `relay ${addr} refused a reservation (${status}): ${why}; other peers cannot reach this one through it`
}

/** One error for a start that failed on every relay: the relay's own when one, else all of them in one message. */
function combineFailures (errors: Error[]): Error {
  if (errors.length === 1) return errors[0]
  const relays = errors.flatMap(e => (e as { relays?: string[] }).relays ?? [])
  const message = `could not join any of the ${errors.length} relays: ${errors.map(e => e.message).join('; ')}`
  if (errors.every(e => e.name === 'ReservationRefusedError')) {
    return new ReservationRefusedError(message, { cause: errors[0], relays, status: (errors[0] as ReservationRefusedError).status })
  }
  return new RelayUnreachableError(message, { cause: errors[0], relays })
}

/** Parses relay multiaddrs; each must name its peer id. */
export function parseRelays (relays: string[]): Array<{ addr: Multiaddr, text: string, peerId: string }> {
  if (relays.length === 0) throw new InvalidArgumentError('at least one relay address is needed')
  return [...new Set(relays)].map(text => {
    let addr: Multiaddr
    try {
      addr = multiaddr(text)
    } catch (err) {
      throw new InvalidArgumentError(`not a multiaddr: ${text}`, { cause: err })
    }
    const peerId = addr.getComponents().find(c => c.name === 'p2p')?.value
    if (peerId == null) throw new InvalidArgumentError(`relay address must end with /p2p/<peer id>: ${text}`)
    return { addr, text, peerId }
  })
}

export class RelayManager extends TypedEventEmitter<RelayManagerEvents> implements Startable {
  private readonly components: RelayManagerComponents
  private readonly relays: RelayState[]
  /** The same relays in this peer's home order (rendezvous hash of its id). */
  private readonly order: RelayState[]
  /** The relays joined now (at most `fanout`), in this peer's home order; the rest are spares. */
  private readonly active = new Set<RelayState>()
  private readonly fanout: number
  private readonly dialTimeout: number
  private readonly backoffInitial: number
  private readonly backoffMax: number
  private started = false
  private lastChange = ''
  private poll?: ReturnType<typeof setInterval>
  /** Aborted by stop(), so a start still waiting for a reservation gives up at once. */
  private stopping = new AbortController()
  /** While start() waits: a relay failed for good (unreachable, refused). */
  private onRelayFailed?: (r: RelayState, err: Error) => void

  constructor (components: RelayManagerComponents, init: RelayManagerInit) {
    super()
    this.components = components
    this.relays = parseRelays(init.relays).map(r => ({ ...r, attempts: 0 }))
    this.order = homeOrder(components.self ?? '', this.relays)
    this.fanout = Math.max(1, init.fanout ?? DEFAULT_RELAY_FANOUT)
    this.dialTimeout = init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT_MS
    this.backoffInitial = init.backoffInitial ?? DEFAULT_RELAY_BACKOFF_INITIAL_MS
    this.backoffMax = init.backoffMax ?? DEFAULT_RELAY_BACKOFF_MAX_MS
  }

  isStarted (): boolean { return this.started }

  /** The relays joined now, home first. */
  joined (): string[] {
    return this.order.filter(r => this.active.has(r)).map(r => r.text)
  }

  /** Relay peer ids (kept out of the peer directory). */
  get peerIds (): Set<string> {
    return new Set(this.relays.map(r => r.peerId))
  }

  /**
   * Dials every relay and resolves once a reservation is held on any of them.
   * Throws, naming each relay address and what failed, once every relay has
   * failed: RelayUnreachableError (refused, unreachable, no answer within
   * `dialTimeout`, another peer id answered), ReservationRefusedError (the
   * relay is out of reservation capacity), or TimeoutError (connected, but no
   * reservation came within `dialTimeout`). Relays that failed keep being
   * redialled with backoff (until stop).
   */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.started) return
    this.started = true
    this.stopping = new AbortController()
    this.active.clear()
    for (const r of this.order.slice(0, this.fanout)) this.active.add(r)
    const node = this.components.node
    node.addEventListener('connection:open', this.onConnectionChange)
    node.addEventListener('connection:close', this.onConnectionChange)
    node.addEventListener('self:peer:update', this.onSelfUpdate)
    // libp2p debounces self:peer:update by 1 s; the circuit listener says at once when a reservation's addresses change
    node.addEventListener('transport:listening', this.onSelfUpdate)
    // a reservation taken again after a redial shows up in getMultiaddrs()
    // without a self:peer:update event (seen with libp2p 3.3): look every second
    this.poll = setInterval(() => { this.emitIfChanged() }, STATUS_POLL_MS)
    const signal = withTimeout(AbortSignal.any([this.stopping.signal, ...(options.signal != null ? [options.signal] : [])]), this.dialTimeout)
    const what = `joining relay${this.relays.length > 1 ? 's' : ''} ${this.relays.map(r => r.text).join(', ')}`
    const failed = new Map<RelayState, Error>()
    try {
      await new Promise<void>((resolve, reject) => {
        const check = (): void => { if (this.reachable()) { cleanup(); resolve() } }
        const onAbort = (): void => { cleanup(); reject(this.timeoutError(signal, what, failed)) }
        const cleanup = (): void => {
          node.removeEventListener('self:peer:update', check)
          this.removeEventListener('network:relay', check)
          signal.removeEventListener('abort', onAbort)
          this.onRelayFailed = undefined
        }
        this.onRelayFailed = (r, err) => {
          failed.set(r, err)
          if (failed.size === this.relays.length) { cleanup(); reject(combineFailures([...failed.values()])) }
        }
        node.addEventListener('self:peer:update', check)
        this.addEventListener('network:relay', check)
        signal.addEventListener('abort', onAbort, { once: true })
        const join = (r: RelayState): void => {
          this.connect(r, signal).catch((err: Error) => {
            // a dial cut short by the overall timeout or a stop is onAbort's to report
            if (signal.aborted) return
            this.onRelayFailed?.(r, err)
            const spare = this.failover(r)
            if (spare != null) join(spare)
          })
        }
        for (const r of this.active) join(r)
        check()
      })
    } finally {
      this.emitIfChanged()
    }
  }

  /**
   * Tells the manager that a relay refused a reservation or failed to make
   * one (the network learns it from the circuit relay transport). A refusal
   * fails a pending start once every relay failed, shows in `status()`, and
   * the relay is asked again later, with backoff: the transport never asks a
   * relay twice by itself, even after it freed capacity.
   */
  reservationFailed (failure: ReservationFailure): void {
    const r = this.relays.find(r => r.peerId === failure.relay)
    if (r == null || !this.started || failure.status == null) return
    log('relay %s refused a reservation: %s', r.text, failure.status)
    r.refused = failure.status
    this.onRelayFailed?.(r, new ReservationRefusedError(refusalMessage(r.text, failure.status), { cause: failure.error, relays: [r.text], status: failure.status }))
    this.emitIfChanged()
    // asking again takes a new connection: the transport only reserves on connect
    const conns = this.components.node.getConnections().filter(c => c.remotePeer.toString() === r.peerId)
    if (conns.length === 0) { this.scheduleReconnect(r); return }
    for (const c of conns) void c.close().catch(() => {})
  }

  stop (): void {
    if (!this.started) return
    this.started = false
    this.stopping.abort()
    const node = this.components.node
    node.removeEventListener('connection:open', this.onConnectionChange)
    node.removeEventListener('connection:close', this.onConnectionChange)
    node.removeEventListener('self:peer:update', this.onSelfUpdate)
    node.removeEventListener('transport:listening', this.onSelfUpdate)
    clearInterval(this.poll)
    this.lastChange = ''
    for (const r of this.relays) {
      if (r.timer != null) clearTimeout(r.timer)
      r.timer = undefined
      r.attempts = 0
      r.refused = undefined
    }
  }

  /** A reservation is held now (a `/p2p-circuit/webrtc` address). */
  reachable (): boolean {
    return this.components.node.getMultiaddrs().some(a => a.toString().includes('/p2p-circuit/webrtc'))
  }

  /** Some relay is connected. */
  connected (): boolean {
    return this.status().some(s => s.connected)
  }

  status (): RelayStatus[] {
    const open = new Set(this.components.node.getConnections().filter(c => c.status === 'open').map(c => c.remotePeer.toString()))
    const addrs = this.components.node.getMultiaddrs().map(String)
    return this.relays.map(r => {
      const reserved = addrs.some(a => a.includes(`/p2p/${r.peerId}/p2p-circuit`))
      return { addr: r.text, connected: open.has(r.peerId), reserved, ...(!reserved && r.refused != null ? { refused: r.refused } : {}) }
    })
  }

  /** Addresses of the relays connected now (to signal WebRTC through), configured order. */
  connectedAddrs (): Multiaddr[] {
    const status = this.status()
    return this.relays.filter((_, i) => status[i].connected).map(r => r.addr)
  }

  /** The change event's detail, as things stand. */
  change (): RelayChange {
    const relays = this.status()
    return { connected: relays.some(s => s.connected), reachable: this.reachable(), addresses: this.components.node.getMultiaddrs().map(String), relays }
  }

  private async connect (r: RelayState, signal?: AbortSignal): Promise<void> {
    if (r.dialing != null) return await r.dialing
    r.dialing = (async () => {
      const dialSignal = withTimeout(signal, this.dialTimeout)
      try {
        await this.components.node.dial(r.addr, { signal: dialSignal })
        // attempts start over once a reservation is held (see noteReserved), not
        // here: a relay that accepts connections but refuses reservations must
        // still be asked less and less often
        log('connected to relay %s', r.text)
      } catch (err) {
        this.scheduleReconnect(r)
        // the caller aborted or stopped: not the relay's fault
        if (dialSignal.aborted && (signal?.aborted === true)) throw wrapAbort(err, dialSignal, `dialling relay ${r.text}`)
        const why = await describeDialFailure(r.addr, err, dialSignal.aborted ? { timedOut: this.dialTimeout } : {})
        log('dialling relay %s failed: %s', r.text, why)
        throw new RelayUnreachableError(`could not reach relay ${r.text}: ${why}`, { cause: err, relays: [r.text] })
      }
    })().finally(() => { r.dialing = undefined })
    return await r.dialing
  }

  /**
   * Gives a failing joined relay's place to the next spare in home order;
   * returns the spare, or undefined when none is left (the failing relay then
   * stays joined and keeps being redialled).
   */
  private failover (r: RelayState): RelayState | undefined {
    if (!this.started || !this.active.has(r)) return undefined
    const spare = this.order.find(s => !this.active.has(s) && !this.isConnected(s) && s.refused == null && s.attempts === 0)
    if (spare == null) return undefined
    log('relay %s is down: joining %s instead', r.text, spare.text)
    this.active.delete(r)
    // it may come back: ready to be a spare again after its backoff
    if (r.timer != null) clearTimeout(r.timer)
    r.timer = setTimeout(() => { r.timer = undefined; r.attempts = 0 }, Math.min(this.backoffMax, this.backoffInitial * 2 ** r.attempts))
    this.active.add(spare)
    return spare
  }

  private scheduleReconnect (r: RelayState): void {
    if (!this.started || r.timer != null || !this.active.has(r)) return
    const delay = Math.min(this.backoffMax, this.backoffInitial * 2 ** r.attempts) * (0.5 + 0.5 * (this.components.random ?? Math.random)())
    r.attempts++
    log('redialling relay %s in %d ms (attempt %d)', r.text, Math.round(delay), r.attempts)
    r.timer = setTimeout(() => {
      r.timer = undefined
      if (!this.started || this.isConnected(r) || !this.active.has(r)) return
      this.connect(r).catch(() => {
        // still down: a spare relay takes its place (this one is retried while spares last)
        const spare = this.failover(r)
        if (spare != null) this.connect(spare).catch(() => {})
      })
    }, delay)
  }

  private isConnected (r: RelayState): boolean {
    return this.components.node.getConnections().some(c => c.status === 'open' && c.remotePeer.toString() === r.peerId)
  }

  private readonly onConnectionChange = (evt: CustomEvent<Connection>): void => {
    const r = this.relays.find(r => r.peerId === evt.detail.remotePeer.toString())
    if (r == null) return
    if (evt.type === 'connection:close' && this.started && !this.isConnected(r)) {
      log('lost relay %s', r.text)
      this.scheduleReconnect(r)
    }
    this.emitIfChanged()
  }

  private readonly onSelfUpdate = (): void => { this.emitIfChanged() }

  /** A relay holding our reservation is healthy again: its backoff and refusal are forgotten. */
  private noteReserved (status: RelayStatus[]): void {
    status.forEach((s, i) => {
      if (!s.reserved) return
      this.relays[i].attempts = 0
      this.relays[i].refused = undefined
    })
  }

  /** Why a start ran out of time: every relay's failure, else what is still missing. */
  private timeoutError (signal: AbortSignal, what: string, failed: Map<RelayState, Error>): unknown {
    const reason = signal.reason as { name?: string } | undefined
    if (reason?.name !== 'TimeoutError') return wrapAbort(reason, signal, what)
    const status = this.status()
    if (failed.size > 0 && status.every(s => !s.connected)) return combineFailures([...failed.values()])
    if (status.some(s => s.connected)) {
      const connected = status.filter(s => s.connected).map(s => s.addr).join(', ')
      return new TimeoutError(`${what} timed out: connected to ${connected}, but no reservation came within ${this.dialTimeout} ms`)
    }
    return new RelayUnreachableError(`could not reach relay${this.relays.length > 1 ? 's' : ''} ${this.relays.map(r => r.text).join(', ')}: no answer within ${this.dialTimeout} ms`, { relays: this.relays.map(r => r.text) })
  }

  private emitIfChanged (): void {
    const change = this.change()
    this.noteReserved(change.relays)
    // self:peer:update fires for many reasons: only tell when relay state moved
    const key = JSON.stringify([change.reachable, change.relays])
    if (key === this.lastChange) return
    this.lastChange = key
    this.safeDispatchEvent('network:relay', { detail: change })
  }
}
