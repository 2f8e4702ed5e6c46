/**
 * The job run: the one acceptance rule, as a pure state machine. The
 * requester (src/jobs/requester.ts) only does the I/O around it, the
 * simulation (sim/world.ts) drives the same class, and it decides with
 * `judgeCounts` (rule.ts), which receipt verification (receipt.ts) applies to
 * a receipt's votes.
 *
 * Events in: `dispatched` (the shell sent a spec to these peers), `vote` (a
 * verified ballot), `replica-failed`, `replica-preparing` / `replica-ready` /
 * `replica-unavailable` (a replica fetching and loading the model first: its
 * answer clock starts when it is ready, and one that cannot get ready is
 * replaced without counting against it), `tick` (time passes: replicas past
 * `replicaTimeoutMs` count as failed), `deadline`, `abort`. Actions out:
 * `dispatch` (ask n more peers, and why), `record` (an outcome for the
 * reputation book), `cancel` (stop waiting for a replica), `accept`,
 * `fail` (a named reason, no answer) and `ignore` (a vote that plays no
 * part: late, duplicate, for another job, from a peer never asked). No clock
 * and no randomness of its own: time comes in on the events, and peers are
 * chosen by the shell (`peersFor`, replication.ts).
 *
 * The rule, unchanged from the former judgeJob:
 * - one vote per Sybil group (groups.ts), then clusters as in tally.ts; the
 *   largest cluster (ties: tally's order) is the candidate answer;
 * - without dissent, `quorum` agreeing votes, nothing in flight and any
 *   planned recheck answered;
 * - with d dissenting votes, max(quorum, 2d + 1) agreeing ones
 *   (`requiredAgreeing`): dissent never returns an answer at once, more
 *   replicas are asked up to `maxReplicas`, then the job fails;
 * - the votes of the main job id alone (what the receipt carries; a recheck
 *   is a job of its own) must meet the same rule, so that every accepted job
 *   has a receipt that verifies.
 *
 * @example
 * ```ts
 * const run = new JobRun({ jobId, policy, quorum: 1, replicas: 1, recheck: true })
 * let actions = run.start()            // [{ type: 'dispatch', count: 1, reason: 'initial', job: 'main' }]
 * actions = run.step({ type: 'dispatched', at, jobId, reason: 'initial', peers: ['12D3…'] })
 * actions = run.step({ type: 'vote', at, ballot })   // [{ type: 'dispatch', count: 1, reason: 'recheck', job: 'recheck' }]
 * ```
 */
import { InvalidArgumentError } from '../errors.js'
import { judgeCanary } from './canary.js'
import { outputsAgree } from './compare.js'
import { onePerGroup } from './groups.js'
import { escalationPlan, isNearMiss } from './replication.js'
import { judgeCounts } from './rule.js'
import { tally } from './tally.js'
import type { CanaryCase } from './canary.js'
import type { GroupOf } from './groups.js'
import type { Candidate } from './replication.js'
import type { Outcome, ReputationBook } from './reputation.js'
import type { Rng } from './select.js'
import type { Ballot, ComparisonPolicy, NumericClass } from './types.js'
import type { NamedTensors } from '../tensor/index.js'

/** Most replicas a job asks for by default, counting rechecks, replacements and escalation. */
export const DEFAULT_MAX_REPLICAS = 7

export type DispatchReason = 'initial' | 'recheck' | 'replace' | 'dispute'

/** Why a job ended without an answer. */
export type FailReason = 'cap' | 'no-peers' | 'timeout' | 'aborted'

/** The job ends without an answer. `disputed`: some vote dissented (the answers conflicted; a known answer could say who was wrong). */
export interface FailAction { type: 'fail', reason: FailReason, detail: string, disputed: boolean }

export interface JobRunParams {
  /** The main job id: the receipt's, and the spec the initial replicas get. */
  jobId: string
  policy: ComparisonPolicy
  /** Agreeing votes needed without dissent (plan.quorum). */
  quorum: number
  /** Replicas of the initial dispatch. */
  replicas: number
  /** Ask one more replica (a job of its own) once the votes agree. @default false */
  recheck?: boolean
  /** Most replicas ever asked, all reasons together. @default 7 */
  maxReplicas?: number
  /**
   * A replica that has not answered this long after its dispatch (or after
   * it said it was ready, when it prepared first) counts as failed; one
   * still preparing this long after its dispatch is replaced without blame.
   * @default no per-replica limit
   */
  replicaTimeoutMs?: number
  /** Sybil grouping: one vote per group counts. @default each peer its own group */
  groupOf?: GroupOf
  /** A known-answer job: every voter is judged against it instead of against the majority. */
  canary?: CanaryCase
}

export type JobRunEvent =
  /** Answers a `dispatch` action: the peers the spec `jobId` went to (fewer than asked, even none, when the shell found no more). */
  | { type: 'dispatched', at: number, jobId: string, reason: DispatchReason, peers: readonly string[] }
  /** A ballot whose signature and binding the shell verified. */
  | { type: 'vote', at: number, ballot: Ballot }
  | { type: 'replica-failed', at: number, peerId: string, reason: string }
  /** The replica fetches and loads the model before it is given the job: no answer clock yet. */
  | { type: 'replica-preparing', at: number, peerId: string }
  /** The replica has the model loaded: its answer clock starts at `at`. */
  | { type: 'replica-ready', at: number, peerId: string }
  /** The replica could not prepare (no model, refused, too slow): replaced, and not held against it. */
  | { type: 'replica-unavailable', at: number, peerId: string, reason: string }
  | { type: 'tick', at: number }
  | { type: 'deadline', at: number }
  | { type: 'abort', at: number }

export interface AcceptAction {
  type: 'accept'
  output: NamedTensors
  outputHash: string
  numericClass: NumericClass
  /** The main job's ballots, in arrival order: the receipt's votes. */
  ballots: Ballot[]
  /** Those of them that agree with `output`. */
  agreeing: Ballot[]
  dissenting: Ballot[]
  /** Some vote (main job or recheck) dissented. */
  disputed: boolean
  /** Accepted on one vote (no recheck). */
  sole: boolean
  /** A planned recheck found no peer to ask and was skipped. */
  recheckSkipped: boolean
}

export type JobRunAction =
  | { type: 'dispatch', count: number, reason: DispatchReason, job: 'main' | 'recheck' }
  /** `jobId` is always the main job's (the one the requester remembers), also for a recheck's voter. */
  | { type: 'record', peerId: string, outcome: Outcome, numericClass?: NumericClass, jobId: string, sole: boolean }
  | { type: 'cancel', peerId: string }
  | AcceptAction
  | FailAction
  | { type: 'ignore', peerId: string, why: 'late' | 'duplicate' | 'other-job' | 'unsolicited' }

// ---------------------------------------------------------------- the machine

interface Assignment {
  peerId: string
  jobId: string
  reason: DispatchReason
  at: number
  state: 'inflight' | 'voted' | 'failed'
  /** Fetching and loading the model: its answer clock has not started. */
  preparing?: boolean
  failure?: string
}

type Status = 'new' | 'running' | 'accepted' | 'failed'

/** One job's decision state. Mutable, synchronous, no I/O: see the module doc. */
export class JobRun {
  readonly params: Readonly<JobRunParams>
  readonly maxReplicas: number
  private status: Status = 'new'
  private readonly assignments = new Map<string, Assignment>()
  private readonly order: Assignment[] = []
  private readonly received: Ballot[] = []
  private pending: { count: number, reason: DispatchReason, job: 'main' | 'recheck' } | undefined
  private recheckPending: boolean
  private recheckSkipped = false
  private disputed = false
  private readonly ignoredVotes: Array<{ peerId: string, why: string }> = []
  private outcome: AcceptAction | FailAction | undefined

  constructor (params: JobRunParams) {
    if (!Number.isSafeInteger(params.quorum) || params.quorum < 1) throw new InvalidArgumentError(`quorum must be an integer >= 1, got ${params.quorum}`)
    if (!Number.isSafeInteger(params.replicas) || params.replicas < 1) throw new InvalidArgumentError(`replicas must be an integer >= 1, got ${params.replicas}`)
    this.params = params
    this.maxReplicas = Math.max(params.maxReplicas ?? DEFAULT_MAX_REPLICAS, params.replicas)
    this.recheckPending = params.recheck ?? false
  }

  /** The initial dispatch. */
  start (): JobRunAction[] {
    if (this.status !== 'new') throw new InvalidArgumentError('job run already started')
    this.status = 'running'
    this.pending = { count: this.params.replicas, reason: 'initial', job: 'main' }
    return [{ type: 'dispatch', count: this.params.replicas, reason: 'initial', job: 'main' }]
  }

  get decided (): boolean { return this.status === 'accepted' || this.status === 'failed' }
  /** The accept or fail action, once decided. */
  get result (): AcceptAction | FailAction | undefined { return this.outcome }
  /** Every peer asked, in order. */
  get dispatched (): string[] { return this.order.map((a) => a.peerId) }
  /** Peers asked, as a set (never asked twice). */
  get tried (): ReadonlySet<string> { return new Set(this.assignments.keys()) }
  get failures (): Array<{ peerId: string, reason: string }> { return this.order.filter((a) => a.state === 'failed').map((a) => ({ peerId: a.peerId, reason: a.failure ?? 'failed' })) }
  /** Counted ballots in arrival order (main job and rechecks). */
  get ballots (): readonly Ballot[] { return this.received }
  get inflight (): number { let n = 0; for (const a of this.order) if (a.state === 'inflight') n++; return n }
  /** Votes that played no part, and why. */
  get ignored (): ReadonlyArray<{ peerId: string, why: string }> { return this.ignoredVotes }
  /** The dispatch action waiting for its `dispatched` event. */
  get awaitingDispatch (): { count: number, reason: DispatchReason, job: 'main' | 'recheck' } | undefined { return this.pending }

  /** When the next replica times out (ms, as the events' `at`), or undefined. */
  nextTimeout (): number | undefined {
    const limit = this.params.replicaTimeoutMs
    if (limit === undefined || this.decided) return undefined
    let next: number | undefined
    for (const a of this.order) if (a.state === 'inflight' && (next === undefined || a.at + limit < next)) next = a.at + limit
    return next
  }

  step (event: JobRunEvent): JobRunAction[] {
    if (this.status === 'new') throw new InvalidArgumentError('job run not started')
    const out: JobRunAction[] = []
    switch (event.type) {
      case 'dispatched': this.onDispatched(event, out); break
      case 'vote': this.onVote(event.ballot, out); break
      case 'replica-failed': {
        const a = this.assignments.get(event.peerId)
        if (this.decided || a === undefined || a.state !== 'inflight') return out
        this.failReplica(a, event.reason, out)
        this.evaluate(out)
        break
      }
      case 'replica-preparing': {
        const a = this.assignments.get(event.peerId)
        if (!this.decided && a !== undefined && a.state === 'inflight') a.preparing = true
        break
      }
      case 'replica-ready': {
        const a = this.assignments.get(event.peerId)
        if (this.decided || a === undefined || a.state !== 'inflight' || a.preparing !== true) return out
        a.preparing = false
        a.at = event.at
        break
      }
      case 'replica-unavailable': {
        const a = this.assignments.get(event.peerId)
        if (this.decided || a === undefined || a.state !== 'inflight') return out
        this.dropReplica(a, event.reason)
        this.evaluate(out)
        break
      }
      case 'tick': {
        const limit = this.params.replicaTimeoutMs
        if (this.decided || limit === undefined) return out
        let any = false
        for (const a of this.order) {
          if (a.state === 'inflight' && event.at - a.at >= limit) {
            if (a.preparing === true) this.dropReplica(a, `not ready within ${limit} ms`)
            else this.failReplica(a, `no answer within ${limit} ms`, out)
            out.push({ type: 'cancel', peerId: a.peerId })
            any = true
          }
        }
        if (any) this.evaluate(out)
        break
      }
      case 'deadline':
        if (!this.decided) this.fail('timeout', `deadline reached with ${this.received.length} votes from ${this.order.length} replicas (quorum ${this.params.quorum})`, out)
        break
      case 'abort':
        if (!this.decided) this.fail('aborted', 'aborted', out)
        break
    }
    return out
  }

  private onDispatched (e: Extract<JobRunEvent, { type: 'dispatched' }>, out: JobRunAction[]): void {
    const p = this.pending
    if (p === undefined || this.decided) throw new InvalidArgumentError('dispatched without a dispatch action waiting for it')
    if (e.peers.length > p.count) throw new InvalidArgumentError(`dispatched ${e.peers.length} peers, ${p.count} were asked for`)
    if (p.job === 'recheck' && e.jobId === this.params.jobId) throw new InvalidArgumentError('a recheck is a job of its own: give it another job id')
    if (p.job === 'main' && e.jobId !== this.params.jobId) throw new InvalidArgumentError('replicas of the main job must get the main job id')
    for (const peerId of e.peers) if (this.assignments.has(peerId)) throw new InvalidArgumentError(`peer ${peerId} was already asked`)
    if (new Set(e.peers).size !== e.peers.length) throw new InvalidArgumentError('a peer is listed twice')
    this.pending = undefined
    if (p.job === 'recheck') this.recheckPending = false
    for (const peerId of e.peers) {
      const a: Assignment = { peerId, jobId: e.jobId, reason: e.reason, at: e.at, state: 'inflight' }
      this.assignments.set(peerId, a)
      this.order.push(a)
    }
    if (e.peers.length === 0) {
      if (p.job === 'recheck') {
        // Nobody left to recheck with: the votes stand as they are (the caller saw it in `recheckSkipped`).
        this.recheckSkipped = true
      } else if (this.inflight === 0) {
        this.fail('no-peers', this.received.length > 0
          ? `no output met the rule (${this.received.length} votes from ${this.order.length} peers, ${this.failures.length} failed) and no further peer to ask`
          : `no replica answered (${this.failures.length} failed: ${this.failures.map((f) => f.reason).slice(0, 3).join('; ')})`, out)
        return
      } else {
        // Wait for those in flight; a later evaluation asks again.
        return
      }
    }
    this.evaluate(out)
  }

  private onVote (ballot: Ballot, out: JobRunAction[]): void {
    const peerId = ballot.vote.body.peerId
    const a = this.assignments.get(peerId)
    let why: 'late' | 'duplicate' | 'other-job' | 'unsolicited' | undefined
    if (this.decided) why = 'late'
    else if (a === undefined) why = 'unsolicited'
    else if (ballot.vote.body.jobId !== a.jobId) why = 'other-job'
    else if (a.state === 'voted') why = 'duplicate'
    else if (a.state === 'failed') why = 'late'
    if (why !== undefined || a === undefined) {
      this.ignoredVotes.push({ peerId, why: why ?? 'unsolicited' })
      out.push({ type: 'ignore', peerId, why: why ?? 'unsolicited' })
      return
    }
    a.state = 'voted'
    this.received.push(ballot)
    this.evaluate(out)
  }

  private failReplica (a: Assignment, reason: string, out: JobRunAction[]): void {
    a.state = 'failed'
    a.failure = reason
    // Slow, silent or refusing: never counted as cheating, but it lowers the peer's selection weight.
    out.push({ type: 'record', peerId: a.peerId, outcome: 'failed-to-answer', jobId: this.params.jobId, sole: false })
  }

  /** Not there to answer (it could not prepare): replaced like a failure, but nothing is recorded against it. */
  private dropReplica (a: Assignment, reason: string): void {
    a.state = 'failed'
    a.preparing = false
    a.failure = reason
  }

  private fail (reason: FailReason, detail: string, out: JobRunAction[]): void {
    this.status = 'failed'
    this.pending = undefined
    for (const a of this.order) if (a.state === 'inflight') out.push({ type: 'cancel', peerId: a.peerId })
    this.recordCanary(out)
    const action = { type: 'fail' as const, reason, detail, disputed: this.disputed }
    this.outcome = action
    out.push(action)
  }

  /** On a canary every voter is judged against the known answer, whatever the majority said. */
  private recordCanary (out: JobRunAction[]): boolean {
    const c = this.params.canary
    if (c === undefined) return false
    for (const b of this.received) {
      out.push({ type: 'record', peerId: b.vote.body.peerId, outcome: judgeCanary(c, b.output, b.vote.body.numericClass), numericClass: b.vote.body.numericClass, jobId: this.params.jobId, sole: false })
    }
    return true
  }

  private evaluate (out: JobRunAction[]): void {
    if (this.decided || this.pending !== undefined) return
    const { policy, quorum } = this.params
    const { kept, dropped } = onePerGroup(this.received, this.params.groupOf)
    let best: Ballot[] = []
    let centre: { output: NamedTensors, outputHash: string, numericClass: NumericClass } | undefined
    if (kept.length > 0) {
      const t = tally({ ballots: kept, policy, quorum: 1 })
      if (t.status === 'accepted') {
        best = t.agreeing
        centre = { output: t.output, outputHash: t.outputHash, numericClass: t.numericClass }
      } else if (t.status === 'conflict') {
        best = t.clusters[0].ballots
        centre = t.clusters[0]
      }
    }
    const inBest = new Set(best)
    const dissent = kept.length - best.length
    if (dissent > 0) this.disputed = true
    const common = { quorum, outstanding: this.inflight, dispatched: this.order.length, maxReplicas: this.maxReplicas }
    let decision = judgeCounts({ ...common, agreeing: best.length, dissenting: dissent, recheckPending: this.recheckPending })
    if (decision.kind === 'accept' && centre !== undefined) {
      // The receipt carries the main job's votes only, all of them (a verifier
      // knows no groups): they must meet the same rule on their own.
      const c = centre
      const droppedSet = new Set(dropped)
      const own = this.received.filter((b) => b.vote.body.jobId === this.params.jobId)
      const ownAgreeing = own.filter((b) => inBest.has(b) || (droppedSet.has(b) && outputsAgree(c.output, b.output, policy, c.numericClass, b.vote.body.numericClass)))
      const chosen = pickReceiptCentre(ownAgreeing, c, policy)
      if (chosen === undefined) {
        // no vote of this job can vouch for all the others (tolerance is not transitive): ask one more
        decision = judgeCounts({ ...common, agreeing: 0, dissenting: 0, quorum: 1, recheckPending: false })
        if (decision.kind === 'dispatch') decision = { ...decision, reason: 'dispute' }
      } else {
        decision = judgeCounts({ ...common, agreeing: ownAgreeing.length, dissenting: own.length - ownAgreeing.length, recheckPending: false })
        if (decision.kind === 'accept') {
          this.accept(chosen, own, ownAgreeing, kept.length === 1, out)
          return
        }
        if (decision.kind === 'dispatch') decision = { ...decision, reason: 'dispute' }
      }
    }
    switch (decision.kind) {
      case 'wait':
        return
      case 'fail':
        this.fail('cap', decision.detail, out)
        return
      case 'dispatch': {
        const job = decision.reason === 'recheck' ? 'recheck' : 'main'
        this.pending = { count: decision.add, reason: decision.reason, job }
        out.push({ type: 'dispatch', count: decision.add, reason: decision.reason, job })
        return
      }
      case 'accept':
        // only reached without a centre, i.e. without ballots: cannot happen with quorum >= 1
        throw new InvalidArgumentError('accept without ballots')
    }
  }

  private accept (centre: { output: NamedTensors, outputHash: string, numericClass: NumericClass }, own: Ballot[], ownAgreeing: Ballot[], sole: boolean, out: JobRunAction[]): void {
    this.status = 'accepted'
    const { policy } = this.params
    if (!this.recordCanary(out)) {
      const { kept } = onePerGroup(this.received, this.params.groupOf)
      for (const b of kept) {
        const body = b.vote.body
        let outcome: Outcome = 'agreed'
        if (!outputsAgree(centre.output, b.output, policy, centre.numericClass, body.numericClass)) {
          outcome = isNearMiss(centre.output, b.output, policy, centre.numericClass, body.numericClass) ? 'near-miss' : 'dissented'
        }
        out.push({ type: 'record', peerId: body.peerId, outcome, numericClass: body.numericClass, jobId: this.params.jobId, sole: sole && outcome === 'agreed' })
      }
    }
    const agreeingSet = new Set(ownAgreeing)
    const action: AcceptAction = {
      type: 'accept',
      output: centre.output,
      outputHash: centre.outputHash,
      numericClass: centre.numericClass,
      ballots: own,
      agreeing: ownAgreeing,
      dissenting: own.filter((b) => !agreeingSet.has(b)),
      disputed: this.disputed,
      sole,
      recheckSkipped: this.recheckSkipped
    }
    this.outcome = action
    out.push(action)
  }
}

/**
 * The output a receipt will carry: a main-job ballot that every agreeing
 * main-job ballot agrees with (tolerance is not transitive), the cluster's
 * own centre first.
 */
function pickReceiptCentre (ownAgreeing: readonly Ballot[], centre: { outputHash: string, numericClass: NumericClass }, policy: ComparisonPolicy): { output: NamedTensors, outputHash: string, numericClass: NumericClass } | undefined {
  const isCentre = (b: Ballot): boolean => b.vote.body.outputHash === centre.outputHash && b.vote.body.numericClass === centre.numericClass
  const ordered = [...ownAgreeing.filter(isCentre), ...ownAgreeing.filter((b) => !isCentre(b))]
  for (const c of ordered) {
    const cls = c.vote.body.numericClass
    if (ownAgreeing.every((b) => b === c || outputsAgree(c.output, b.output, policy, cls, b.vote.body.numericClass))) {
      return { output: c.output, outputHash: c.vote.body.outputHash, numericClass: cls }
    }
  }
  return undefined
}

// ---------------------------------------------------------------- choosing peers for an action

export interface DispatchContext {
  book: ReputationBook
  /** Selectable candidates now (the shell filters its exclusions). */
  candidates: readonly Candidate[]
  modelHash: string
  rng: Rng
  now: number
  groupOf?: GroupOf
}

/**
 * Peers for a `dispatch` action after the initial one: not asked before, of
 * unused groups, established peers on a backend the voters did not use first
 * (escalationPlan). The requester and the simulation both call this.
 */
export function peersFor (run: JobRun, action: Extract<JobRunAction, { type: 'dispatch' }>, ctx: DispatchContext): string[] {
  return escalationPlan({
    book: ctx.book,
    candidates: ctx.candidates,
    modelHash: ctx.modelHash,
    rng: ctx.rng,
    now: ctx.now,
    tried: run.tried,
    voterClasses: run.ballots.map((b) => b.vote.body.numericClass),
    count: action.job === 'recheck' ? 1 : action.count,
    groupOf: ctx.groupOf
  })
}
