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
 * The acceptance rule itself lives in jobrun.ts (the job run state machine)
 * and rule.ts (its counting core, which receipts are verified with).
 */
import { DEFAULT_CROSS_CLASS_TOLERANCE, outputsAgree } from './compare.js'
import { groupKeyOf } from './groups.js'
import { backendOf } from './reputation.js'
import { selectPeers } from './select.js'
import { NotEnoughPeersError } from '../errors.js'
import type { GroupOf } from './groups.js'
import type { ReputationBook } from './reputation.js'
import type { Rng } from './select.js'
import type { ComparisonPolicy, NumericClass } from './types.js'
import type { NamedTensors } from '../tensor/index.js'

/** A peer able to run the model, as the requester knows it. */
export interface Candidate {
  peerId: string
  /** The class it announced (and will sign in its votes). */
  numericClass: NumericClass
  /** Sybil group (groups.ts); undefined: its own group. */
  group?: string
  /**
   * False when the requester has no open link to it right now (it announced,
   * but may have left since). Such peers are drawn only when the live ones
   * are not enough, so a departed peer is never asked ahead of a live one.
   * @default true
   */
  live?: boolean
}

const isLive = (c: Candidate): boolean => c.live !== false

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
  /**
   * Chance that the first peer is drawn among peers not yet established for
   * this model and backend while established ones are selectable too (then
   * the draw is among established ones). Newcomer jobs cost about 4
   * replicas, so with visitors arriving all the time an unrestricted draw
   * spends most compute on them. undefined: one draw among all, by weight
   * only. @default undefined
   */
  newcomerShare?: number
  /** Peers not to use (e.g. already asked). */
  exclude?: ReadonlySet<string>
  /**
   * Draw the first peer with these extra weights (canary.ts uses it to aim
   * canaries at newcomers); multiplied into the book's weight.
   */
  firstWeight?: (peerId: string) => number
}

/** The tunables of adaptive replication a caller may set (see PlanInput). */
export type AdaptiveOptions = Pick<PlanInput, 'base' | 'minReplicas' | 'floorRecheck' | 'probationRecheck' | 'probation' | 'newcomerShare'>

/** Fixed k-of-n (`--replicas k --quorum q`) or adaptive replication. */
export type PlanMode =
  | { kind: 'fixed', replicas: number, quorum: number }
  | { kind: 'adaptive', options?: AdaptiveOptions }

/**
 * How a flagged or outvoted peer's remembered job is re-run, in the
 * background (src/jobs/trust.ts; the simulation runs the same): three other
 * peers that must all agree, because two colluders in a 2-of-2 re-run could
 * retract a right answer.
 */
export const REVERIFY_MODE = { kind: 'fixed', replicas: 3, quorum: 3 } as const satisfies PlanMode

export interface ReplicationPlan {
  /** Dispatch to these now (first is the drawn peer). */
  peers: string[]
  /** Put in the JobSpec: `replicas = peers.length`. */
  replicas: number
  /** Put in the JobSpec and pass to JobRun. */
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
  // usually already so (requesterDeps sorts): skip the sort
  let sorted = true
  for (let i = 1; i < candidates.length && sorted; i++) sorted = candidates[i - 1].peerId < candidates[i].peerId
  if (sorted) return [...candidates]
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
  if (input.newcomerShare !== undefined) {
    const est = pool.map((c, j) => weights[j] > 0 && book.isEstablished(c.peerId, modelHash, c.numericClass))
    const some = est.some((e) => e)
    const newcomers = est.some((e, j) => !e && weights[j] > 0)
    if (some && newcomers) {
      const drawNew = rng() < input.newcomerShare
      for (let j = 0; j < pool.length; j++) if (est[j] === drawNew) weights[j] = 0
    }
  }
  // live first: the first peer is drawn among live ones whenever one can be drawn
  if (pool.some((c, j) => weights[j] > 0 && isLive(c))) for (let j = 0; j < pool.length; j++) if (!isLive(pool[j])) weights[j] = 0
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
 * backend, anyone (weighted by the book within a tier); peers not live come
 * after every live one, in the same order of tiers.
 */
function pickPreferred (p: PreferInput): string[] {
  const out: string[] = []
  // groups, tiers and weights do not change while picking: compute them once per candidate
  let pool = p.pool.map((c) => ({ c, g: groupOfCandidate(c) })).filter((x) => !p.usedGroups.has(x.g) && p.book.isSelectable(x.c.peerId, p.now)).map(({ c, g }) => {
    const est = p.book.isEstablished(c.peerId, p.modelHash, c.numericClass)
    const other = !p.avoidBackends.has(backendOf(c.numericClass))
    return { c, g, tier: (est && other ? 0 : est ? 1 : other ? 2 : 3) + (isLive(c) ? 0 : 4), weight: p.book.weight(c.peerId, p.now) }
  })
  while (out.length < p.count && pool.length > 0) {
    let best = Infinity
    for (const x of pool) if (x.tier < best) best = x.tier
    const tier = pool.filter((x) => x.tier === best)
    const j = weightedPick(tier.map((x) => x.c), tier.map((x) => x.weight), p.rng)
    if (j < 0) break
    const chosen = tier[j]
    out.push(chosen.c.peerId)
    p.usedGroups.add(chosen.g)
    pool = pool.filter((x) => x !== chosen && !p.usedGroups.has(x.g))
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

/**
 * Plans a job's first dispatch in either mode: fixed mode takes `replicas`
 * random selectable peers (throws NotEnoughPeersError when there are fewer),
 * adaptive mode is planReplication. The requester and the simulation both
 * plan through here.
 */
export function planJob (mode: PlanMode, input: Omit<PlanInput, keyof AdaptiveOptions>): ReplicationPlan | undefined {
  if (mode.kind === 'adaptive') return planReplication({ ...input, ...mode.options })
  const pool = input.candidates.filter((c) => input.exclude?.has(c.peerId) !== true && input.book.isSelectable(c.peerId, input.now))
  // live peers first: the rest are drawn only for the replicas the live ones cannot fill
  const live = [...new Set(pool.filter(isLive).map((c) => c.peerId))]
  const rest = [...new Set(pool.filter((c) => !isLive(c) && !live.includes(c.peerId)).map((c) => c.peerId))]
  if (live.length + rest.length < mode.replicas) throw new NotEnoughPeersError(`need ${mode.replicas} peers, only ${live.length + rest.length} available`)
  const peers = live.length >= mode.replicas
    ? selectPeers(live, mode.replicas, input.rng)
    : [...selectPeers(live, live.length, input.rng), ...selectPeers(rest, mode.replicas - live.length, input.rng)]
  return { peers, replicas: mode.replicas, quorum: mode.quorum, recheck: false, established: false }
}
