/**
 * The peer side of the directory: `LeaseKeeper` keeps this contributor's
 * signed lease on its relays, `Sampler` asks them for random live
 * contributors. Both talk only to this peer's own relays (at most 2), over
 * their WebSocket connections.
 *
 * Periodic cost: one lease renewal to each joined relay every `renewMs`
 * (45 s), a few hundred bytes; nothing at all for a peer that does not
 * contribute. A sample is asked only when a requester needs peers.
 *
 * @example
 * ```ts
 * const keeper = new LeaseKeeper({ privateKey, peerId, connections, addrs, budgetLeft }, { renewMs: 45_000 })
 * keeper.start()
 * await keeper.set({ ...capabilities, peerId, at: Date.now(), slots: 4 })
 * keeper.state().held // a relay holds it: requesters can draw this peer
 * const { leases } = await new Sampler({ peerId, connections }).sample({ count: 16, exclude: [], renew: [] }, { signal })
 * ```
 */
import { TypedEventEmitter } from '@libp2p/interface'
import type { Connection, PrivateKey, Startable } from '@libp2p/interface'
import { NotEnoughPeersError } from '../errors.js'
import type { AbortOptions } from '../abort.js'
import { createLogger } from '../logger.js'
import { DEFAULT_LEASE_RENEW_MS, DEFAULT_LEASE_TTL_MS, MAX_LEASE_ADDRS } from './constants.js'
import { leaseChanged, openLease, signLease } from './lease.js'
import type { Lease, LeaseBody } from './lease.js'
import { directoryRequest } from './protocols/directory/index.js'
import type { SampleRequest } from './protocols/directory/index.js'

const log = createLogger('network:leases')

/** A failed put is tried again this soon, not a whole renewal later. */
const RETRY_MS = 5_000

export interface LeaseInit {
  /** Renewal when nothing changed (ms). @default 45000 */
  renewMs?: number
  /** How long a lease counts unless renewed (ms). @default 90000 */
  ttl?: number
}

export interface LeaseComponents {
  privateKey: PrivateKey
  peerId: string
  /** Open connections to the relays joined now. */
  connections: () => Connection[]
  /** This peer's `/p2p-circuit/webrtc` addresses now. */
  addrs: () => string[]
  /** Links this peer may still create: none left, it takes no more jobs (slots 0). */
  budgetLeft: () => number
  /** @default Date.now */
  now?: () => number
}

export interface LeaseState {
  /** Some relay connected now holds this peer's current lease. */
  held: boolean
  /** Peer ids of the relays that hold it. */
  relays: string[]
  seq: number
}

export interface LeaseEvents {
  'network:lease': CustomEvent<LeaseState>
}

/** Capabilities as the node gives them: the lease less what the keeper fills in. */
export type LeaseCapabilities = Omit<LeaseBody, 'seq' | 'ttl' | 'addrs'>

export class LeaseKeeper extends TypedEventEmitter<LeaseEvents> implements Startable {
  private readonly components: LeaseComponents
  private readonly renewMs: number
  private readonly ttl: number
  private caps?: LeaseCapabilities
  private last?: LeaseBody
  private seq = 0
  /** relay peer id → seq it acknowledged */
  private readonly acked = new Map<string, number>()
  private timer?: ReturnType<typeof setTimeout>
  private chain: Promise<void> = Promise.resolve()
  private started = false
  private lastState = ''

  constructor (components: LeaseComponents, init: LeaseInit = {}) {
    super()
    this.components = components
    this.renewMs = init.renewMs ?? DEFAULT_LEASE_RENEW_MS
    this.ttl = init.ttl ?? DEFAULT_LEASE_TTL_MS
  }

  isStarted (): boolean { return this.started }

  start (): void {
    this.started = true
  }

  stop (): void {
    this.started = false
    clearTimeout(this.timer)
    this.acked.clear()
    this.emitIfChanged()
  }

  /** Sets the capabilities; pushes at once when something requesters care about changed. */
  async set (caps: LeaseCapabilities): Promise<void> {
    this.caps = caps
    if (leaseChanged(this.last, this.body(caps))) await this.push()
  }

  /** Relays or addresses changed: a relay that does not hold the current lease yet gets it now. */
  relaysChanged (): void {
    if (this.caps == null || !this.started) return
    const ids = this.components.connections().map(c => c.remotePeer.toString())
    const addrsMoved = this.last != null && leaseChanged(this.last, this.body(this.caps))
    if (addrsMoved || ids.some(id => this.acked.get(id) !== this.seq)) void this.push()
    else this.emitIfChanged()
  }

  /** Takes the lease back from every relay (on stop). */
  async leave (): Promise<void> {
    const conns = this.components.connections()
    this.caps = undefined
    clearTimeout(this.timer)
    await Promise.allSettled(conns.map(async c => await directoryRequest(c, { type: 'leave' }, { timeout: 2_000 })))
    this.acked.clear()
    this.emitIfChanged()
  }

  state (): LeaseState {
    const open = new Set(this.components.connections().map(c => c.remotePeer.toString()))
    const relays = [...this.acked].filter(([id, seq]) => seq === this.seq && open.has(id)).map(([id]) => id)
    return { held: this.started && this.caps != null && relays.length > 0, relays, seq: this.seq }
  }

  private body (caps: LeaseCapabilities): LeaseBody {
    const slots = this.components.budgetLeft() > 0 ? caps.slots : 0
    return { ...caps, slots, seq: this.seq, ttl: this.ttl, addrs: this.components.addrs().slice(0, MAX_LEASE_ADDRS) }
  }

  /** Signs a fresh lease and puts it on every joined relay (one push at a time). */
  private async push (): Promise<void> {
    this.chain = this.chain.then(async () => { await this.pushNow() })
    await this.chain
  }

  private async pushNow (): Promise<void> {
    const caps = this.caps
    if (!this.started || caps == null) return
    clearTimeout(this.timer)
    const now = (this.components.now ?? Date.now)()
    this.seq = Math.max(this.seq + 1, now)
    const body = { ...this.body(caps), seq: this.seq, at: now }
    this.last = body
    let failed = false
    try {
      const signed = await signLease(this.components.privateKey, body)
      const conns = this.components.connections()
      await Promise.all(conns.map(async c => {
        const relay = c.remotePeer.toString()
        try {
          await directoryRequest(c, { type: 'lease', lease: signed })
          this.acked.set(relay, body.seq)
        } catch (err) {
          failed = true
          this.acked.delete(relay)
          log('relay %s did not take the lease: %s', relay, (err as Error).message)
        }
      }))
      if (conns.length === 0) failed = true
    } catch (err) {
      failed = true
      log('lease not signed: %s', (err as Error).message)
    }
    this.emitIfChanged()
    if (this.started) this.timer = setTimeout(() => { void this.push() }, failed ? RETRY_MS : this.renewMs)
  }

  private emitIfChanged (): void {
    const s = this.state()
    const key = JSON.stringify([s.held, s.relays])
    if (key === this.lastState) return
    this.lastState = key
    this.safeDispatchEvent('network:lease', { detail: s })
  }
}

export interface SampleStats {
  at: number
  /** Leases asked of each relay. */
  asked: number
  /** Distinct, valid leases got from all relays together. */
  got: number
  relays: Array<{ relay: string, got: number, invalid: number, total: number, held: number, error?: string }>
  /** Fewer leases than asked although the relays hold more. */
  small: boolean
  /** The relays' views differ by more than half: one may be hiding peers. */
  skewed: boolean
}

export interface SamplerComponents {
  peerId: string
  connections: () => Connection[]
  /** @default Date.now */
  now?: () => number
}

export class Sampler {
  private readonly components: SamplerComponents
  private stats?: SampleStats

  constructor (components: SamplerComponents) {
    this.components = components
  }

  lastStats (): SampleStats | undefined { return this.stats }

  /**
   * Asks every joined relay for a sample and merges what they answered:
   * each lease's signature and freshness is checked here, so a relay can
   * omit peers but not invent or alter one. Throws NotEnoughPeersError when
   * no relay is connected or none answered.
   */
  async sample (req: Omit<SampleRequest, 'type'>, options: AbortOptions = {}): Promise<{ leases: Lease[], renewed: Lease[] }> {
    const conns = this.components.connections()
    if (conns.length === 0) throw new NotEnoughPeersError('no relay is connected to ask for contributors')
    const now = (this.components.now ?? Date.now)()
    const self = this.components.peerId
    const leases = new Map<string, Lease>()
    const renewed = new Map<string, Lease>()
    const keep = (into: Map<string, Lease>, l: Lease): void => {
      const had = into.get(l.peerId)
      if (l.peerId !== self && (had == null || l.seq > had.seq)) into.set(l.peerId, l)
    }
    const relays = await Promise.all(conns.map(async c => {
      const relay = c.remotePeer.toString()
      try {
        const res = await directoryRequest(c, { type: 'sample', ...req }, options)
        if (res.type !== 'leases') throw new Error(`relay answered ${res.type} to a sample`)
        let invalid = 0
        for (const [list, into] of [[res.leases, leases], [res.renewed, renewed]] as const) {
          for (const signed of list) {
            try {
              keep(into, await openLease(signed, { now }))
            } catch {
              invalid++
            }
          }
        }
        return { relay, got: res.leases.length - invalid, invalid, total: res.total, held: res.held }
      } catch (err) {
        return { relay, got: 0, invalid: 0, total: 0, held: 0, error: (err as Error).message }
      }
    }))
    const answered = relays.filter(r => r.error == null)
    const helds = answered.map(r => r.held)
    this.stats = {
      at: now,
      asked: req.count,
      got: leases.size,
      relays,
      small: leases.size < Math.min(req.count, Math.max(0, ...answered.map(r => r.total)) - req.exclude.length),
      skewed: helds.length > 1 && Math.min(...helds) < 0.5 * Math.max(...helds)
    }
    if (answered.length === 0) throw new NotEnoughPeersError(`no relay answered the sample: ${relays.map(r => r.error).join('; ')}`)
    return { leases: [...leases.values()], renewed: [...renewed.values()] }
  }
}
