/**
 * The peer directory: what this peer knows about the others, keyed by peer id
 * and fed by announcements (gossip), discovery and connection events. Every
 * entry expires: an announcement is trusted for `ttl` after it arrived, and an
 * entry that nothing refreshed for `ttl` is dropped, so a closed tab stops
 * being offered jobs within one TTL instead of lingering as a dead candidate.
 *
 * Pure: no libp2p, no timers; the clock is injected so tests are exact.
 *
 * @example
 * ```ts
 * const directory = new PeerDirectory({ now: () => clock }, { ttl: 15_000 })
 * directory.announced(announcement)
 * directory.contributors((id) => hasDirectLink(id)) // live links first
 * directory.prune((id) => isConnected(id))          // drops expired entries
 * ```
 */
import type { Announcement } from './codec.js'
import { DEFAULT_ANNOUNCEMENT_TTL_MS } from './constants.js'

export interface PeerDirectoryInit {
  /**
   * How long an announcement counts, and how long an entry lives without any
   * announcement, discovery or connection event (ms).
   * @default 15000 (3 announce intervals)
   */
  ttl?: number
}

export interface PeerDirectoryComponents {
  /** Clock, ms since epoch. @default Date.now */
  now?: () => number
}

export interface DirectoryEntry {
  peerId: string
  /** The peer's last announcement, while it is younger than the TTL. */
  announcement?: Announcement
  /** Local time the announcement arrived (the sender's `at` is its own clock). */
  announcedAt?: number
  /** Local time of the last announcement, discovery or connection event. */
  lastSeen: number
  /** Addresses the peer was last discovered on. */
  multiaddrs: string[]
}

export class PeerDirectory {
  private readonly entriesById = new Map<string, DirectoryEntry>()
  private readonly now: () => number
  readonly ttl: number

  constructor (components: PeerDirectoryComponents = {}, init: PeerDirectoryInit = {}) {
    this.now = components.now ?? Date.now
    this.ttl = init.ttl ?? DEFAULT_ANNOUNCEMENT_TTL_MS
    if (!(this.ttl > 0)) throw new RangeError(`directory ttl must be positive, got ${this.ttl}`)
  }

  /** Records an announcement (its author already checked by the gossip layer). */
  announced (a: Announcement): DirectoryEntry {
    const e = this.touch(a.peerId)
    e.announcement = a
    e.announcedAt = e.lastSeen
    return e
  }

  /** Records a discovery event and the addresses it carried. */
  discovered (peerId: string, multiaddrs: string[]): DirectoryEntry {
    const e = this.touch(peerId)
    if (multiaddrs.length > 0) e.multiaddrs = [...multiaddrs]
    return e
  }

  /** Records a connection event (opened or closed: either says the peer was there). */
  seen (peerId: string): DirectoryEntry {
    return this.touch(peerId)
  }

  /**
   * The last connection to `peerId` closed: its announcement no longer
   * counts, so it is not offered jobs until it announces again (a live peer
   * does within one announce interval; a closed tab never does). Without this
   * a departed peer stayed a candidate for a whole TTL, and random selection
   * picked it as often as a live one.
   */
  departed (peerId: string): void {
    const e = this.entriesById.get(peerId)
    if (e == null) return
    e.announcement = undefined
    e.announcedAt = undefined
  }

  remove (peerId: string): boolean {
    return this.entriesById.delete(peerId)
  }

  clear (): void {
    this.entriesById.clear()
  }

  /** The entry for `peerId`, unless it has expired (and `keep` does not vouch for it). */
  get (peerId: string, keep: (peerId: string) => boolean = () => false): DirectoryEntry | undefined {
    const e = this.entriesById.get(peerId)
    if (e == null) return undefined
    const now = this.now()
    if (this.expired(e.lastSeen, now) && !keep(peerId)) return undefined
    this.dropStaleAnnouncement(e, now)
    return e
  }

  /** Unexpired entries (entries kept alive by `keep` count as unexpired). */
  entries (keep: (peerId: string) => boolean = () => false): DirectoryEntry[] {
    this.prune(keep)
    return [...this.entriesById.values()]
  }

  /**
   * Drops entries not refreshed within the TTL, except those `keep` vouches
   * for (typically: an open connection proves the peer is there), and drops
   * announcements older than the TTL from every entry. Returns what changed:
   * the ids removed and the ids whose announcement lapsed.
   */
  prune (keep: (peerId: string) => boolean = () => false): { removed: string[], lapsed: string[] } {
    const now = this.now()
    const removed: string[] = []
    const lapsed: string[] = []
    for (const e of this.entriesById.values()) {
      if (this.dropStaleAnnouncement(e, now)) lapsed.push(e.peerId)
      if (this.expired(e.lastSeen, now) && !keep(e.peerId)) {
        this.entriesById.delete(e.peerId)
        removed.push(e.peerId)
      }
    }
    return { removed, lapsed }
  }

  /**
   * Peers that may take jobs: a current (unexpired) announcement that does not
   * say paused. Peers for which `isLive` holds (a direct link is open) come
   * first, so a dead peer is never preferred over a live one; within each group
   * the freshest announcement comes first.
   */
  contributors (isLive: (peerId: string) => boolean = () => false, keep: (peerId: string) => boolean = () => false): DirectoryEntry[] {
    const candidates = this.entries(keep).filter(e => e.announcement != null && !e.announcement.paused)
    const live = new Map(candidates.map(e => [e.peerId, isLive(e.peerId)]))
    return candidates.sort((a, b) => {
      const byLive = Number(live.get(b.peerId)) - Number(live.get(a.peerId))
      if (byLive !== 0) return byLive
      return (b.announcedAt ?? 0) - (a.announcedAt ?? 0)
    })
  }

  private touch (peerId: string): DirectoryEntry {
    const now = this.now()
    let e = this.entriesById.get(peerId)
    if (e == null) {
      e = { peerId, lastSeen: now, multiaddrs: [] }
      this.entriesById.set(peerId, e)
    }
    e.lastSeen = now
    return e
  }

  private expired (at: number, now: number): boolean {
    return now - at > this.ttl
  }

  private dropStaleAnnouncement (e: DirectoryEntry, now: number): boolean {
    if (e.announcement == null || e.announcedAt == null || !this.expired(e.announcedAt, now)) return false
    e.announcement = undefined
    e.announcedAt = undefined
    return true
  }
}
