/**
 * Replay guard: remembers job ids until they expire.
 *
 * vote.ts and receipt.ts already refuse a vote for another job (jobId,
 * modelHash, inputHash are signed and checked) and a vote signed or received
 * after the job's expiresAt. What they cannot see is the SAME job arriving
 * twice: a worker asked again for a job it already answered (an old request
 * replayed to make it work, or to learn whether it is a recheck), or a
 * requester handed a second set of votes for a job it already decided.
 * ReplayGuard answers "new or seen?" for a job id, forgetting ids once their
 * expiry (plus skew) has passed, since verifyVote refuses those anyway.
 */
import { MAX_CLOCK_SKEW_MS } from './constants.js'

export type ReplayVerdict = 'new' | 'seen' | 'expired'

export interface ReplayGuardInit {
  /** Clock skew tolerated past expiresAt before an id is forgotten. @default MAX_CLOCK_SKEW_MS */
  skewMs?: number
  /** Most ids remembered; beyond it new ids are refused as `seen` (fail closed). @default 100000 */
  maxEntries?: number
}

export class ReplayGuard {
  private readonly seen = new Map<string, number>()
  private readonly skewMs: number
  private readonly maxEntries: number
  private nextPruneAt = 0

  constructor (init: ReplayGuardInit = {}) {
    this.skewMs = init.skewMs ?? MAX_CLOCK_SKEW_MS
    this.maxEntries = init.maxEntries ?? 100_000
  }

  /**
   * Records `jobId` and says whether it is new. `expired` when `now` is
   * already past expiresAt (never recorded), `seen` for an id already
   * recorded (or when the guard is full).
   */
  check (jobId: string, expiresAt: number, now: number): ReplayVerdict {
    if (now > expiresAt) return 'expired'
    if (now >= this.nextPruneAt || this.seen.size >= this.maxEntries) {
      this.prune(now)
      this.nextPruneAt = now + 1000
    }
    if (this.seen.has(jobId)) return 'seen'
    if (this.seen.size >= this.maxEntries) return 'seen'
    this.seen.set(jobId, expiresAt)
    return 'new'
  }

  has (jobId: string): boolean {
    return this.seen.has(jobId)
  }

  get size (): number {
    return this.seen.size
  }

  /** Forgets ids whose expiry plus skew lies before `now`. */
  prune (now: number): void {
    for (const [id, exp] of this.seen) if (exp + this.skewMs < now) this.seen.delete(id)
  }
}
