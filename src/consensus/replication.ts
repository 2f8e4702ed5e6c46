/**
 * Adaptive replication (BOINC style), escalation and the acceptance rule.
 *
 * planReplication: the first peer is drawn at random (weighted by
 * ReputationBook.weight) among selectable candidates. If it is established
 * for this model and backend, the job goes to it alone; otherwise to
 * `base.replicas` peers of distinct groups, the others preferring established
 * peers, so a newcomer is checked against someone with a record.
 * Independently, the plan carries `recheck: true` with probability
 * `probationRecheck` (default 1) for a newcomer or a peer in its first
 * `probation` single jobs, and `floorRecheck` otherwise: once the dispatched votes agree, ONE more replica is asked
 * (escalationPlan) before anything is accepted. The recheck is decided up
 * front but dispatched late on purpose: the JobSpec the first voters see
 * (`replicas`, `quorum`) does not reveal it, so a peer that cheats "only when
 * it holds the quorum" cannot know it is about to be checked.
 *
 * judgeJob (the acceptance rule, on top of tally):
 * - one vote per group (groups.ts), then clusters as in tally.ts;
 * - without dissent: accept when `quorum` votes agree, nothing is in flight
 *   and any planned recheck has voted;
 * - any dissent (or two disjoint answers) never returns an answer at once:
 *   the job is disputed and needs max(quorum, 2 * dissenting + 1) agreeing
 *   votes; escalationPlan adds replicas (other backends and established peers
 *   first) up to `maxReplicas`, then the job fails with no receipt.
 * Outcomes for the reputation book come back with the judgement:
 * `agreed` for the accepted cluster, `dissented` or `near-miss` (see
 * isNearMiss) for the others. A failed job records nothing against anyone.
 */
import { DEFAULT_CROSS_CLASS_TOLERANCE, outputsAgree } from './compare.js'
import { groupKeyOf, onePerGroup } from './groups.js'
import { backendOf } from './reputation.js'
import { tally } from './tally.js'
import type { GroupOf } from './groups.js'
import type { Outcome, ReputationBook } from './reputation.js'
import type { Rng } from './select.js'
import type { TallyResult } from './tally.js'
import type { Ballot, ComparisonPolicy, NumericClass } from './types.js'
import type { NamedTensors } from '../tensor/index.js'

/** A peer able to run the model, as the requester knows it. */
export interface Candidate {
  peerId: string
  /** The class it announced (and will sign in its votes). */
  numericClass: NumericClass
  /** Sybil group (groups.ts); undefined: its own group. */
  group?: string
}

export interface PlanInput {
  book: ReputationBook
  candidates: readonly Candidate[]
  modelHash: string
  rng: Rng
  now: number
  /** Replicas and quorum for a job whose first peer is not established. @default { replicas: 3, quorum: 3 } (sim/: 2 gave 22 wrong accepts in 300 000 colluder jobs, 3 gave 16) */
  base?: { replicas: number, quorum: number }
  /** Fewest replicas ever dispatched; 2 or more turns single-replica jobs off. @default 1 */
  minReplicas?: number
  /** Probability of a late recheck for a job sent to one established peer past its probation. @default 0.1 */
  floorRecheck?: number
  /**
   * Probability of a late recheck for every other plan: a newcomer's job, or
   * an established peer's first `probation` jobs alone. @default 1
   */
  probationRecheck?: number
  /**
   * Jobs alone, counted past `establishedAfter` on the same streak, during
   * which every single-replica job is rechecked (probationRecheck): a peer
   * that waited to be trusted before lying is checked the first times it
   * could. @default 10
   */
  probation?: number
  /** Peers not to use (e.g. already asked). */
  exclude?: ReadonlySet<string>
  /**
   * Draw the first peer with these extra weights (canary.ts uses it to aim
   * canaries at newcomers); multiplied into the book's weight.
   */
  firstWeight?: (peerId: string) => number
}

export interface ReplicationPlan {
  /** Dispatch to these now (first is the drawn peer). */
  peers: string[]
  /** Put in the JobSpec: `replicas = peers.length`. */
  replicas: number
  /** Put in the JobSpec and pass to judgeJob. */
  quorum: number
  /** After the dispatched votes agree, ask one more replica before accepting. */
  recheck: boolean
  /** Whether the first peer was established (single-replica eligible). */
  established: boolean
}

export const DEFAULT_BASE = Object.freeze({ replicas: 3, quorum: 3 })
export const DEFAULT_FLOOR_RECHECK = 0.1
export const DEFAULT_PROBATION = 10
/** How much a policy is widened before a disagreement counts as a mere near miss. */
export const NEAR_MISS_FACTOR = 100

function weightedPick (items: readonly Candidate[], weights: readonly number[], rng: Rng): number {
  let total = 0
  for (const w of weights) total += w
  if (!(total > 0)) return -1
  let r = rng() * total
  for (let i = 0; i < items.length; i++) {
    r -= weights[i]
    if (r < 0 && weights[i] > 0) return i
  }
  for (let i = items.length - 1; i >= 0; i--) if (weights[i] > 0) return i
  return -1
}

function sortedUnique (candidates: readonly Candidate[]): Candidate[] {
  const byId = new Map<string, Candidate>()
  for (const c of candidates) if (!byId.has(c.peerId)) byId.set(c.peerId, c)
  return [...byId.values()].sort((a, b) => (a.peerId < b.peerId ? -1 : 1))
}

const groupOfCandidate = (c: Candidate): string => c.group ?? `peer:${c.peerId}`

/**
 * Plans the first dispatch of a job. Returns undefined when no selectable
 * candidate exists; may return fewer than `base.replicas` peers when the
 * distinct groups run out (the caller decides whether that is enough).
 */
export function planReplication (input: PlanInput): ReplicationPlan | undefined {
  const { book, modelHash, rng, now } = input
  const base = input.base ?? DEFAULT_BASE
  const minReplicas = input.minReplicas ?? 1
  const floor = input.floorRecheck ?? DEFAULT_FLOOR_RECHECK
  const pool = sortedUnique(input.candidates).filter((c) => input.exclude?.has(c.peerId) !== true && book.isSelectable(c.peerId, now))
  const weights = pool.map((c) => book.weight(c.peerId, now) * (input.firstWeight?.(c.peerId) ?? 1))
  const i = weightedPick(pool, weights, rng)
  if (i < 0) return undefined
  const first = pool[i]
  const established = book.isEstablished(first.peerId, modelHash, first.numericClass)
  const inProbation = !established || book.streak(first.peerId, modelHash, first.numericClass) < book.establishedAfter + (input.probation ?? DEFAULT_PROBATION)
  const recheck = rng() < (inProbation ? (input.probationRecheck ?? 1) : floor)
  const want = established ? Math.max(1, minReplicas) : Math.max(base.replicas, minReplicas)
  const peers = [first.peerId]
  if (want > 1) {
    const more = pickPreferred({ book, pool: pool.filter((c) => c !== first), modelHash, rng, now, count: want - 1, usedGroups: new Set([groupOfCandidate(first)]), avoidBackends: new Set() })
    peers.push(...more)
  }
  const quorum = want === 1 ? 1 : Math.min(peers.length, Math.max(base.quorum, minReplicas))
  return { peers, replicas: peers.length, quorum, recheck, established }
}

interface PreferInput {
  book: ReputationBook
  pool: readonly Candidate[]
  modelHash: string
  rng: Rng
  now: number
  count: number
  usedGroups: Set<string>
  avoidBackends: ReadonlySet<string>
}

/**
 * Picks up to `count` peers of unused groups, one at a time, from the best
 * non-empty tier: established on another backend, established, another
 * backend, anyone (weighted by the book within a tier).
 */
function pickPreferred (p: PreferInput): string[] {
  const out: string[] = []
  let pool = p.pool.filter((c) => !p.usedGroups.has(groupOfCandidate(c)) && p.book.isSelectable(c.peerId, p.now))
  while (out.length < p.count && pool.length > 0) {
    const tierOf = (c: Candidate): number => {
      const est = p.book.isEstablished(c.peerId, p.modelHash, c.numericClass)
      const other = !p.avoidBackends.has(backendOf(c.numericClass))
      return est && other ? 0 : est ? 1 : other ? 2 : 3
    }
    const tiers = pool.map(tierOf)
    const best = Math.min(...tiers)
    const tier = pool.filter((_, j) => tiers[j] === best)
    const j = weightedPick(tier, tier.map((c) => p.book.weight(c.peerId, p.now)), p.rng)
    if (j < 0) break
    const chosen = tier[j]
    out.push(chosen.peerId)
    p.usedGroups.add(groupOfCandidate(chosen))
    pool = pool.filter((c) => c !== chosen && !p.usedGroups.has(groupOfCandidate(c)))
  }
  return out
}

export interface EscalationInput {
  book: ReputationBook
  candidates: readonly Candidate[]
  modelHash: string
  rng: Rng
  now: number
  /** Peers already asked (never asked twice). */
  tried: ReadonlySet<string>
  /** Classes of the votes that disagree (or, for a recheck, of the votes so far): other backends are preferred. */
  voterClasses: readonly NumericClass[]
  /** How many to add. */
  count: number
  groupOf?: GroupOf
}

/**
 * Extra replicas for a recheck or a disputed job: not yet asked, not in a
 * group already used, preferring established peers on a backend none of the
 * voters used (a WASM replica when WebGPU peers disagree).
 */
export function escalationPlan (input: EscalationInput): string[] {
  const pool = sortedUnique(input.candidates).filter((c) => !input.tried.has(c.peerId))
  const usedGroups = new Set([...input.tried].map((p) => groupKeyOf(p, input.groupOf)))
  for (const c of input.candidates) if (input.tried.has(c.peerId)) usedGroups.add(groupOfCandidate(c))
  return pickPreferred({
    book: input.book, pool, modelHash: input.modelHash, rng: input.rng, now: input.now, count: input.count,
    usedGroups, avoidBackends: new Set(input.voterClasses.map(backendOf))
  })
}

/**
 * True when two outputs that disagree under `policy` would agree under it
 * widened `factor` times (tolerances, or mask mismatch). Decoded policies
 * (topk, ctc-text) have no near misses.
 */
export function isNearMiss (a: NamedTensors, b: NamedTensors, policy: ComparisonPolicy, classA: NumericClass, classB: NumericClass, factor = NEAR_MISS_FACTOR): boolean {
  if (outputsAgree(a, b, policy, classA, classB)) return false
  switch (policy.kind) {
    case 'exact': {
      const tol = policy.crossClass ?? DEFAULT_CROSS_CLASS_TOLERANCE
      return outputsAgree(a, b, { kind: 'tolerance', atol: tol.atol * factor, rtol: tol.rtol * factor }, classA, classB)
    }
    case 'tolerance':
      return outputsAgree(a, b, { kind: 'tolerance', atol: Math.max(policy.atol * factor, 1e-7), rtol: policy.rtol * factor }, classA, classB)
    case 'mask':
      return outputsAgree(a, b, { ...policy, maxMismatch: Math.min(1, policy.maxMismatch * factor + 1e-3) }, classA, classB)
    default:
      return false
  }
}

export interface PeerOutcome {
  peerId: string
  outcome: Outcome
  numericClass: NumericClass
}

export interface JudgeInput {
  /** Verified ballots in arrival order. */
  ballots: readonly Ballot[]
  policy: ComparisonPolicy
  /** plan.quorum. */
  quorum: number
  /** Replicas asked that have not answered or failed yet. */
  outstanding: number
  /** Replicas asked so far, all of them (initial, recheck, escalation, replacements). */
  dispatched: number
  /** plan.recheck and the recheck replica not dispatched yet. */
  recheckPending: boolean
  /** Most replicas ever asked for this job. @default 7 */
  maxReplicas?: number
  groupOf?: GroupOf
}

export type Judgement =
  | { status: 'accepted', result: Extract<TallyResult, { status: 'accepted' }>, outcomes: PeerOutcome[], disputed: boolean, sole: boolean }
  | { status: 'waiting' }
  | { status: 'escalate', add: number, reason: 'recheck' | 'replace' | 'dispute' }
  | { status: 'failed', reason: string }

export const DEFAULT_MAX_REPLICAS = 7

/** The acceptance rule; see the module doc. Pure: call it after every vote or failed replica. */
export function judgeJob (input: JudgeInput): Judgement {
  const maxReplicas = input.maxReplicas ?? DEFAULT_MAX_REPLICAS
  const { kept } = onePerGroup(input.ballots, input.groupOf)
  const clusters = tally({ ballots: kept, policy: input.policy, quorum: 1 })
  let agreeing: Ballot[] = []
  if (clusters.status === 'accepted') agreeing = clusters.agreeing
  else if (clusters.status === 'conflict') agreeing = clusters.clusters[0].ballots
  const inBest = new Set(agreeing)
  const dissenting = clusters.status === 'accepted' ? clusters.dissenting : kept.filter((b) => !inBest.has(b))
  const a = agreeing.length
  const d = dissenting.length
  const required = d === 0 ? input.quorum : Math.max(input.quorum, 2 * d + 1)
  const room = maxReplicas - input.dispatched
  const escalate = (add: number, reason: 'recheck' | 'replace' | 'dispute'): Judgement => {
    if (add > room) {
      return { status: 'failed', reason: d > 0 ? `disputed: ${a} agree, ${d} dissent, cap of ${maxReplicas} replicas reached` : `only ${a} of ${input.quorum} votes after ${input.dispatched} replicas (cap ${maxReplicas})` }
    }
    return { status: 'escalate', add, reason }
  }
  if (a >= required) {
    if (input.outstanding > 0) return { status: 'waiting' }
    if (d === 0 && input.recheckPending) return escalate(1, 'recheck')
    // Re-tally at the real quorum so the result is exactly what buildReceipt expects.
    const result = tally({ ballots: kept, policy: input.policy, quorum: required })
    if (result.status !== 'accepted') return escalate(1, 'dispute')
    const accepted = result
    const outcomes: PeerOutcome[] = accepted.agreeing.map((b) => ({ peerId: b.vote.body.peerId, outcome: 'agreed', numericClass: b.vote.body.numericClass }))
    for (const b of accepted.dissenting) {
      const near = isNearMiss(accepted.output, b.output, input.policy, accepted.numericClass, b.vote.body.numericClass)
      outcomes.push({ peerId: b.vote.body.peerId, outcome: near ? 'near-miss' : 'dissented', numericClass: b.vote.body.numericClass })
    }
    return { status: 'accepted', result: accepted, outcomes, disputed: d > 0, sole: kept.length === 1 }
  }
  const short = required - a - input.outstanding
  if (short <= 0) return { status: 'waiting' }
  return escalate(short, d > 0 ? 'dispute' : 'replace')
}

