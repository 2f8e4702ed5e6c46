/**
 * The relay's lease book: the checked leases of the peers reserved on this
 * relay and those its backbone neighbours passed on, and random samples of
 * them for requesters. Pure: clock and randomness are injected.
 *
 * Costs: `put`, `drop` and a sample are O(1) and O(count) on average, never
 * O(size): ids live in arrays with an index (swap-remove), one for all leases
 * and one per model hash, and samples draw random positions, with a bounded
 * scan only when filters reject most leases.
 *
 * @example
 * ```ts
 * const book = new LeaseBook({ now: Date.now })
 * book.put(lease, relayPeerId)
 * const sample = book.sample({ count: 16, model }, Math.random)
 * book.dropOrigin(relayPeerId) // that relay went away: its peers' leases go
 * ```
 */
import type { Lease } from './lease.js'

export interface LeaseBookComponents {
  /** @default Date.now */
  now?: () => number
}

export interface LeaseBookInit {
  /** Most leases held; a new peer's lease past this is refused. @default 200000 */
  maxLeases?: number
}

export interface SampleQuery {
  /** How many leases at most. */
  count: number
  /** Only peers whose lease lists this model hash. */
  model?: string
  /** Only peers of this numeric class. */
  numericClass?: string
  /** Peer ids to leave out (the requester itself, peers already asked). */
  exclude?: ReadonlySet<string>
}

export type PutResult = 'new' | 'renewed' | 'older' | 'full'

interface Held {
  lease: Lease
  /** The relay that holds the peer's connection (itself or a backbone neighbour). */
  origin: string
  /** Local time after which the lease no longer counts. */
  expiresAt: number
}

/** A set of ids with O(1) add, delete and random access. */
class IndexedSet {
  readonly items: string[] = []
  private readonly index = new Map<string, number>()
  get size (): number { return this.items.length }
  has (id: string): boolean { return this.index.has(id) }
  add (id: string): void {
    if (this.index.has(id)) return
    this.index.set(id, this.items.length)
    this.items.push(id)
  }

  delete (id: string): void {
    const i = this.index.get(id)
    if (i == null) return
    const last = this.items.pop() as string
    if (last !== id) { this.items[i] = last; this.index.set(last, i) }
    this.index.delete(id)
  }
}

/** Largest set that a sample scans whole when random draws found too few matches. */
const SCAN_LIMIT = 8192

export class LeaseBook {
  private readonly held = new Map<string, Held>()
  private readonly all = new IndexedSet()
  private readonly byModel = new Map<string, IndexedSet>()
  private readonly now: () => number
  private readonly maxLeases: number
  private fullPrunedAt = -Infinity

  constructor (components: LeaseBookComponents = {}, init: LeaseBookInit = {}) {
    this.now = components.now ?? Date.now
    this.maxLeases = init.maxLeases ?? 200_000
  }

  get size (): number { return this.held.size }

  /** Leases whose peer is held by `origin`. */
  countFrom (origin: string): number {
    return this.heldBy(origin).length
  }

  /** The unexpired leases held through `origin`. */
  heldBy (origin: string): Lease[] {
    const now = this.now()
    return [...this.held.values()].filter(h => h.origin === origin && h.expiresAt >= now).map(h => h.lease)
  }

  /**
   * Keeps a checked lease, unless one with a higher `seq` from the same peer
   * is held. A lease counts for its TTL from now (local clock).
   */
  put (lease: Lease, origin: string): PutResult {
    const old = this.held.get(lease.peerId)
    if (old != null && old.lease.seq > lease.seq) return 'older'
    if (old == null && this.held.size >= this.maxLeases && !this.pruneWhenFull()) return 'full'
    if (old != null) this.unindex(old.lease)
    this.held.set(lease.peerId, { lease, origin, expiresAt: this.now() + lease.ttl })
    this.all.add(lease.peerId)
    for (const m of new Set(lease.models)) {
      let set = this.byModel.get(m)
      if (set == null) this.byModel.set(m, set = new IndexedSet())
      set.add(lease.peerId)
    }
    return old == null ? 'new' : 'renewed'
  }

  get (peerId: string): Lease | undefined {
    const h = this.held.get(peerId)
    return h != null && h.expiresAt >= this.now() ? h.lease : undefined
  }

  /** Drops a peer's lease; with `origin`, only when that relay is the one holding it. */
  drop (peerId: string, origin?: string): boolean {
    const h = this.held.get(peerId)
    if (h == null || (origin != null && h.origin !== origin)) return false
    this.remove(h.lease)
    return true
  }

  /** Drops every lease held through `origin` (a backbone neighbour went away). */
  dropOrigin (origin: string): number {
    let n = 0
    for (const h of [...this.held.values()]) if (h.origin === origin) { this.remove(h.lease); n++ }
    return n
  }

  /**
   * Full: expired leases awaiting the next prune must not take a live peer's
   * place. Prunes (O(size)) at most once a second, so that a full relay
   * refusing a stream of newcomers does not scan its whole book for each.
   */
  private pruneWhenFull (): boolean {
    const now = this.now()
    if (now - this.fullPrunedAt < 1_000) return false
    this.fullPrunedAt = now
    return this.prune().length > 0
  }

  /** Drops expired leases; returns their peer ids. */
  prune (): string[] {
    const now = this.now()
    const gone: string[] = []
    for (const h of [...this.held.values()]) if (h.expiresAt < now) { this.remove(h.lease); gone.push(h.lease.peerId) }
    return gone
  }

  /** Whether a lease may be offered for `q`: live, not paused, not full, and matching the filters. */
  private eligible (h: Held | undefined, q: SampleQuery, now: number): h is Held {
    if (h == null || h.expiresAt < now) return false
    const l = h.lease
    if (l.paused || l.slots <= 0) return false
    if (q.exclude?.has(l.peerId) === true) return false
    if (q.numericClass != null && l.numericClass !== q.numericClass) return false
    return q.model == null || l.models.includes(q.model)
  }

  /**
   * Up to `count` leases drawn uniformly at random, without replacement,
   * among the eligible ones (live, not paused, free slots, matching model and
   * class, not excluded). Also returns how many leases the book holds for the
   * query's model (or in all), for the requester's skew check.
   */
  sample (q: SampleQuery, rng: () => number): { leases: Lease[], total: number } {
    const set = q.model != null ? this.byModel.get(q.model) : this.all
    if (set == null || q.count <= 0) return { leases: [], total: set?.size ?? 0 }
    const now = this.now()
    const chosen = new Set<string>()
    const out: Lease[] = []
    const tries = 8 * q.count + 64
    for (let t = 0; t < tries && out.length < q.count && chosen.size < set.size; t++) {
      const id = set.items[Math.floor(rng() * set.size)]
      if (chosen.has(id)) continue
      chosen.add(id)
      const h = this.held.get(id)
      if (this.eligible(h, q, now)) out.push(h.lease)
    }
    if (out.length < q.count && set.size <= SCAN_LIMIT) {
      // few matches among many: finish with a partial Fisher-Yates over the rest, still uniform
      const rest = set.items.filter(id => !chosen.has(id) && this.eligible(this.held.get(id), q, now))
      for (let i = 0; i < rest.length && out.length < q.count; i++) {
        const j = i + Math.floor(rng() * (rest.length - i));
        [rest[i], rest[j]] = [rest[j], rest[i]]
        out.push((this.held.get(rest[i]) as Held).lease)
      }
    }
    return { leases: out, total: set.size }
  }

  private remove (lease: Lease): void {
    this.held.delete(lease.peerId)
    this.all.delete(lease.peerId)
    this.unindex(lease)
  }

  private unindex (lease: Lease): void {
    for (const m of lease.models) {
      const set = this.byModel.get(m)
      if (set == null) continue
      set.delete(lease.peerId)
      if (set.size === 0) this.byModel.delete(m)
    }
  }
}
