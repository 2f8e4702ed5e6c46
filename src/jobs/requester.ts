/**
 * Requester side of one job: choose replicas, send the job, verify the signed
 * votes, replace missing or failed replicas, escalate on disagreement up to a
 * cap, accept under the acceptance rule (consensus/replication.ts judgeJob)
 * and produce a receipt. Every outcome is recorded in the reputation book.
 *
 * Two ways to choose replicas:
 * - fixed (`replicas`/`quorum` given, the CLI's `--replicas 3 --quorum 2`):
 *   k random selectable peers, accepted when `quorum` agree and no replica
 *   dissents (a dissent escalates);
 * - adaptive (`adaptive` given): planReplication (BOINC style: established
 *   peers may run a job alone, with hidden late rechecks and canaries behind).
 */
import { AbortError, NoQuorumError, NotEnoughPeersError, TimeoutError } from '../errors.js'
import { hashTensors } from '../tensor/index.js'
import type { NamedTensors } from '../tensor/index.js'
import { createJobSpec, jobIdOf } from '../consensus/job.js'
import { verifyVote } from '../consensus/vote.js'
import { outputsAgree } from '../consensus/compare.js'
import { selectPeers } from '../consensus/select.js'
import { buildReceipt, serializeReceipt } from '../consensus/receipt.js'
import { escalationPlan, judgeJob, planReplication } from '../consensus/replication.js'
import { judgeCanary } from '../consensus/canary.js'
import type { Candidate } from '../consensus/replication.js'
import type { CanaryCase } from '../consensus/canary.js'
import type { ReputationBook } from '../consensus/reputation.js'
import type { GroupOf } from '../consensus/groups.js'
import type { Ballot, ComparisonPolicy, JobSpec, SignatureVerifier, Signer } from '../consensus/types.js'
import type { JobRequest, JobResponse } from '../network/codec.js'
import { createLogger } from '../logger.js'

const log = createLogger('requester')

export interface AdaptiveOptions {
  /** Replicas and quorum for a job whose first peer is not established. @default { replicas: 3, quorum: 3 } */
  base?: { replicas: number, quorum: number }
  /** Fewest replicas ever dispatched; 2+ turns single-replica jobs off. @default 1 */
  minReplicas?: number
  /** Chance of a hidden late recheck for an established peer's solo job. @default 0.1 */
  floorRecheck?: number
  /** Chance of a recheck for a newcomer's job or a solo job in probation. @default 1 */
  probationRecheck?: number
  /** Solo jobs after becoming established that are always rechecked. @default 10 */
  probation?: number
}

export interface VerifiedJobInit {
  modelHash: string
  inputs: NamedTensors
  policy: ComparisonPolicy
  /** Fixed mode: replicas. @default 3 */
  replicas?: number
  /** Fixed mode: agreeing votes needed. @default 2 */
  quorum?: number
  /** Use adaptive replication instead of fixed k. */
  adaptive?: AdaptiveOptions
  /** Overall deadline. @default 60000 ms */
  timeout?: number
  /** Most replicas ever asked, counting rechecks, replacements and escalation. @default 7 */
  maxReplicas?: number
  /** How long to wait for enough contributors to appear. @default 15000 ms */
  peerWait?: number
  /** Peers not to ask (e.g. re-verifying a flagged peer's work). */
  exclude?: ReadonlySet<string>
  /** A known-answer job: every voter is judged against `canary.expected`. */
  canary?: CanaryCase
  /** Weights for drawing the first peer (canaries aim at peers in probation). */
  firstWeight?: (peerId: string) => number
}

export type JobProgress =
  | { type: 'waiting-for-peers', have: number, need: number }
  | { type: 'dispatched', jobId: string, peerId: string, reason: 'initial' | 'recheck' | 'replace' | 'dispute' }
  | { type: 'vote', jobId: string, peerId: string, outputHash: string, ms: number }
  | { type: 'failed-replica', jobId: string, peerId: string, reason: string }
  | { type: 'escalated', jobId: string, reason: 'recheck' | 'replace' | 'dispute', add: number }
  | { type: 'accepted', jobId: string, outputHash: string, peers: string[] }
  | { type: 'flagged', peerId: string, reason: string }

export interface VerifiedJobResult {
  jobId: string
  spec: JobSpec
  output: NamedTensors
  outputHash: string
  /** Numeric class of the accepted output. */
  numericClass: string
  agreeing: string[]
  dissenting: string[]
  failed: Array<{ peerId: string, reason: string }>
  /** Every peer asked, in order. */
  dispatched: string[]
  /** Ballots of this job id (the receipt's votes). */
  ballots: Ballot[]
  /** Canonical receipt JSON (what `crosscheck verify` reads). */
  receiptText: string
  /** Peers this job flagged (dissent limit or failed canary). */
  flagged: string[]
  /** Accepted on one peer's vote (adaptive replication). */
  sole: boolean
  ms: number
}

export interface RequesterDeps {
  signer: Signer
  verifier: SignatureVerifier
  /** Contributors able to take jobs now (excluding self), with their announced class. */
  candidates: () => Candidate[]
  send: (peerId: string, req: JobRequest, options: { signal: AbortSignal }) => Promise<JobResponse>
  random: () => number
  now: () => number
  randomHex: (bytes: number) => string
  /** Resolves when the candidate set may have changed (new announcements). */
  waitForPeers: (options: { signal: AbortSignal }) => Promise<void>
  book: ReputationBook
  /** Sybil grouping: at most one vote per group counts. @default each peer its own group */
  groupOf?: GroupOf
}

interface Dispatch { req: JobRequest, spec: JobSpec }

export async function runVerifiedJob (deps: RequesterDeps, init: VerifiedJobInit, options: { signal?: AbortSignal, onProgress?: (p: JobProgress) => void } = {}): Promise<VerifiedJobResult> {
  const fixedReplicas = init.replicas ?? 3
  const fixedQuorum = init.quorum ?? 2
  const timeout = init.timeout ?? 60_000
  const maxReplicas = Math.max(init.maxReplicas ?? 7, init.adaptive == null ? fixedReplicas : 1)
  const { book } = deps
  const started = deps.now()
  const deadline = AbortSignal.timeout(timeout)
  const signal = options.signal == null ? deadline : AbortSignal.any([options.signal, deadline])
  const decided = new AbortController()
  const replicaSignal = AbortSignal.any([signal, decided.signal])
  const onProgress = options.onProgress ?? (() => {})
  const progress = (p: JobProgress): void => { if (!decided.signal.aborted) onProgress(p) }

  const selectable = (): Candidate[] => deps.candidates().filter(c => init.exclude?.has(c.peerId) !== true && book.isSelectable(c.peerId, deps.now()))
  const need = init.adaptive == null ? fixedReplicas : 1
  const peerWaitSignal = AbortSignal.any([signal, AbortSignal.timeout(init.peerWait ?? 15_000)])
  while (selectable().length < need && !peerWaitSignal.aborted) {
    progress({ type: 'waiting-for-peers', have: selectable().length, need })
    await deps.waitForPeers({ signal: peerWaitSignal }).catch(() => {})
  }
  if (options.signal?.aborted === true) throw new AbortError('job aborted')
  const available = selectable()
  if (available.length < need) {
    throw new NotEnoughPeersError(`need ${need} selectable contributors for model ${init.modelHash.slice(0, 12)}, found ${available.length}`)
  }

  let plan: { peers: string[], replicas: number, quorum: number, recheck: boolean }
  if (init.adaptive == null) {
    plan = { peers: selectPeers(available.map(c => c.peerId), fixedReplicas, deps.random), replicas: fixedReplicas, quorum: fixedQuorum, recheck: false }
  } else {
    const planned = planReplication({ book, candidates: available, modelHash: init.modelHash, rng: deps.random, now: deps.now(), ...init.adaptive, exclude: init.exclude, firstWeight: init.firstWeight })
    if (planned == null) throw new NotEnoughPeersError(`no selectable contributor for model ${init.modelHash.slice(0, 12)}`)
    plan = planned
  }

  const inputHash = hashTensors(init.inputs)
  const makeSpec = (replicas: number, quorum: number): Dispatch => {
    const now = deps.now()
    const spec = createJobSpec({ modelHash: init.modelHash, inputHash, policy: init.policy, replicas, quorum, requester: deps.signer.peerId, nonce: deps.randomHex(16), createdAt: now, expiresAt: started + timeout })
    return { spec, req: { type: 'job', jobId: jobIdOf(spec), spec, inputs: init.inputs } }
  }
  const main = makeSpec(plan.replicas, plan.quorum)
  const jobId = main.req.jobId

  const tried = new Set<string>()
  const dispatched: string[] = []
  const ballots: Ballot[] = []
  const failed: Array<{ peerId: string, reason: string }> = []
  const flagged: string[] = []
  let outstanding = 0
  let recheckPending = plan.recheck

  const record = (peerId: string, outcome: Parameters<ReputationBook['record']>[1], numericClass: string | undefined, sole = false): void => {
    if (book.record(peerId, outcome, { modelHash: init.modelHash, numericClass, jobId, at: deps.now(), sole })) {
      flagged.push(peerId)
      onProgress({ type: 'flagged', peerId, reason: outcome })
    }
  }
  let canaryJudged = false
  const judgeCanaryBallots = (): void => {
    if (init.canary == null || canaryJudged) return
    canaryJudged = true
    for (const b of ballots) {
      const verdict = judgeCanary(init.canary, b.output, b.vote.body.numericClass)
      record(b.vote.body.peerId, verdict, b.vote.body.numericClass)
    }
  }

  return await new Promise<VerifiedJobResult>((resolve, reject) => {
    let done = false
    let deciding = false
    const finish = (err?: Error, result?: VerifiedJobResult): void => {
      if (done) return
      done = true
      decided.abort()
      signal.removeEventListener('abort', onAbort)
      if (err != null) reject(err)
      else resolve(result as VerifiedJobResult)
    }
    const fail = (err: Error): void => {
      judgeCanaryBallots()
      finish(err)
    }
    const onAbort = (): void => {
      fail(deadline.aborted
        ? new TimeoutError(`job ${jobId.slice(0, 12)} reached its ${timeout} ms deadline with ${ballots.length} votes (quorum ${plan.quorum})`)
        : new AbortError('job aborted'))
    }
    signal.addEventListener('abort', onAbort, { once: true })

    const send = (peerId: string, d: Dispatch, reason: 'initial' | 'recheck' | 'replace' | 'dispute'): void => {
      tried.add(peerId)
      dispatched.push(peerId)
      outstanding++
      progress({ type: 'dispatched', jobId, peerId, reason })
      void deps.send(peerId, d.req, { signal: replicaSignal })
        .then(async (res) => {
          if (res.type === 'error') throw Object.assign(new Error(res.error.message), { name: res.error.name })
          const vote = await verifyVote(res.vote, deps.verifier, { jobId: d.req.jobId, modelHash: d.spec.modelHash, inputHash, output: res.outputs, expiresAt: d.spec.expiresAt })
          if (vote.body.peerId !== peerId) throw new Error('vote signed by another peer')
          ballots.push({ vote, output: res.outputs })
          progress({ type: 'vote', jobId, peerId, outputHash: vote.body.outputHash, ms: res.ms })
        })
        .catch((err: unknown) => {
          if (decided.signal.aborted) return
          const e = err as { name?: unknown, message?: unknown }
          const reason = typeof e?.message === 'string' ? `${String(e.name ?? 'Error')}: ${e.message}` : String(err)
          log('replica %s failed: %s', peerId, reason)
          failed.push({ peerId, reason })
          // slow, silent or refusing: never counted as cheating, but it lowers selection weight
          record(peerId, 'failed-to-answer', undefined)
          progress({ type: 'failed-replica', jobId, peerId, reason })
        })
        .finally(() => {
          outstanding--
          evaluate()
        })
    }

    const accept = (j: Extract<ReturnType<typeof judgeJob>, { status: 'accepted' }>): boolean => {
      const sole = j.sole
      // The receipt carries this job id's votes only (a recheck is its own job),
      // and they must meet the acceptance rule on their own.
      const own = ballots.filter(b => b.vote.body.jobId === jobId)
      const inCluster = new Set(j.result.agreeing)
      const agreeingOwn = own.filter(b => inCluster.has(b))
      const dissentingOwn = own.filter(b => !inCluster.has(b))
      const required = dissentingOwn.length === 0 ? main.spec.quorum : Math.max(main.spec.quorum, 2 * dissentingOwn.length + 1)
      if (agreeingOwn.length < required) return false
      // the accepted output must be one this job's voters signed
      const centre = agreeingOwn.find(b => b.vote.body.outputHash === j.result.outputHash && b.vote.body.numericClass === j.result.numericClass) ?? agreeingOwn[0]
      const result = { output: centre.output, outputHash: centre.vote.body.outputHash, numericClass: centre.vote.body.numericClass }
      if (!agreeingOwn.every(b => outputsAgree(result.output, b.output, init.policy, result.numericClass, b.vote.body.numericClass))) return false
      deciding = true
      if (init.canary != null) judgeCanaryBallots()
      else for (const o of j.outcomes) record(o.peerId, o.outcome, o.numericClass, sole)
      const agreeing = agreeingOwn.map(b => b.vote.body.peerId)
      onProgress({ type: 'accepted', jobId, outputHash: result.outputHash, peers: agreeing })
      decided.abort()
      buildReceipt({ spec: main.spec, jobId, accepted: { output: result.output, outputHash: result.outputHash, numericClass: result.numericClass }, ballots: own, agreeingPeers: agreeing, signer: deps.signer })
        .then((receipt) => {
          finish(undefined, {
            jobId,
            spec: main.spec,
            output: result.output,
            outputHash: result.outputHash,
            numericClass: result.numericClass,
            agreeing,
            dissenting: dissentingOwn.map(b => b.vote.body.peerId),
            failed,
            dispatched,
            ballots: own,
            receiptText: serializeReceipt(receipt),
            flagged,
            sole,
            ms: deps.now() - started
          })
        }, (err) => { finish(err) })
      return true
    }

    const evaluate = (): void => {
      if (done || deciding) return
      const j = judgeJob({ ballots, policy: init.policy, quorum: plan.quorum, outstanding, dispatched: dispatched.length, recheckPending, maxReplicas, groupOf: deps.groupOf })
      if (j.status === 'waiting') return
      if (j.status === 'failed') {
        fail(new NoQuorumError(`job ${jobId.slice(0, 12)}: ${j.reason}; no answer is returned`))
        return
      }
      if (j.status === 'accepted') {
        if (accept(j)) return
        // the votes of this job id alone do not make its quorum (a recheck vote filled it): ask one more
        escalate('dispute', 1)
        return
      }
      escalate(j.reason, j.add)
    }

    const escalate = (reason: 'recheck' | 'replace' | 'dispute', add: number): void => {
      const voterClasses = ballots.map(b => b.vote.body.numericClass)
      const peers = escalationPlan({ book, candidates: selectable(), modelHash: init.modelHash, rng: deps.random, now: deps.now(), tried, voterClasses, count: add, groupOf: deps.groupOf })
      if (reason === 'recheck') {
        recheckPending = false
        // the recheck is a job of its own (fresh nonce, replicas 1, quorum 1): its
        // spec and timing do not tell the first voters that they were checked
        if (peers.length > 0) {
          progress({ type: 'escalated', jobId, reason, add: 1 })
          send(peers[0], makeSpec(1, 1), 'recheck')
        } else {
          log('job %s: no peer left for the recheck', jobId.slice(0, 12))
          evaluate()
        }
        return
      }
      if (peers.length > 0) {
        progress({ type: 'escalated', jobId, reason, add: peers.length })
        for (const p of peers) send(p, main, reason)
      }
      if (outstanding === 0) {
        const why = ballots.length > 0
          ? `no output reached the acceptance rule (${ballots.length} votes from ${tried.size} peers, ${failed.length} failed; no further peer to ask)`
          : `no replica answered (${failed.length} failed: ${failed.map(f => f.reason).slice(0, 3).join('; ')})`
        fail(new NoQuorumError(`job ${jobId.slice(0, 12)}: ${why}`))
      }
    }

    for (const p of plan.peers) send(p, main, 'initial')
  })
}
