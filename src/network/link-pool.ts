/**
 * The link pool's rules: how many direct links a peer keeps, when an idle one
 * closes, which one makes room for a new one, and how many it may create in
 * its life. Pure: the clock is injected and the caller says which links are
 * busy (a job or model stream open), so every rule is tested exactly.
 *
 * Why a lifetime budget: Chromium refuses a tab's ~500th RTCPeerConnection
 * even when the earlier ones were closed (chromium issue 825576, js-libp2p
 * #2591), so a long-lived requester must reuse links and create new ones
 * ever more sparingly (see `rotationDelay`).
 *
 * @example
 * ```ts
 * const pool = new LinkPool({ now: Date.now }, { maxLinks: 16, idleMs: 60_000, budget: 450 })
 * pool.opened(peerId)            // a direct link opened (created += 1)
 * pool.touch(peerId)             // it carried a job
 * pool.toClose((id) => busy(id)) // idle past 60 s, or over the bound
 * ```
 */
import { DEFAULT_LINK_IDLE_MS, DEFAULT_MAX_LINKS } from './constants.js'

export interface LinkPoolInit {
  /** Direct links kept at once. @default 16 */
  maxLinks?: number
  /** A link that carried nothing for this long closes (ms). @default 60000 */
  idleMs?: number
  /** Direct links this peer may create in its life. @default Infinity (Node); browsers pass 450 */
  budget?: number
}

export interface LinkPoolComponents {
  /** @default Date.now */
  now?: () => number
}

export interface LinkPoolStats {
  /** Direct links open now. */
  links: number
  /** Direct links created since start (RTCPeerConnections, in a browser). */
  created: number
  /** Links this peer may still create (Infinity where no budget applies). */
  budgetLeft: number
  maxLinks: number
}

export class LinkPool {
  readonly maxLinks: number
  readonly idleMs: number
  readonly budget: number
  private readonly now: () => number
  private readonly lastUsed = new Map<string, number>()
  private createdCount = 0

  constructor (components: LinkPoolComponents = {}, init: LinkPoolInit = {}) {
    this.now = components.now ?? Date.now
    this.maxLinks = init.maxLinks ?? DEFAULT_MAX_LINKS
    this.idleMs = init.idleMs ?? DEFAULT_LINK_IDLE_MS
    this.budget = init.budget ?? Infinity
    if (!(this.maxLinks >= 1)) throw new RangeError(`maxLinks must be at least 1, got ${this.maxLinks}`)
  }

  get created (): number { return this.createdCount }
  get size (): number { return this.lastUsed.size }
  has (peerId: string): boolean { return this.lastUsed.has(peerId) }

  /** A direct link to `peerId` opened (either side dialled). Idempotent per open link. */
  opened (peerId: string): void {
    if (this.lastUsed.has(peerId)) return
    this.createdCount++
    this.lastUsed.set(peerId, this.now())
  }

  /**
   * A dial this peer made did not give a link (refused, timed out, not
   * direct). In a browser it still made an RTCPeerConnection, so it counts
   * against the lifetime budget like a link that opened.
   */
  dialFailed (): void {
    this.createdCount++
  }

  /** The link to `peerId` is gone. */
  closed (peerId: string): void {
    this.lastUsed.delete(peerId)
  }

  /** The link to `peerId` carried a job or a model now. */
  touch (peerId: string): void {
    if (this.lastUsed.has(peerId)) this.lastUsed.set(peerId, this.now())
  }

  /** Whether one more link may be created at all (the lifetime budget). */
  budgetLeft (): number {
    return Math.max(0, this.budget - this.createdCount)
  }

  /**
   * Room for a new link to `peerId`: undefined when there is room already (or
   * it has one), the id of the least recently used idle link to close first,
   * or null when every link is busy (the caller refuses the new one).
   */
  makeRoom (peerId: string, busy: (peerId: string) => boolean): string | undefined | null {
    if (this.lastUsed.has(peerId) || this.lastUsed.size < this.maxLinks) return undefined
    return this.leastRecent(busy) ?? null
  }

  /**
   * Links to close now: those idle for `idleMs` or more, then, while more
   * than `maxLinks` are open (the other side dialled us), the least recently
   * used ones that are not busy.
   */
  toClose (busy: (peerId: string) => boolean): string[] {
    const now = this.now()
    const close = new Set<string>()
    for (const [id, at] of this.lastUsed) if (now - at >= this.idleMs && !busy(id)) close.add(id)
    const byAge = [...this.lastUsed].filter(([id]) => !close.has(id) && !busy(id)).sort((a, b) => a[1] - b[1])
    for (let i = 0; this.lastUsed.size - close.size > this.maxLinks && i < byAge.length; i++) close.add(byAge[i][0])
    return [...close]
  }

  /**
   * How long a requester waits between rotating one member of its replica
   * pool (each rotation may create one link), growing as the budget is spent:
   * `base` while little is spent, doubling every eighth of the budget. A
   * budget of 450 then lasts about 60 hours of continuous rotation at a 15 s
   * base (56 links at each of 8 doublings: 56 × 15 s × 255)
   * base; with no budget, always `base`.
   */
  rotationDelay (base: number): number {
    if (!Number.isFinite(this.budget)) return base
    return base * 2 ** Math.floor(this.createdCount / Math.max(1, this.budget / 8))
  }

  stats (): LinkPoolStats {
    return { links: this.lastUsed.size, created: this.createdCount, budgetLeft: this.budgetLeft(), maxLinks: this.maxLinks }
  }

  private leastRecent (busy: (peerId: string) => boolean): string | undefined {
    let best: [string, number] | undefined
    for (const [id, at] of this.lastUsed) if (!busy(id) && (best == null || at < best[1])) best = [id, at]
    return best?.[0]
  }
}
