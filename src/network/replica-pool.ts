/**
 * A requester's replica pool: the contributors it draws replicas from, a
 * random sample of the live crowd that it asked its relays for. Pure: the
 * caller does the asking; clock and randomness are injected.
 *
 * - Filled from fresh samples up to `size` (16), so jobs reuse the same few
 *   links instead of opening one per replica per job.
 * - Rotates: now and then one random member gives way to a random newcomer
 *   from a fresh sample, so the pool stays a uniform sample of the crowd over
 *   time and nobody can camp in it. How often is the link pool's
 *   `rotationDelay`: slower as the lifetime link budget is spent.
 * - Members the requester has come to trust (`keep`: established with its
 *   reputation book) are not rotated out while they stay live: a rotation
 *   swaps one of the others. The simulation (`npm run sim -- --pool`) shows
 *   why: rotating established peers away spreads "established" over more
 *   peers, and attackers, who never leave, gain share of that set; keeping
 *   them holds wrong accepts at the whole crowd's rate.
 * - Members the relays no longer hold (departed), or whose lease now says
 *   paused or full, leave at the next refresh.
 *
 * @example
 * ```ts
 * const pool = new ReplicaPool({ rng: Math.random, now: Date.now, rotationDelay: (b) => links.rotationDelay(b), budgetLeft: () => links.budgetLeft() })
 * pool.offer(freshLeases, { renewed: currentLeasesOfMembers, asked: pool.ids() })
 * const candidates = pool.members()
 * ```
 */
import type { Lease } from './lease.js'
import { DEFAULT_SAMPLE_SIZE } from './constants.js'

export interface ReplicaPoolInit {
  /** Members at most. @default 16 */
  size?: number
  /** Wait between rotations while the link budget is unspent (ms). @default 15000 */
  rotateEvery?: number
  /** A pool sampled longer ago than this is refreshed before the next draw (ms). @default 10000 */
  refreshMs?: number
  /**
   * An under-full pool (a crowd smaller than the pool, or members lost) is
   * asked again once its last sample is this old (ms): newcomers show up
   * within it, and a requester running many jobs a second asks the relays
   * about once per interval, not once per job. @default 1000
   */
  underFullRefreshMs?: number
}

export interface ReplicaPoolComponents {
  rng: () => number
  now: () => number
  /** @default (base) => base */
  rotationDelay?: (base: number) => number
  /** Links this peer may still create: no member is added without one. @default Infinity */
  budgetLeft?: () => number
  /** A member to keep through rotations (established with the requester). @default () => false */
  keep?: (peerId: string) => boolean
}

export interface OfferInit {
  /** Current leases of members the relays were asked to renew. */
  renewed?: readonly Lease[]
  /** Members whose renewal was asked: those not in `renewed` are gone. */
  asked?: readonly string[]
}

export class ReplicaPool {
  readonly size: number
  readonly rotateEvery: number
  readonly refreshMs: number
  readonly underFullRefreshMs: number
  private readonly components: ReplicaPoolComponents
  private readonly byId = new Map<string, Lease>()
  private nextRotation = 0
  private sampledAt = -Infinity
  private rotations = 0

  constructor (components: ReplicaPoolComponents, init: ReplicaPoolInit = {}) {
    this.components = components
    this.size = init.size ?? DEFAULT_SAMPLE_SIZE
    this.rotateEvery = init.rotateEvery ?? 15_000
    this.refreshMs = init.refreshMs ?? 10_000
    this.underFullRefreshMs = Math.min(init.underFullRefreshMs ?? 1_000, this.refreshMs)
  }

  /** Current members, unexpired by their own lease. */
  members (): Lease[] {
    return [...this.byId.values()]
  }

  ids (): string[] { return [...this.byId.keys()] }
  get (peerId: string): Lease | undefined { return this.byId.get(peerId) }
  get rotated (): number { return this.rotations }
  /** When the last sample was offered (-Infinity before the first). */
  get lastSampled (): number { return this.sampledAt }

  /** The pool should be refreshed before drawing: empty, under-full for `underFullRefreshMs`, or sampled `refreshMs` ago. */
  stale (): boolean {
    const age = this.components.now() - this.sampledAt
    if (this.byId.size === 0 || age >= this.refreshMs) return true
    return this.byId.size < this.size && age >= this.underFullRefreshMs
  }

  /** A member failed to link or left: it goes now. */
  remove (peerId: string): void {
    this.byId.delete(peerId)
  }

  clear (): void {
    this.byId.clear()
    this.sampledAt = -Infinity
  }

  /**
   * Takes a fresh sample: renews members, drops the departed and the
   * unavailable, fills free places at random, and rotates one member when
   * its time has come. Returns who came and who went.
   */
  offer (fresh: readonly Lease[], init: OfferInit = {}): { added: string[], removed: string[] } {
    const now = this.components.now()
    this.sampledAt = now
    const removed: string[] = []
    const renewed = new Map((init.renewed ?? []).map(l => [l.peerId, l]))
    for (const id of init.asked ?? []) {
      const l = renewed.get(id)
      const current = this.byId.get(id)
      if (current == null) continue
      if (l == null || l.paused || l.slots <= 0) { this.byId.delete(id); removed.push(id); continue }
      if (l.seq >= current.seq) this.byId.set(id, l)
    }
    const newcomers = dedupe(fresh).filter(l => !this.byId.has(l.peerId) && !l.paused && l.slots > 0)
    shuffle(newcomers, this.components.rng)
    const added: string[] = []
    const budget = (): number => (this.components.budgetLeft?.() ?? Infinity) - added.length
    while (this.byId.size < this.size && newcomers.length > 0 && budget() > 0) {
      const l = newcomers.pop() as Lease
      this.byId.set(l.peerId, l)
      added.push(l.peerId)
    }
    // the first sample starts the rotation clock: rotating in the offer that fills the pool would only swap one random newcomer for another
    if (this.nextRotation === 0) this.nextRotation = now + (this.components.rotationDelay?.(this.rotateEvery) ?? this.rotateEvery)
    if (this.byId.size >= this.size && newcomers.length > 0 && now >= this.nextRotation && budget() > 0) {
      const all = [...this.byId.keys()]
      const others = all.filter(id => this.components.keep?.(id) !== true)
      // when every member is kept, one gives way still: the pool keeps turning over
      const ids = others.length > 0 ? others : all
      const out = ids[Math.floor(this.components.rng() * ids.length)]
      this.byId.delete(out)
      removed.push(out)
      const l = newcomers.pop() as Lease
      this.byId.set(l.peerId, l)
      added.push(l.peerId)
      this.rotations++
      this.nextRotation = now + (this.components.rotationDelay?.(this.rotateEvery) ?? this.rotateEvery)
    }
    return { added, removed }
  }
}

function dedupe (leases: readonly Lease[]): Lease[] {
  const best = new Map<string, Lease>()
  for (const l of leases) {
    const b = best.get(l.peerId)
    if (b == null || l.seq > b.seq) best.set(l.peerId, l)
  }
  return [...best.values()]
}

function shuffle<T> (a: T[], rng: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]]
  }
}
