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
import { InvalidArgumentError } from '../errors.js'
import type { AbortOptions } from '../abort.js'
import { createLogger } from '../logger.js'
import { DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_RELAY_BACKOFF_INITIAL_MS, DEFAULT_RELAY_BACKOFF_MAX_MS } from './constants.js'
import { withTimeout, wrapAbort } from './signals.js'

const log = createLogger('network:relays')

const STATUS_POLL_MS = 1_000

export interface RelayStatus {
  /** The configured multiaddr, `/p2p/<relay id>` included. */
  addr: string
  /** An open connection to the relay. */
  connected: boolean
  /** A reservation on this relay is held (a `/p2p-circuit/webrtc` address through it). */
  reserved: boolean
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

type NodeEvents = Pick<Libp2pEvents, 'connection:open' | 'connection:close' | 'self:peer:update'>

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
}

interface RelayState {
  addr: Multiaddr
  text: string
  peerId: string
  attempts: number
  timer?: ReturnType<typeof setTimeout>
  dialing?: Promise<void>
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
  private readonly dialTimeout: number
  private readonly backoffInitial: number
  private readonly backoffMax: number
  private started = false
  private lastChange = ''
  private poll?: ReturnType<typeof setInterval>
  /** Aborted by stop(), so a start still waiting for a reservation gives up at once. */
  private stopping = new AbortController()

  constructor (components: RelayManagerComponents, init: RelayManagerInit) {
    super()
    this.components = components
    this.relays = parseRelays(init.relays).map(r => ({ ...r, attempts: 0 }))
    this.dialTimeout = init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT_MS
    this.backoffInitial = init.backoffInitial ?? DEFAULT_RELAY_BACKOFF_INITIAL_MS
    this.backoffMax = init.backoffMax ?? DEFAULT_RELAY_BACKOFF_MAX_MS
  }

  isStarted (): boolean { return this.started }

  /** Relay peer ids (kept out of the peer directory). */
  get peerIds (): Set<string> {
    return new Set(this.relays.map(r => r.peerId))
  }

  /**
   * Dials every relay and resolves once a reservation is held on any of them.
   * Throws TimeoutError after `dialTimeout`, or the dial error at once when
   * every relay refused; relays that failed keep being redialled (until stop).
   */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.started) return
    this.started = true
    this.stopping = new AbortController()
    const node = this.components.node
    node.addEventListener('connection:open', this.onConnectionChange)
    node.addEventListener('connection:close', this.onConnectionChange)
    node.addEventListener('self:peer:update', this.onSelfUpdate)
    // a reservation taken again after a redial shows up in getMultiaddrs()
    // without a self:peer:update event (seen with libp2p 3.3): look every second
    this.poll = setInterval(() => { this.emitIfChanged() }, STATUS_POLL_MS)
    const signal = withTimeout(AbortSignal.any([this.stopping.signal, ...(options.signal != null ? [options.signal] : [])]), this.dialTimeout)
    const what = `joining relay${this.relays.length > 1 ? 's' : ''} ${this.relays.map(r => r.text).join(', ')}`
    const errors: unknown[] = []
    try {
      await new Promise<void>((resolve, reject) => {
        const check = (): void => { if (this.reachable()) { cleanup(); resolve() } }
        const onAbort = (): void => { cleanup(); reject(wrapAbort(errors[0] ?? signal.reason, signal, what)) }
        const cleanup = (): void => {
          node.removeEventListener('self:peer:update', check)
          this.removeEventListener('network:relay', check)
          signal.removeEventListener('abort', onAbort)
        }
        node.addEventListener('self:peer:update', check)
        this.addEventListener('network:relay', check)
        signal.addEventListener('abort', onAbort, { once: true })
        for (const r of this.relays) {
          this.connect(r, signal).catch((err: unknown) => {
            errors.push(err)
            if (errors.length === this.relays.length) { cleanup(); reject(err) }
          })
        }
        check()
      })
    } finally {
      this.emitIfChanged()
    }
  }

  stop (): void {
    if (!this.started) return
    this.started = false
    this.stopping.abort()
    const node = this.components.node
    node.removeEventListener('connection:open', this.onConnectionChange)
    node.removeEventListener('connection:close', this.onConnectionChange)
    node.removeEventListener('self:peer:update', this.onSelfUpdate)
    clearInterval(this.poll)
    this.lastChange = ''
    for (const r of this.relays) {
      if (r.timer != null) clearTimeout(r.timer)
      r.timer = undefined
      r.attempts = 0
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
    return this.relays.map(r => ({
      addr: r.text,
      connected: open.has(r.peerId),
      reserved: addrs.some(a => a.includes(`/p2p/${r.peerId}/p2p-circuit`))
    }))
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
        r.attempts = 0
        log('connected to relay %s', r.text)
      } catch (err) {
        log('dialling relay %s failed: %s', r.text, (err as Error).message)
        this.scheduleReconnect(r)
        throw wrapAbort(err, dialSignal, `dialling relay ${r.text}`)
      }
    })().finally(() => { r.dialing = undefined })
    return await r.dialing
  }

  private scheduleReconnect (r: RelayState): void {
    if (!this.started || r.timer != null) return
    const delay = Math.min(this.backoffMax, this.backoffInitial * 2 ** r.attempts) * (0.5 + 0.5 * (this.components.random ?? Math.random)())
    r.attempts++
    log('redialling relay %s in %d ms (attempt %d)', r.text, Math.round(delay), r.attempts)
    r.timer = setTimeout(() => {
      r.timer = undefined
      if (!this.started || this.isConnected(r)) return
      this.connect(r).catch(() => { /* scheduled again by connect */ })
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

  private emitIfChanged (): void {
    const change = this.change()
    // self:peer:update fires for many reasons: only tell when relay state moved
    const key = JSON.stringify([change.reachable, change.relays])
    if (key === this.lastChange) return
    this.lastChange = key
    this.safeDispatchEvent('network:relay', { detail: change })
  }
}
