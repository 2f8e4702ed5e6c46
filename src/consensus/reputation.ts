/**
 * Reputation: what this requester has itself seen each peer do.
 *
 * Trust is earned per model and backend, BOINC style: a peer's
 * consecutive-valid count for `modelHash|runtime/backend` grows with every
 * vote that agreed with an accepted answer (or passed a canary) and drops to 0
 * for EVERY model on one invalid vote. A peer is "established" for a model and
 * backend once that count reaches `establishedAfter`; replication.ts may then
 * send it jobs alone (with random re-checks and canaries behind it).
 *
 * What counts as invalid is deliberately narrow:
 * - `dissented`: outvoted under the job's policy after escalation. The policy's
 *   cross-class tolerance already absorbs the measured float differences
 *   (NOTES.md "Determinism"), so an honest peer only dissents when it is wrong.
 * - `near-miss`: disagreed under the policy but agrees under a widened one
 *   (see `isNearMiss` in replication.ts). An unmeasured float tail, not a lie:
 *   recorded, never counted invalid, never flagged.
 * - `canary-failed`: wrong on a known-answer job. Flags at once.
 * - `failed-to-answer` (slow, silent, refused): never counted as cheating, but
 *   each one in a row halves the selection weight, and `maxConsecutiveFailures`
 *   in a row bench the peer for `failureCooldownMs`.
 *
 * Pure: time comes in as `ctx.at` / `now`. Records round-trip through
 * toRecords()/fromRecords() and are a superset of storage's ReputationRecord.
 */
import type { NumericClass } from './types.js'

export type Outcome = 'agreed' | 'dissented' | 'near-miss' | 'canary-passed' | 'canary-failed' | 'failed-to-answer'

export interface OutcomeContext {
  modelHash: string
  /** Class the peer voted in; without it only the peer's overall counts move. */
  numericClass?: NumericClass
  jobId?: string
  /** ms since epoch. */
  at: number
  /** True when the job was accepted on this peer's vote alone (re-verification looks at these first). */
  sole?: boolean
}

/** An accepted job this peer voted for, kept for re-verification after a failed canary. */
export interface AcceptedVote {
  jobId: string
  modelHash: string
  at: number
  sole: boolean
}

/**
 * Stored form (src/storage keeps it as is, as ReputationRecord). Fields
 * after `updatedAt` are optional so that older rows load (fromRecords fills
 * defaults).
 */
export interface TrustRecord {
  peerId: string
  valid: number
  invalid: number
  /** Across all models; the per-model/backend counts are in `streaks`. */
  consecutiveValid: number
  flagged: boolean
  updatedAt: number
  flaggedReason?: string
  flaggedAt?: number
  /** `modelHash|runtime/backend` -> consecutive valid votes. */
  streaks?: Record<string, number>
  nearMisses?: number
  failures?: number
  consecutiveFailures?: number
  lastFailureAt?: number
  canariesPassed?: number
  canariesFailed?: number
  lastCanary?: { jobId?: string, at: number, passed: boolean }
  /**
   * `modelHash|runtime/backend` -> whether its latest canary there passed
   * (at most MAX_CANARY_VERDICTS keys): what backend verdicts
   * (backend-health.ts) are rebuilt from after a reload.
   */
  canaryVerdicts?: Record<string, boolean>
  recentAccepted?: AcceptedVote[]
}

/** Canary verdict keys kept per peer (the oldest go first). */
export const MAX_CANARY_VERDICTS = 32

export interface ReputationInit {
  /** Consecutive valid votes (per model/backend) before a peer is established. @default 20 */
  establishedAfter?: number
  /** Invalid votes before a peer is flagged (a failed canary flags at once). @default 2 */
  maxInvalid?: number
  /** Peers scoring below this are not selected. @default 0.1 */
  minScore?: number
  /** Failures to answer in a row before the peer is benched. @default 5 */
  maxConsecutiveFailures?: number
  /** How long a benched peer is left out. @default 600000 (10 min) */
  failureCooldownMs?: number
  /** Accepted votes remembered per peer for re-verification. @default 64 */
  recentLimit?: number
}

export const DEFAULT_ESTABLISHED_AFTER = 20
export const DEFAULT_MAX_INVALID = 2
export const DEFAULT_MIN_SCORE = 0.1
export const DEFAULT_MAX_CONSECUTIVE_FAILURES = 5
export const DEFAULT_FAILURE_COOLDOWN_MS = 10 * 60 * 1000
export const DEFAULT_RECENT_LIMIT = 64

/**
 * The trust key of a numeric class: runtime and backend, not thread count or
 * engine (`ort-web/wasm/t2/chromium` -> `ort-web/wasm`). A peer that switches
 * backend (WebGPU to WASM) starts a new streak there.
 */
export function backendOf (numericClass: NumericClass): string {
  let b = backends.get(numericClass)
  if (b === undefined) {
    b = numericClass.split('/').slice(0, 2).join('/')
    // peer selection asks this for every candidate on every pick: remember the few classes there are
    if (backends.size >= 1024) backends.clear()
    backends.set(numericClass, b)
  }
  return b
}
const backends = new Map<string, string>()

export function trustKey (modelHash: string, numericClass: NumericClass): string {
  let byClass = trustKeys.get(modelHash)
  if (byClass === undefined) {
    if (trustKeys.size >= 256) trustKeys.clear()
    byClass = new Map()
    trustKeys.set(modelHash, byClass)
  }
  let key = byClass.get(numericClass)
  if (key === undefined) {
    key = `${modelHash}|${backendOf(numericClass)}`
    if (byClass.size >= 1024) byClass.clear()
    byClass.set(numericClass, key)
  }
  return key
}
/** modelHash -> numericClass -> key: selection asks for every candidate's streak on every job. */
const trustKeys = new Map<string, Map<string, string>>()

function fresh (peerId: string, at: number): Required<Omit<TrustRecord, 'flaggedReason' | 'flaggedAt' | 'lastFailureAt' | 'lastCanary' | 'canaryVerdicts'>> & TrustRecord {
  return {
    peerId, valid: 0, invalid: 0, consecutiveValid: 0, flagged: false, updatedAt: at,
    streaks: {}, nearMisses: 0, failures: 0, consecutiveFailures: 0, canariesPassed: 0, canariesFailed: 0, recentAccepted: []
  }
}

type Entry = ReturnType<typeof fresh>

export class ReputationBook {
  readonly establishedAfter: number
  readonly maxInvalid: number
  readonly minScore: number
  readonly maxConsecutiveFailures: number
  readonly failureCooldownMs: number
  readonly recentLimit: number
  private readonly peers = new Map<string, Entry>()

  constructor (init: ReputationInit = {}) {
    this.establishedAfter = init.establishedAfter ?? DEFAULT_ESTABLISHED_AFTER
    this.maxInvalid = init.maxInvalid ?? DEFAULT_MAX_INVALID
    this.minScore = init.minScore ?? DEFAULT_MIN_SCORE
    this.maxConsecutiveFailures = init.maxConsecutiveFailures ?? DEFAULT_MAX_CONSECUTIVE_FAILURES
    this.failureCooldownMs = init.failureCooldownMs ?? DEFAULT_FAILURE_COOLDOWN_MS
    this.recentLimit = init.recentLimit ?? DEFAULT_RECENT_LIMIT
  }

  private entry (peerId: string, at: number): Entry {
    let e = this.peers.get(peerId)
    if (e === undefined) {
      e = fresh(peerId, at)
      this.peers.set(peerId, e)
    }
    return e
  }

  /** Records one observed outcome. Returns true when this call flagged the peer. */
  record (peerId: string, outcome: Outcome, ctx: OutcomeContext): boolean {
    const e = this.entry(peerId, ctx.at)
    e.updatedAt = Math.max(e.updatedAt, ctx.at)
    const key = ctx.numericClass === undefined ? undefined : trustKey(ctx.modelHash, ctx.numericClass)
    switch (outcome) {
      case 'agreed':
      case 'canary-passed':
        e.valid++
        e.consecutiveValid++
        e.consecutiveFailures = 0
        if (key !== undefined) e.streaks[key] = (e.streaks[key] ?? 0) + 1
        if (outcome === 'canary-passed') {
          e.canariesPassed++
          e.lastCanary = { jobId: ctx.jobId, at: ctx.at, passed: true }
          if (key !== undefined) noteCanary(e, key, true)
        } else if (ctx.jobId !== undefined) {
          e.recentAccepted.push({ jobId: ctx.jobId, modelHash: ctx.modelHash, at: ctx.at, sole: ctx.sole ?? false })
          if (e.recentAccepted.length > this.recentLimit) e.recentAccepted.splice(0, e.recentAccepted.length - this.recentLimit)
        }
        return false
      case 'near-miss':
        e.nearMisses++
        e.consecutiveFailures = 0
        return false
      case 'dissented':
      case 'canary-failed': {
        e.invalid++
        e.consecutiveValid = 0
        e.consecutiveFailures = 0
        // One invalid vote resets trust everywhere: a peer that lies about one model may lie about any.
        e.streaks = {}
        if (outcome === 'canary-failed') {
          e.canariesFailed++
          e.lastCanary = { jobId: ctx.jobId, at: ctx.at, passed: false }
          if (key !== undefined) noteCanary(e, key, false)
          return this.flagEntry(e, 'canary-failed', ctx.at)
        }
        return e.invalid >= this.maxInvalid ? this.flagEntry(e, `${e.invalid} invalid votes`, ctx.at) : false
      }
      case 'failed-to-answer':
        e.failures++
        e.consecutiveFailures++
        e.lastFailureAt = ctx.at
        return false
    }
  }

  private flagEntry (e: Entry, reason: string, at: number): boolean {
    if (e.flagged) return false
    e.flagged = true
    e.flaggedReason = reason
    e.flaggedAt = at
    e.streaks = {}
    e.consecutiveValid = 0
    return true
  }

  /**
   * Flags a peer (evidence from elsewhere: re-verification, a verified
   * observation). Returns its recent accepted votes, most recent first, so
   * the caller can re-verify them.
   */
  flag (peerId: string, reason: string, at: number): AcceptedVote[] {
    const e = this.entry(peerId, at)
    this.flagEntry(e, reason, at)
    e.updatedAt = Math.max(e.updatedAt, at)
    return this.recentAccepted(peerId)
  }

  isFlagged (peerId: string): boolean {
    return this.peers.get(peerId)?.flagged ?? false
  }

  /** Recent accepted votes, most recent first; those accepted on this vote alone first of all. */
  recentAccepted (peerId: string): AcceptedVote[] {
    const list = [...(this.peers.get(peerId)?.recentAccepted ?? [])].reverse()
    return [...list.filter((a) => a.sole), ...list.filter((a) => !a.sole)]
  }

  /**
   * 0 for a flagged peer, else a smoothed valid fraction where an invalid vote
   * weighs 4 valid ones: (valid + 1) / (valid + 4 * invalid + 2). Unknown peers score 0.5.
   */
  score (peerId: string): number {
    const e = this.peers.get(peerId)
    if (e === undefined) return 0.5
    if (e.flagged) return 0
    return (e.valid + 1) / (e.valid + 4 * e.invalid + 2)
  }

  /** Not flagged, scoring at least minScore, and not benched for failing to answer. Unknown peers are selectable. */
  isSelectable (peerId: string, now: number): boolean {
    const e = this.peers.get(peerId)
    if (e === undefined) return true
    if (e.flagged || this.score(peerId) < this.minScore) return false
    if (e.consecutiveFailures >= this.maxConsecutiveFailures && now - (e.lastFailureAt ?? 0) < this.failureCooldownMs) return false
    return true
  }

  /** Relative selection weight: 0 when not selectable, halved for each failure to answer in a row. */
  weight (peerId: string, now: number): number {
    if (!this.isSelectable(peerId, now)) return 0
    const failures = this.peers.get(peerId)?.consecutiveFailures ?? 0
    return 1 / 2 ** Math.min(failures, 30)
  }

  /** Consecutive valid votes for this model in this class's backend. */
  streak (peerId: string, modelHash: string, numericClass: NumericClass): number {
    const e = this.peers.get(peerId)
    return e === undefined ? 0 : e.streaks[trustKey(modelHash, numericClass)] ?? 0
  }

  isEstablished (peerId: string, modelHash: string, numericClass: NumericClass): boolean {
    return !this.isFlagged(peerId) && this.streak(peerId, modelHash, numericClass) >= this.establishedAfter
  }

  /** Established for at least one model and backend (a replica pool keeps such members). */
  isEstablishedAnywhere (peerId: string): boolean {
    const e = this.peers.get(peerId)
    return e !== undefined && !this.isFlagged(peerId) && Object.values(e.streaks).some(n => n >= this.establishedAfter)
  }

  canariesPassed (peerId: string): number {
    return this.peers.get(peerId)?.canariesPassed ?? 0
  }

  /** A copy of one peer's record, or undefined for a peer never seen. */
  get (peerId: string): TrustRecord | undefined {
    const e = this.peers.get(peerId)
    return e === undefined ? undefined : copy(e)
  }

  /** Every record, sorted by peer id (deep copies, structured-cloneable). */
  toRecords (): TrustRecord[] {
    return [...this.peers.values()].sort((a, b) => (a.peerId < b.peerId ? -1 : 1)).map(copy)
  }

  /** A book holding these records (missing proposed fields get defaults). */
  static fromRecords (records: Iterable<TrustRecord>, init: ReputationInit = {}): ReputationBook {
    const book = new ReputationBook(init)
    for (const r of records) {
      const e: Entry = { ...fresh(r.peerId, r.updatedAt), ...copy(r) as Entry }
      e.streaks ??= {}
      e.recentAccepted ??= []
      for (const k of ['nearMisses', 'failures', 'consecutiveFailures', 'canariesPassed', 'canariesFailed'] as const) e[k] ??= 0
      book.peers.set(r.peerId, e)
    }
    return book
  }
}

function noteCanary (e: TrustRecord, key: string, passed: boolean): void {
  const verdicts = e.canaryVerdicts ?? {}
  delete verdicts[key] // re-inserted last: keys stay in the order they were last seen
  verdicts[key] = passed
  const keys = Object.keys(verdicts)
  for (const k of keys.slice(0, Math.max(0, keys.length - MAX_CANARY_VERDICTS))) delete verdicts[k]
  e.canaryVerdicts = verdicts
}

function copy (r: TrustRecord): TrustRecord {
  const out: TrustRecord = { ...r }
  if (r.canaryVerdicts !== undefined) out.canaryVerdicts = { ...r.canaryVerdicts }
  if (r.streaks !== undefined) out.streaks = { ...r.streaks }
  if (r.recentAccepted !== undefined) out.recentAccepted = r.recentAccepted.map((a) => ({ ...a }))
  if (r.lastCanary !== undefined) out.lastCanary = { ...r.lastCanary }
  for (const k of Object.keys(out) as Array<keyof TrustRecord>) if (out[k] === undefined) delete out[k]
  return out
}
