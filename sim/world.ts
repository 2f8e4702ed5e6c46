/**
 * One seeded simulation run: a requester issuing jobs, for simulated days,
 * to a churning population of peers, a fraction of them adversarial. What
 * decides is the production code, driven the way src/jobs drives it:
 * planJob / peersFor / JobRun (the acceptance state machine), ReputationBook,
 * CanarySchedule / judgeCanary, and the flag → re-verify → retract loop of
 * src/jobs/trust.ts (REVERIFY_MODE, 3-of-3 re-runs of the flagged peer's remembered jobs).
 *
 * Modelled: peer lifetimes (visitors for minutes, extensions and Node
 * workers for days), four numeric classes with the measured float gaps,
 * per-replica timeouts, fresh identities (whitewashing), a coalition that
 * remembers inputs (so a colluding checker repeats the coalition's lie), a
 * backend that is wrong the same way on every peer.
 * Optionally (sampleSize), the requester draws from a rotating random sample
 * of live peers, as relays hand it out, instead of the whole online crowd.
 * Not modelled: signatures, the network and its latency (an answer comes in
 * time or not at all), several requesters (observations), Sybil groups
 * (every peer its own group: the worst case).
 */
import { CanarySchedule } from '../src/consensus/canary.js'
import { BackendHealth } from '../src/consensus/backend-health.js'
import { outputsAgree } from '../src/consensus/compare.js'
import { JobRun, peersFor } from '../src/consensus/jobrun.js'
import { DEFAULT_BASE, REVERIFY_MODE, planJob } from '../src/consensus/replication.js'
import { ReputationBook } from '../src/consensus/reputation.js'
import { createRng } from '../src/consensus/select.js'
import { createTensor, hashTensors } from '../src/tensor/index.js'
import type { AcceptAction, JobRunAction, JobRunEvent } from '../src/consensus/jobrun.js'
import type { AdaptiveOptions, Candidate, PlanMode, ReplicationPlan } from '../src/consensus/replication.js'
import type { ReputationInit } from '../src/consensus/reputation.js'
import type { Rng } from '../src/consensus/select.js'
import type { Ballot, ComparisonPolicy, NumericClass } from '../src/consensus/types.js'
import type { NamedTensors } from '../src/tensor/index.js'

export type AttackerKind = 'always-wrong' | 'colluding' | 'patient' | 'sparse' | 'whitewash-flag' | 'whitewash-once' | 'copying' | 'noise' | 'slow' | 'silent'
export const ATTACKER_KINDS: readonly AttackerKind[] = ['always-wrong', 'colluding', 'patient', 'sparse', 'whitewash-flag', 'whitewash-once', 'copying', 'noise', 'slow', 'silent']
/** Kinds that share one coalition: they remember the inputs they lied on and repeat the lie when asked to check. */
export const STRATEGIC_KINDS: readonly AttackerKind[] = ['colluding', 'patient', 'sparse', 'whitewash-flag', 'whitewash-once']
const COALITION = new Set<AttackerKind>(STRATEGIC_KINDS)

export type Surface = 'visitor' | 'extension' | 'node'
export type PeerKind = 'honest' | AttackerKind

/**
 * Numeric classes and how far their outputs sit from the ORT-web WASM
 * 1-thread reference, per NOTES.md "Determinism". Same class and job:
 * bit-identical outputs. Browser surfaces draw among the first three.
 */
export const CLASSES: ReadonlyArray<{ numericClass: NumericClass, maxAbs: number, smallAbs?: number }> = [
  { numericClass: 'ort-web/wasm/t1/chromium', maxAbs: 0 },
  { numericClass: 'ort-web/wasm/t2/chromium', maxAbs: 8.6e-6 },
  { numericClass: 'ort-web/webgpu/t1/chromium', maxAbs: 3.6e-5 },
  { numericClass: 'ort-node/cpu/t4/node', maxAbs: 3.4e-5, smallAbs: 6e-8 }
]
const BROWSER_CLASS_SHARES = [0.35, 0.35, 0.3]
/** The requester computes canaries' known answers in its own runtime. */
export const REQUESTER_CLASS = CLASSES[0].numericClass

export interface SimOptions {
  seed: number
  /** Real jobs issued (canaries and re-verification come on top). */
  jobs: number
  /** Time between real jobs, ms. */
  jobIntervalMs: number
  /** Peers online at once. */
  online: number
  /** Fraction of online peers that are adversarial. */
  f: number
  /** One kind, 'mixed' (equal shares of every kind), 'strategic' (equal shares of the coalition's kinds) or 'none'. */
  attacker: AttackerKind | 'mixed' | 'strategic' | 'none'
  /** Honest peers: share of the online honest ones and mean session length (ms) per surface; a session is one identity. */
  surfaces: Record<Surface, { share: number, meanMs: number }>
  /** Adaptive replication settings (production planReplication). */
  adaptive: AdaptiveOptions
  /** Fixed k-of-n instead of adaptive (the CLI's --replicas/--quorum), for comparison. */
  fixed?: { replicas: number, quorum: number }
  /** Reputation settings (production ReputationBook). */
  trust: ReputationInit
  canaryRate: number
  /** Accepted jobs the requester remembers for re-verification (trust.ts recentLimit). */
  recentLimit: number
  replicaTimeoutMs: number
  maxReplicas: number
  /** Chance per solo job that a `sparse` attacker lies. */
  sparseRate: number
  /** Solo jobs a strategic attacker stays honest before lying (it assumes the requester's probation). */
  patience: number
  /** Hook (issue item 5): price of one fresh identity, in honest jobs; only added to the attacker's cost. */
  identityCost: number
  /** A backend wrong the same way on every peer: on this fraction of inputs. */
  backendFault?: { backend: string, rate: number }
  /**
   * Backend verdicts from canaries (src/consensus/backend-health.ts, as trust.ts
   * uses them): per-backend canary aim, a canary after a dispute without an
   * answer, and a faulty backend's peers left out. False runs without, to show
   * what they buy. @default true
   */
  backendVerdicts?: boolean
  /** Per element probability that an honest deviation is 3x the measured maximum (an unmeasured tail). */
  tail: number
  /** Elements per output tensor. */
  outputSize: number
  policy: ComparisonPolicy
  /**
   * Peers the requester sees: a uniform random sample of this many live
   * peers (what relays return from their signed leases, up to 2 relays
   * merged), not the whole online crowd. Every draw, replacement and
   * escalation comes from it; a sample that cannot fill a plan or an
   * escalation is replaced at once (the requester queries again).
   * undefined or 0: the whole online crowd. @default undefined
   */
  sampleSize?: number
  /**
   * Real jobs a requester keeps one sample before drawing a fresh one. The
   * redesign refreshes about every 5 s, which at a job every 3 s is 2 jobs:
   * 50 keeps a sample (a lucky or an unlucky one) far longer. @default 50
   */
  sampleRefreshJobs?: number
  /**
   * One of the two relays omits: of the half of each sample it returns, it
   * drops each honest peer with this probability. It cannot add peers (leases
   * are signed); the other relay's half comes in whole. Only with sampleSize.
   * @default 0
   */
  omitHonestShare?: number
  /**
   * A fresh sample keeps the members of the last one that are still live and
   * established with this requester (ReplicaPool's `keep`): they hold their
   * places and fresh draws fill the rest. Only with sampleSize.
   * @default false
   */
  keepEstablished?: boolean
}

export const DEFAULT_SAMPLE_REFRESH_JOBS = 50

export interface SampleInit<T> {
  /** Members wanted; fewer when fewer peers are live. */
  size: number
  rng: Rng
  /** The second relay's omissions (SimOptions.omitHonestShare). */
  omit?: { share: number, isHonest: (peer: T) => boolean }
}

/**
 * A relay sample: `size` of `live`, uniformly without replacement (partial
 * Fisher-Yates), in draw order. With `omit`, the first half stands for the
 * honest relay's answer and the second for the omitting relay's, which
 * drops honest peers from it.
 */
export function drawSample<T> (live: readonly T[], init: SampleInit<T>): T[] {
  const pick = [...live]
  const n = Math.min(Math.max(0, Math.floor(init.size)), pick.length)
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(init.rng() * (pick.length - i))
    const t = pick[i]; pick[i] = pick[j]; pick[j] = t
  }
  const sample = pick.slice(0, n)
  const omit = init.omit
  if (omit === undefined || !(omit.share > 0)) return sample
  const half = Math.ceil(n / 2)
  return sample.filter((p, i) => i < half || !omit.isHonest(p) || init.rng() >= omit.share)
}

export const DAY = 24 * 3600_000
export const DEFAULT_SURFACES: SimOptions['surfaces'] = {
  visitor: { share: 0.5, meanMs: 10 * 60_000 },
  extension: { share: 0.35, meanMs: 2 * DAY },
  node: { share: 0.15, meanMs: 7 * DAY }
}

export interface KindStats {
  /** Identities that took part (fresh identities of whitewashers included). */
  identities: number
  flagged: number
  /** Mean hours from an identity's arrival to its flag (flagged ones). */
  meanHoursToFlag: number | null
  /** Votes that matched the right answer. */
  rightVotes: number
  wrongVotes: number
  /** Real jobs accepted with this kind's wrong answer, at answer time, and still standing at the end. */
  wrongAccepted: number
  wrongStanding: number
}

export interface SimResult {
  options: SimOptions
  realJobs: number
  accepted: number
  failed: Record<string, number>
  /** Wrong answers accepted at answer time, per real job. */
  wrongAccepted: number
  wrongAcceptRate: number
  /** Of them, retracted by re-verification after a flag. */
  retracted: number
  /** Still standing at the end (settlement = every re-verification finished). */
  wrongStanding: number
  wrongStandingRate: number
  /** Right answers retracted by a re-verification that got it wrong. */
  falseRetractions: number
  /** Votes of correct honest peers recorded as dissented or canary-failed. */
  honestRejected: number
  honestVotes: number
  honestRejectRate: number
  honestNearMisses: number
  /** Correct honest peers flagged (the fault backend's peers are counted apart). */
  honestFlagged: number
  /** All dispatches, canaries' local runs included, per real job. */
  computePerJob: number
  /** Dispatches of real jobs only (their rechecks, replacements and escalation included). */
  realDispatchesPerJob: number
  canaryJobs: number
  reverifyJobs: number
  /** Votes by attackers that matched the right answer, and attackers' wrong answers accepted / standing. */
  attackerRightVotes: number
  attackerWrongAccepted: number
  attackerWrongStanding: number
  /** Right votes by attackers per wrong answer accepted (answer time / standing); null when none was. */
  attackerRightVotesPerWrong: number | null
  attackerRightVotesPerStanding: number | null
  /** Same, with identityCost per fresh identity added. */
  attackerCostPerWrong: number | null
  freshIdentities: number
  byKind: Record<string, KindStats>
  /** Wrong accepts by the job's plan: first peer established (solo) or not, recheck planned, disputed. */
  wrongWhy: Record<string, number>
  /** With sampleSize: samples drawn, of them early (the sample could not fill a plan or an escalation), mean members and attackers' share of them, honest peers omitted. */
  sampling?: { draws: number, early: number, meanMembers: number, attackerShare: number, omitted: number, meanKept: number }
  /** Peers of the faulty backend: identities, flagged, first flag (hours into the run). */
  faultBackend?: {
    peers: number
    flagged: number
    firstFlagHours: number | null
    wrongAccepted: number
    wrongStanding: number
    /** Hours into the run when canaries judged the backend itself (null: never). */
    verdictHours: number | null
    /** Replicas sent to the faulty backend's peers after that verdict (fresh identities included). */
    askedAfterVerdict: number
  }
  hours: number
  ms: number
}

interface Peer {
  id: string
  kind: PeerKind
  surface: Surface | 'attacker'
  numericClass: NumericClass
  joinedAt: number
  leavesAt: number
  /** Specs with quorum 1 it has seen (what a strategic attacker counts). */
  soloSeen: number
  slot?: number
  retire?: boolean
  flaggedAt?: number
  lastOutput?: NamedTensors
}

interface Job {
  key: number
  reference: NamedTensors
  byClass: Map<NumericClass, NamedTensors>
  faulty: boolean
  /** The coalition's lie on this input, once one was told. */
  lie?: NamedTensors
  /** Who told it (kind), for attribution. */
  liar?: AttackerKind
}

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
function peerIdOf (i: number): string {
  let s = ''
  let n = i + 1
  while (n > 0) { s = B58[n % 58] + s; n = Math.floor(n / 58) }
  return `12D3KooW${s.padStart(6, '1')}`
}
const hex64 = (n: number): string => n.toString(16).padStart(64, '0')
const MODEL = 'ab'.repeat(32)

export function runSim (o: SimOptions): SimResult {
  const t0 = performance.now()
  const worldRng = createRng(o.seed)
  const requesterRng = createRng(o.seed + 0.25)
  const noiseRng = createRng(o.seed + 0.5)
  const attackerRng = createRng(o.seed + 0.75)
  // its own stream, so that turning sampling on leaves the other draws where they were
  const sampleRng = createRng(o.seed + 0.125)
  const book = new ReputationBook(o.trust)
  const schedule = new CanarySchedule({ rate: o.canaryRate })
  const mode: PlanMode = o.fixed !== undefined ? { kind: 'fixed', ...o.fixed } : { kind: 'adaptive', options: o.adaptive }
  const exp = (mean: number): number => -Math.log(1 - worldRng()) * mean

  // ---------------------------------------------------------------- population
  const all = new Map<string, Peer>()
  let online: Peer[] = []
  let candidates: Candidate[] = []
  let dirty = true
  let identities = 0
  let now = 1_700_000_000_000
  const start = now
  const drawClass = (surface: Surface | 'attacker'): NumericClass => {
    if (surface === 'node' || (surface === 'attacker' && worldRng() < 0.3)) return CLASSES[3].numericClass
    let r = worldRng()
    for (let i = 0; i < 3; i++) { if (r < BROWSER_CLASS_SHARES[i]) return CLASSES[i].numericClass; r -= BROWSER_CLASS_SHARES[i] }
    return CLASSES[2].numericClass
  }
  const spawn = (kind: PeerKind, surface: Surface | 'attacker', lifetime: number, slot?: number): Peer => {
    const p: Peer = { id: peerIdOf(identities++), kind, surface, numericClass: drawClass(surface), joinedAt: now, leavesAt: now + lifetime, soloSeen: 0, slot }
    all.set(p.id, p)
    online.push(p)
    dirty = true
    return p
  }
  const nAtt = o.attacker === 'none' ? 0 : Math.round(o.online * o.f)
  const nHonest = o.online - nAtt
  const surfaces = Object.keys(o.surfaces) as Surface[]
  const arrivalMean: Record<string, number> = {}
  const nextArrival: Record<string, number> = {}
  for (const s of surfaces) {
    const n = nHonest * o.surfaces[s].share
    for (let i = 0; i < Math.round(n); i++) spawn('honest', s, exp(o.surfaces[s].meanMs))
    arrivalMean[s] = n > 0 ? o.surfaces[s].meanMs / n : Infinity
    nextArrival[s] = now + exp(arrivalMean[s])
  }
  const slotKind = (slot: number): AttackerKind => (o.attacker === 'mixed'
    ? ATTACKER_KINDS[slot % ATTACKER_KINDS.length]
    : o.attacker === 'strategic' ? STRATEGIC_KINDS[slot % STRATEGIC_KINDS.length] : o.attacker as AttackerKind)
  let freshIdentities = 0
  for (let slot = 0; slot < nAtt; slot++) spawn(slotKind(slot), 'attacker', Infinity, slot)
  const replaceIdentity = (p: Peer): void => {
    // whitewashing: the slot's next identity starts from nothing
    p.leavesAt = now
    p.retire = true
    dirty = true
    freshIdentities++
    spawn(p.kind, 'attacker', Infinity, p.slot)
  }
  const refresh = (): void => {
    while (true) {
      let s: Surface | undefined
      for (const k of surfaces) if (nextArrival[k] <= now && (s === undefined || nextArrival[k] < nextArrival[s])) s = k
      if (s === undefined) break
      spawn('honest', s, exp(o.surfaces[s].meanMs))
      nextArrival[s] += exp(arrivalMean[s])
    }
    if (dirty || online.some((p) => p.leavesAt <= now)) {
      online = online.filter((p) => p.leavesAt > now)
      candidates = online.map((p) => ({ peerId: p.id, numericClass: p.numericClass }))
      dirty = false
    }
  }

  // ---------------------------------------------------------------- what the requester sees
  const sampling = (o.sampleSize ?? 0) > 0
  const refreshJobs = Math.max(1, o.sampleRefreshJobs ?? DEFAULT_SAMPLE_REFRESH_JOBS)
  const omit = (o.omitHonestShare ?? 0) > 0 ? { share: o.omitHonestShare!, isHonest: (p: Peer): boolean => p.kind === 'honest' } : undefined
  /** undefined: the whole online crowd. */
  let sample: ReadonlySet<string> | undefined
  const sampleStats = { draws: 0, early: 0, members: 0, attackers: 0, omitted: 0, kept: 0 }
  const drawNewSample = (early: boolean): void => {
    // a whitewasher's retired identity is gone from the leases at once, its fresh one is in them
    const live = online.filter((p) => p.leavesAt > now)
    const kept = o.keepEstablished === true && sample !== undefined ? live.filter((p) => sample!.has(p.id) && book.isEstablished(p.id, MODEL, p.numericClass)) : []
    const keptIds = new Set(kept.map((p) => p.id))
    const fresh = drawSample(live.filter((p) => !keptIds.has(p.id)), { size: o.sampleSize! - kept.length, rng: sampleRng, omit })
    const members = [...kept, ...fresh]
    sample = new Set(members.map((p) => p.id))
    sampleStats.draws++
    if (early) sampleStats.early++
    sampleStats.members += members.length
    sampleStats.attackers += members.filter((p) => p.kind !== 'honest').length
    sampleStats.omitted += Math.min(o.sampleSize!, live.length) - members.length
    sampleStats.kept += kept.length
  }
  const visible = (): Candidate[] => (sample === undefined ? candidates : candidates.filter((c) => sample!.has(c.peerId)))
  /** Draws for one plan past the first; each replaces a sample that could not fill it. */
  const EARLY_DRAWS = 3
  /** Replicas the plan meant to send (planReplication's `want`): fewer means the sample ran out. */
  const wanted = (m: PlanMode, plan: ReplicationPlan): number => {
    if (m.kind === 'fixed') return m.replicas
    const min = m.options?.minReplicas ?? 1
    return plan.established ? Math.max(1, min) : Math.max((m.options?.base ?? DEFAULT_BASE).replicas, min)
  }

  // ---------------------------------------------------------------- outputs
  const L = o.outputSize
  const tensors = (d: Float32Array): NamedTensors => ({ y: createTensor('float32', [L], d) })
  const hashes = new WeakMap<NamedTensors, string>()
  const hashOf = (t: NamedTensors): string => {
    let h = hashes.get(t)
    if (h === undefined) { h = hashTensors(t); hashes.set(t, h) }
    return h
  }
  let inputs = 0
  const newJob = (): Job => {
    const d = new Float32Array(L)
    for (let i = 0; i < L; i++) d[i] = (noiseRng() * 2 - 1) * 4
    const reference = tensors(d)
    const job: Job = { key: inputs++, reference, byClass: new Map([[CLASSES[0].numericClass, reference]]), faulty: o.backendFault !== undefined && noiseRng() < o.backendFault.rate }
    return job
  }
  const shifted = (job: Job, r: Rng): NamedTensors => {
    const d = new Float32Array(job.reference.y.data as Float32Array)
    d[Math.floor(r() * L)] += 0.5 + r()
    return tensors(d)
  }
  const faultOutputs = new Map<number, NamedTensors>()
  const honestOutput = (job: Job, numericClass: NumericClass): NamedTensors => {
    if (job.faulty && numericClass.startsWith(o.backendFault!.backend + '/')) {
      let f = faultOutputs.get(job.key)
      if (f === undefined) { f = shifted(job, noiseRng); faultOutputs.set(job.key, f) }
      return f
    }
    let out = job.byClass.get(numericClass)
    if (out !== undefined) return out
    const spec = CLASSES.find((c) => c.numericClass === numericClass)!
    const ref = job.reference.y.data as Float32Array
    const d = new Float32Array(ref)
    const max = spec.smallAbs !== undefined && noiseRng() < 0.5 ? spec.smallAbs : spec.maxAbs
    for (let i = 0; i < L; i++) {
      const u = noiseRng()
      let dev = max * u * u * u * (noiseRng() < 0.5 ? -1 : 1)
      if (o.tail > 0 && noiseRng() < o.tail) dev *= 3
      d[i] = ref[i] + dev
    }
    out = tensors(d)
    job.byClass.set(numericClass, out)
    return out
  }
  const isRight = (job: Job, out: NamedTensors, numericClass: NumericClass): boolean =>
    outputsAgree(job.reference, out, o.policy, CLASSES[0].numericClass, numericClass)

  // ---------------------------------------------------------------- behaviour
  /** Coalition members asked, per spec id (they tell each other). */
  const coalitionAsked = new Map<string, number>()
  interface Spec { jobId: string, quorum: number }
  /** undefined: no answer in time. */
  const answer = (p: Peer, job: Job, spec: Spec): NamedTensors | undefined => {
    if (spec.quorum === 1) p.soloSeen++
    const honest = (): NamedTensors => honestOutput(job, p.numericClass)
    const lie = (kind: AttackerKind): NamedTensors => {
      job.lie ??= shifted(job, attackerRng)
      job.liar ??= kind
      return job.lie
    }
    if (p.kind !== 'honest' && COALITION.has(p.kind) && job.lie !== undefined) return job.lie
    switch (p.kind) {
      case 'honest': return honest()
      case 'silent': return undefined
      case 'slow': return attackerRng() < 0.7 ? undefined : honest()
      case 'always-wrong': return shifted(job, attackerRng)
      case 'noise': return attackerRng() < 0.3 ? shifted(job, attackerRng) : honest()
      case 'copying': {
        // lazy: half the time re-signs whatever it answered last
        if (attackerRng() < 0.5 && p.lastOutput !== undefined) return p.lastOutput
        p.lastOutput = honest()
        return p.lastOutput
      }
      case 'colluding':
        // cheats whenever the coalition holds the quorum the spec shows
        return (coalitionAsked.get(spec.jobId) ?? 0) >= spec.quorum ? lie(p.kind) : honest()
      case 'patient':
      case 'whitewash-flag':
        return spec.quorum === 1 && p.soloSeen > o.patience ? lie(p.kind) : honest()
      case 'whitewash-once':
        if (spec.quorum === 1 && p.soloSeen > o.patience) {
          p.retire = true
          return lie(p.kind)
        }
        return honest()
      case 'sparse':
        return spec.quorum === 1 && p.soloSeen > o.patience && attackerRng() < o.sparseRate ? lie(p.kind) : honest()
    }
  }

  // ---------------------------------------------------------------- stats
  const byKind: Record<string, KindStats> = {}
  const kindStats = (k: string): KindStats => (byKind[k] ??= { identities: 0, flagged: 0, meanHoursToFlag: null, rightVotes: 0, wrongVotes: 0, wrongAccepted: 0, wrongStanding: 0 })
  let honestVotes = 0
  let honestRejected = 0
  let honestNear = 0
  let faultFirstFlag: number | undefined
  const verdicts = o.backendVerdicts !== false
  const health = new BackendHealth()
  let faultVerdictAt: number | undefined
  let faultAskedAfterVerdict = 0
  let dispatchesReal = 0
  let dispatchesOther = 0
  let canaryJobs = 0
  let reverifyJobs = 0
  const isFaultPeer = (p: Peer): boolean => o.backendFault !== undefined && p.numericClass.startsWith(o.backendFault.backend + '/')
  /** Peers whose remembered work is to be re-run (trust.ts queueReverify), in order. */
  const reverifyQueue: Peer[] = []
  const flaggedIds = new Set<string>()
  let specs = 0

  const record = (a: Extract<JobRunAction, { type: 'record' }>, job: Job, votes: Map<string, NamedTensors>, seen: { flagged: Peer[], outvoted: Peer[] }): void => {
    const p = all.get(a.peerId)!
    if (a.outcome === 'dissented') seen.outvoted.push(p)
    const out = votes.get(a.peerId)
    if (a.outcome !== 'failed-to-answer' && out !== undefined) {
      const right = isRight(job, out, p.numericClass)
      if (p.kind === 'honest') {
        if (right) {
          honestVotes++
          if (a.outcome === 'dissented' || a.outcome === 'canary-failed') honestRejected++
          if (a.outcome === 'near-miss') honestNear++
        }
      } else {
        const s = kindStats(p.kind)
        if (right) s.rightVotes++
        else s.wrongVotes++
      }
    }
    if (verdicts && a.numericClass !== undefined && (a.outcome === 'canary-passed' || a.outcome === 'canary-failed' || a.outcome === 'near-miss')) {
      const v = health.observe(MODEL, a.numericClass, a.peerId, a.outcome)
      if (v !== undefined && o.backendFault !== undefined && v.backend === o.backendFault.backend) faultVerdictAt ??= now
    }
    if (book.record(a.peerId, a.outcome, { modelHash: MODEL, numericClass: a.numericClass, jobId: a.jobId, at: now, sole: a.sole })) {
      p.flaggedAt = now
      flaggedIds.add(p.id)
      if (isFaultPeer(p) && p.kind === 'honest') faultFirstFlag ??= now
      seen.flagged.push(p)
      if (p.kind === 'whitewash-flag' && !p.retire) replaceIdentity(p)
    }
  }

  /** One job through planJob + JobRun, answered by the simulated peers. */
  let lastShape = ''
  /** The last runJob ended without an answer after its votes conflicted. */
  let lastDisputedFailure = false
  const runJob = (job: Job, planMode: PlanMode, opts: { canary?: boolean, firstWeight?: (peerId: string) => number, exclude?: ReadonlySet<string>, count: (n: number) => void, seen: { flagged: Peer[], outvoted: Peer[] } }): AcceptAction | undefined => {
    lastDisputedFailure = false
    // trust.ts depsFor(): a backend judged wrong on the model is no longer drawn
    const selectable = (c: Candidate): boolean => opts.exclude?.has(c.peerId) !== true && !(verdicts && health.isFaulty(MODEL, c.numericClass))
    let pool = visible().filter(selectable)
    const planNow = (): ReplicationPlan | undefined => {
      try {
        return planJob(planMode, { book, candidates: pool, modelHash: MODEL, rng: requesterRng, now, firstWeight: opts.firstWeight, exclude: opts.exclude })
      } catch {
        return undefined // NotEnoughPeersError (fixed mode)
      }
    }
    let plan = planNow()
    for (let i = 0; sampling && i < EARLY_DRAWS && (plan === undefined || plan.peers.length < wanted(planMode, plan)); i++) {
      drawNewSample(true)
      pool = visible().filter(selectable)
      plan = planNow()
    }
    if (plan === undefined) return undefined
    const mainId = hex64(++specs)
    const canary = opts.canary === true ? { modelHash: MODEL, inputHash: hex64(job.key), expected: honestOutput(job, REQUESTER_CLASS), expectedClass: REQUESTER_CLASS, policy: o.policy } : undefined
    const run = new JobRun({ jobId: mainId, policy: o.policy, quorum: plan.quorum, replicas: plan.peers.length, recheck: plan.recheck, maxReplicas: o.maxReplicas, replicaTimeoutMs: o.replicaTimeoutMs, canary })
    const votes = new Map<string, NamedTensors>()
    const events: JobRunEvent[] = []
    let t = now
    let result: AcceptAction | undefined
    const queue: JobRunAction[] = run.start()
    for (;;) {
      while (queue.length > 0) {
        const a = queue.shift()!
        switch (a.type) {
          case 'dispatch': {
            let peers = a.reason === 'initial' ? plan.peers : peersFor(run, a, { book, candidates: pool, modelHash: MODEL, rng: requesterRng, now: t }).slice(0, a.count)
            if (sampling && a.reason !== 'initial' && peers.length < (a.job === 'recheck' ? Math.min(1, a.count) : a.count)) {
              // the sample has no one left to ask: a fresh one fills the rest
              drawNewSample(true)
              pool = visible().filter(selectable)
              const more = peersFor(run, a, { book, candidates: pool, modelHash: MODEL, rng: requesterRng, now: t }).filter((id) => !peers.includes(id))
              peers = [...peers, ...more].slice(0, a.job === 'recheck' ? Math.min(1, a.count) : a.count)
            }
            const spec: Spec = a.job === 'recheck' ? { jobId: hex64(++specs), quorum: 1 } : { jobId: mainId, quorum: plan.quorum }
            queue.push(...run.step({ type: 'dispatched', at: t, jobId: spec.jobId, reason: a.reason, peers }))
            opts.count(peers.length)
            for (const id of peers) {
              const p = all.get(id)!
              if (p.kind !== 'honest' && COALITION.has(p.kind)) coalitionAsked.set(spec.jobId, (coalitionAsked.get(spec.jobId) ?? 0) + 1)
              if (faultVerdictAt !== undefined && isFaultPeer(p)) faultAskedAfterVerdict++
            }
            for (const id of peers) {
              const p = all.get(id)!
              const out = answer(p, job, spec)
              if (out === undefined) continue
              votes.set(id, out)
              events.push({ type: 'vote', at: t, ballot: ballotOf(p, out, spec.jobId, t) })
            }
            break
          }
          case 'record': record(a, job, votes, opts.seen); break
          case 'accept': result = a; break
          default: break
        }
      }
      if (run.decided) break
      const next = events.shift()
      if (next !== undefined) {
        queue.push(...run.step(next))
      } else {
        const due = run.nextTimeout()
        if (due === undefined) throw new Error('job run waiting with nothing in flight')
        t = due
        queue.push(...run.step({ type: 'tick', at: t }))
      }
    }
    for (const id of run.dispatched) { const p = all.get(id)!; if (p.retire === true && p.leavesAt > now && p.kind === 'whitewash-once') replaceIdentity(p) }
    lastDisputedFailure = run.result?.type === 'fail' && run.result.disputed
    lastShape = `${plan.established ? 'solo' : 'newcomer'}${plan.recheck ? '+recheck' : ''}${result?.recheckSkipped === true ? '(skipped)' : ''}${result?.disputed === true ? '+disputed' : ''}`
    return result
  }

  const ballotOf = (p: Peer, output: NamedTensors, jobId: string, at: number): Ballot => ({
    vote: { body: { v: 1, jobId, modelHash: MODEL, inputHash: jobId, outputHash: hashOf(output), numericClass: p.numericClass, peerId: p.id, signedAt: at }, signature: new Uint8Array([1]), publicKey: new Uint8Array([1]) },
    output
  })

  // ---------------------------------------------------------------- the requester (trust.ts)
  const recent = new Map<string, { job: Job, output: NamedTensors, numericClass: NumericClass, reverified: boolean }>()
  const accepted = new Map<string, { wrong: boolean, retracted: boolean, kind: string }>()
  let wrongAccepted = 0
  let retracted = 0
  let falseRetractions = 0
  const failed: Record<string, number> = {}
  const wrongWhy: Record<string, number> = {}

  const reverify = (p: Peer): void => {
    for (const a of book.recentAccepted(p.id)) {
      const r = recent.get(a.jobId)
      if (r === undefined || r.reverified) continue
      r.reverified = true
      const exclude = new Set([...flaggedIds, p.id])
      reverifyJobs++
      const seen = { flagged: [], outvoted: [] }
      const again = runJob(r.job, REVERIFY_MODE, { exclude, count: (n) => { dispatchesOther += n }, seen })
      reverifyQueue.push(...seen.flagged)
      if (again === undefined) continue
      if (!outputsAgree(again.output, r.output, o.policy, again.numericClass, r.numericClass)) {
        const acc = accepted.get(a.jobId)!
        if (!acc.retracted) {
          acc.retracted = true
          if (acc.wrong) { retracted++; kindStats(acc.kind).wrongStanding-- } else falseRetractions++
        }
      }
    }
  }

  /** trust.ts runCanary(): aimed at peers in canary probation and, per backend, at backends no canary has reached yet. */
  const runCanary = (): void => {
    canaryJobs++
    dispatchesOther++ // the requester's own run of the known answer
    const cseen = { flagged: [], outvoted: [] }
    const inProbation = schedule.firstWeight(book)
    const firstWeight = verdicts ? (peerId: string): number => inProbation(peerId) * health.canaryWeight(MODEL, all.get(peerId)!.numericClass) : inProbation
    runJob(newJob(), mode, { canary: true, firstWeight, count: (n) => { dispatchesOther += n }, seen: cseen })
    reverifyQueue.push(...cseen.flagged)
  }

  let realJobs = 0
  while (realJobs < o.jobs) {
    now = start + realJobs * o.jobIntervalMs
    refresh()
    if (sampling && realJobs % refreshJobs === 0) drawNewSample(false)
    const job = newJob()
    realJobs++
    const seen: { flagged: Peer[], outvoted: Peer[] } = { flagged: [], outvoted: [] }
    const result = runJob(job, mode, { count: (n) => { dispatchesReal += n }, seen })
    // trust.ts request(): flagged peers, then outvoted ones (suspects), are queued for re-verification
    reverifyQueue.push(...seen.flagged, ...new Set(seen.outvoted.filter((p) => !seen.flagged.includes(p))))
    if (result === undefined) {
      const reason = candidates.length === 0 ? 'no-peers' : 'no-answer'
      failed[reason] = (failed[reason] ?? 0) + 1
      // trust.ts request(): a dispute without an answer is followed by one canary of the same shape
      if (verdicts && lastDisputedFailure) runCanary()
    } else {
      const wrong = !isRight(job, result.output, result.numericClass)
      let kind = 'none'
      if (wrong) {
        wrongAccepted++
        const voter = all.get(result.agreeing[0].vote.body.peerId)!
        kind = job.faulty && isFaultPeer(voter) && voter.kind === 'honest' ? 'fault' : (job.liar ?? voter.kind)
        wrongWhy[lastShape] = (wrongWhy[lastShape] ?? 0) + 1
        const s = kindStats(kind)
        s.wrongAccepted++
        s.wrongStanding++
      }
      const jobId = result.ballots[0].vote.body.jobId
      accepted.set(jobId, { wrong, retracted: false, kind })
      recent.set(jobId, { job, output: result.output, numericClass: result.numericClass, reverified: false })
      while (recent.size > o.recentLimit) recent.delete(recent.keys().next().value as string)
      if (schedule.next(requesterRng)) runCanary()
    }
    // trust.ts: re-verification runs in the background, one peer after another (here: before the next job)
    while (reverifyQueue.length > 0) reverify(reverifyQueue.shift()!)
  }
  // failures recorded by the run itself are in byKind / failed above

  for (const p of all.values()) {
    if (p.kind === 'honest') {
      if (isFaultPeer(p)) continue
      const s = kindStats('honest')
      s.identities++
      if (p.flaggedAt !== undefined) s.flagged++
      continue
    }
    const s = kindStats(p.kind)
    s.identities++
    if (p.flaggedAt !== undefined) {
      const h = (p.flaggedAt - p.joinedAt) / 3600_000
      s.meanHoursToFlag = ((s.meanHoursToFlag ?? 0) * s.flagged + h) / (s.flagged + 1)
      s.flagged++
    }
  }
  let faultBackend: SimResult['faultBackend']
  if (o.backendFault !== undefined) {
    const peers = [...all.values()].filter((p) => p.kind === 'honest' && isFaultPeer(p))
    const fs = byKind.fault
    faultBackend = {
      peers: peers.length,
      flagged: peers.filter((p) => p.flaggedAt !== undefined).length,
      firstFlagHours: faultFirstFlag === undefined ? null : (faultFirstFlag - start) / 3600_000,
      wrongAccepted: fs?.wrongAccepted ?? 0,
      wrongStanding: fs?.wrongStanding ?? 0,
      verdictHours: faultVerdictAt === undefined ? null : (faultVerdictAt - start) / 3600_000,
      askedAfterVerdict: faultAskedAfterVerdict
    }
  }
  const attackers = Object.entries(byKind).filter(([k]) => k !== 'honest' && k !== 'fault' && k !== 'none')
  const attackerRight = attackers.reduce((n, [, s]) => n + s.rightVotes, 0)
  const attackerWrong = attackers.reduce((n, [, s]) => n + s.wrongAccepted, 0)
  const attackerStanding = attackers.reduce((n, [, s]) => n + s.wrongStanding, 0)
  const wrongStanding = wrongAccepted - retracted
  return {
    options: o,
    realJobs,
    accepted: accepted.size,
    failed,
    wrongAccepted,
    wrongAcceptRate: wrongAccepted / realJobs,
    retracted,
    wrongStanding,
    wrongStandingRate: wrongStanding / realJobs,
    falseRetractions,
    honestRejected,
    honestVotes,
    honestRejectRate: honestVotes === 0 ? 0 : honestRejected / honestVotes,
    honestNearMisses: honestNear,
    honestFlagged: byKind.honest?.flagged ?? 0,
    computePerJob: (dispatchesReal + dispatchesOther) / realJobs,
    realDispatchesPerJob: dispatchesReal / realJobs,
    canaryJobs,
    reverifyJobs,
    attackerRightVotes: attackerRight,
    attackerWrongAccepted: attackerWrong,
    attackerWrongStanding: attackerStanding,
    attackerRightVotesPerWrong: attackerWrong === 0 ? null : attackerRight / attackerWrong,
    attackerRightVotesPerStanding: attackerStanding === 0 ? null : attackerRight / attackerStanding,
    attackerCostPerWrong: attackerWrong === 0 ? null : (attackerRight + freshIdentities * o.identityCost) / attackerWrong,
    freshIdentities,
    byKind,
    wrongWhy,
    sampling: sampling
      ? { draws: sampleStats.draws, early: sampleStats.early, meanMembers: sampleStats.members / sampleStats.draws, attackerShare: sampleStats.members === 0 ? 0 : sampleStats.attackers / sampleStats.members, omitted: sampleStats.omitted, meanKept: sampleStats.kept / Math.max(1, sampleStats.draws) }
      : undefined,
    faultBackend,
    hours: (now - start) / 3600_000,
    ms: Math.round(performance.now() - t0)
  }
}

/** Defaults: production settings, 200 peers online, f = 0.2, a job every 3 s. */
export function defaultOptions (over: Partial<SimOptions> = {}): SimOptions {
  return {
    seed: 1,
    jobs: 50_000,
    jobIntervalMs: 3000,
    online: 200,
    f: 0.2,
    attacker: 'mixed',
    surfaces: DEFAULT_SURFACES,
    adaptive: {},
    trust: {},
    canaryRate: 0.05,
    recentLimit: 128,
    replicaTimeoutMs: 30_000,
    maxReplicas: 7,
    sparseRate: 0.02,
    patience: 10,
    identityCost: 0,
    tail: 0,
    outputSize: 4,
    policy: { kind: 'exact' },
    ...over
  }
}
