/**
 * Requester side of one job, I/O only: wait for contributors, plan
 * (consensus/replication.ts planJob), send specs, verify the signed votes,
 * keep time, and feed all of it to the job run (consensus/jobrun.ts), which
 * alone decides whom more to ask, what to record in the reputation book and
 * when to accept or fail. The accepted job gets a signed receipt.
 *
 * Two ways to choose replicas:
 * - fixed (`replicas`/`quorum` given, the CLI's `--replicas 3 --quorum 2`):
 *   k random selectable peers, accepted when `quorum` agree and no replica
 *   dissents (a dissent escalates);
 * - adaptive (`adaptive` given): planReplication (BOINC style: established
 *   peers may run a job alone, with hidden late rechecks and canaries behind).
 */
import { AbortError, HashMismatchError, InvalidMessageError, NoQuorumError, NotEnoughPeersError, TimeoutError } from '../errors.js'
import { hashTensorsAsync } from '../tensor/index.js'
import type { NamedTensors } from '../tensor/index.js'
import { createJobSpec, jobIdOf } from '../consensus/job.js'
import { verifyVote } from '../consensus/vote.js'
import { buildReceipt, receiptOutputsOf, serializeReceipt } from '../consensus/receipt.js'
import type { Assurance } from '../consensus/settlement.js'
import type { ReceiptOutputs } from '../consensus/receipt.js'
import { planJob } from '../consensus/replication.js'
import { DEFAULT_MAX_REPLICAS, JobRun, peersFor } from '../consensus/jobrun.js'
import type { AcceptAction, DispatchReason, JobRunAction, JobRunEvent } from '../consensus/jobrun.js'
import type { Candidate, ReplicationPlan } from '../consensus/replication.js'
import type { CanaryCase, CanaryVerdict } from '../consensus/canary.js'
import type { ReputationBook } from '../consensus/reputation.js'
import type { GroupOf } from '../consensus/groups.js'
import type { AdaptiveOptions } from '../consensus/replication.js'
import type { Ballot, ComparisonPolicy, JobSpec, SignatureVerifier, Signer } from '../consensus/types.js'
import type { JobRequest, JobResponse, PrepareRequest } from '../network/codec.js'
import type { PreparedReplicas } from './prepared.js'
import { createLogger } from '../logger.js'

const log = createLogger('requester')

/** Provisional receipts' recheck window (VerifiedJobInit.provisionalMs). */
export const DEFAULT_PROVISIONAL_MS = 60 * 60 * 1000

/** Adaptive replication's tunables (consensus/replication.ts PlanInput documents each default). */
export type { AdaptiveOptions } from '../consensus/replication.js'

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
  /**
   * A replica that has not answered this long is replaced (and counted as a
   * failure to answer, never as cheating), so one slow peer cannot hold the
   * job to its deadline. @default half of `timeout`
   */
  replicaTimeout?: number
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
  /**
   * A job accepted on fewer than two agreeing votes gets a receipt marked
   * `provisional` until this long after acceptance: the window in which the
   * requester's later rechecks may still retract it. @default 3600000 ms
   */
  provisionalMs?: number
}

export type JobProgress =
  | { type: 'waiting-for-peers', have: number, need: number }
  | { type: 'dispatched', jobId: string, peerId: string, reason: 'initial' | 'recheck' | 'replace' | 'dispute' }
  /** The replica fetches and loads the model before it is sent the job (its answer clock waits). */
  | { type: 'preparing', jobId: string, peerId: string }
  /** The replica has the model loaded: the job goes to it now. `ms`: its own time to prepare. */
  | { type: 'ready', jobId: string, peerId: string, ms: number }
  | { type: 'vote', jobId: string, peerId: string, outputHash: string, ms: number }
  | { type: 'failed-replica', jobId: string, peerId: string, reason: string }
  | { type: 'escalated', jobId: string, reason: 'recheck' | 'replace' | 'dispute', add: number }
  | { type: 'accepted', jobId: string, outputHash: string, peers: string[] }
  | { type: 'flagged', peerId: string, reason: string }
  /** The job ends without an answer after its votes conflicted. */
  | { type: 'disputed', jobId: string }
  /** On a canary: one voter's answer judged against the known answer. */
  | { type: 'canary', jobId: string, peerId: string, numericClass: string, verdict: CanaryVerdict }
  /** A voter outvoted under the policy (recorded as dissented): a suspect whose other answers deserve a second look. */
  | { type: 'outvoted', jobId: string, peerId: string }

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
  /** Canonical receipt JSON (what `crosscheck verify` reads); v2: it commits to outputs by hash. */
  receiptText: string
  /** The output bytes the receipt commits to (accepted, and agreeing votes' with other hashes), kept apart from its text. */
  receiptOutputs: ReceiptOutputs
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
  /**
   * Asks a replica to fetch and load the model before it is sent the job;
   * resolves with the replica's own time to prepare (ms), rejects when it
   * cannot. Without it, replicas provision inside the job (on its clock).
   */
  prepareReplica?: (peerId: string, req: PrepareRequest, options: { signal: AbortSignal }) => Promise<number>
  /**
   * Fetches the outputs a replica holds of a job it answered with the vote
   * alone. With it, all replicas of a dispatch but the first vote without
   * their outputs, and the requester moves one copy of an agreed output
   * instead of one per replica. Without it, every replica sends its outputs.
   */
  fetchOutput?: (peerId: string, jobId: string, options: { signal: AbortSignal }) => Promise<NamedTensors>
  /** Replicas known to hold a model loaded: they skip the prepare round trip. */
  prepared?: PreparedReplicas
  random: () => number
  now: () => number
  randomHex: (bytes: number) => string
  /** Resolves when the candidate set may have changed (the relays were asked again). */
  waitForPeers: (options: { signal: AbortSignal }) => Promise<void>
  /** Before the first draw: bring the candidate set up to date if it is stale (the relays' sample). */
  prepare?: (options: { signal: AbortSignal }) => Promise<void>
  book: ReputationBook
  /** Sybil grouping: at most one vote per group counts. @default each peer its own group */
  groupOf?: GroupOf
}


interface Dispatch { req: JobRequest, spec: JobSpec }

export async function runVerifiedJob (deps: RequesterDeps, init: VerifiedJobInit, options: { signal?: AbortSignal, onProgress?: (p: JobProgress) => void } = {}): Promise<VerifiedJobResult> {
  const fixedReplicas = init.replicas ?? 3
  const fixedQuorum = init.quorum ?? 2
  const timeout = init.timeout ?? 60_000
  const replicaTimeout = init.replicaTimeout ?? Math.ceil(timeout / 2)
  const maxReplicas = Math.max(init.maxReplicas ?? DEFAULT_MAX_REPLICAS, init.adaptive == null ? fixedReplicas : 1)
  const { book } = deps
  const started = deps.now()
  const deadline = AbortSignal.timeout(timeout)
  const signal = options.signal == null ? deadline : AbortSignal.any([options.signal, deadline])
  const onProgress = options.onProgress ?? (() => {})

  await deps.prepare?.({ signal }).catch(() => {})
  const selectable = (): Candidate[] => deps.candidates().filter(c => init.exclude?.has(c.peerId) !== true && book.isSelectable(c.peerId, deps.now()))
  const need = init.adaptive == null ? fixedReplicas : 1
  const peerWaitSignal = AbortSignal.any([signal, AbortSignal.timeout(init.peerWait ?? 15_000)])
  while (selectable().length < need && !peerWaitSignal.aborted) {
    onProgress({ type: 'waiting-for-peers', have: selectable().length, need })
    await deps.waitForPeers({ signal: peerWaitSignal }).catch(() => {})
  }
  if (options.signal?.aborted === true) throw new AbortError('job aborted')
  const available = selectable()
  if (available.length < need) {
    throw new NotEnoughPeersError(`need ${need} selectable contributors for model ${init.modelHash.slice(0, 12)}, found ${available.length}`)
  }
  const plan: ReplicationPlan | undefined = planJob(
    init.adaptive == null ? { kind: 'fixed', replicas: fixedReplicas, quorum: fixedQuorum } : { kind: 'adaptive', options: init.adaptive },
    { book, candidates: available, modelHash: init.modelHash, rng: deps.random, now: deps.now(), exclude: init.exclude, firstWeight: init.firstWeight }
  )
  if (plan == null) throw new NotEnoughPeersError(`no selectable contributor for model ${init.modelHash.slice(0, 12)}`)

  const inputHash = await hashTensorsAsync(init.inputs)
  const makeSpec = (replicas: number, quorum: number): Dispatch => {
    const spec = createJobSpec({ modelHash: init.modelHash, inputHash, policy: init.policy, replicas, quorum, requester: deps.signer.peerId, nonce: deps.randomHex(16), createdAt: deps.now(), expiresAt: started + timeout })
    return { spec, req: { type: 'job', jobId: jobIdOf(spec), spec, inputs: init.inputs } }
  }
  const main = makeSpec(plan.replicas, plan.quorum)
  const jobId = main.req.jobId
  const run = new JobRun({ jobId, policy: init.policy, quorum: plan.quorum, replicas: plan.peers.length, recheck: plan.recheck, maxReplicas, replicaTimeoutMs: replicaTimeout, groupOf: deps.groupOf, canary: init.canary })
  const flagged: string[] = []

  return await new Promise<VerifiedJobResult>((resolve, reject) => {
    const replicas = new Map<string, AbortController>()
    let timer: ReturnType<typeof setTimeout> | undefined
    let done = false
    const progress = (p: JobProgress): void => { if (!run.decided) onProgress(p) }
    const finish = (err?: Error, result?: VerifiedJobResult): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      for (const c of replicas.values()) c.abort()
      if (err != null) reject(err)
      else resolve(result as VerifiedJobResult)
    }

    // Every event goes through here; the actions it yields are carried out in order.
    const feed = (event: JobRunEvent): void => {
      if (!done) carryOut(run.step(event))
    }
    const carryOut = (queue: JobRunAction[]): void => {
      while (queue.length > 0 && !done) {
        const a = queue.shift() as JobRunAction
        switch (a.type) {
          case 'dispatch': queue.push(...dispatch(a)); break
          case 'record':
            if (book.record(a.peerId, a.outcome, { modelHash: init.modelHash, numericClass: a.numericClass, jobId: a.jobId, at: deps.now(), sole: a.sole })) {
              flagged.push(a.peerId)
              onProgress({ type: 'flagged', peerId: a.peerId, reason: a.outcome })
            }
            if (a.outcome === 'dissented') onProgress({ type: 'outvoted', jobId, peerId: a.peerId })
            // canary outcomes always come with the voter's signed class (jobrun.ts recordCanary)
            if (a.numericClass !== undefined && (a.outcome === 'canary-passed' || a.outcome === 'canary-failed' || a.outcome === 'near-miss')) onProgress({ type: 'canary', jobId, peerId: a.peerId, numericClass: a.numericClass, verdict: a.outcome })
            if (a.outcome === 'failed-to-answer') {
              const reason = run.failures.find(f => f.peerId === a.peerId)?.reason ?? 'failed'
              log('replica %s failed: %s', a.peerId, reason)
              onProgress({ type: 'failed-replica', jobId, peerId: a.peerId, reason })
            }
            break
          case 'cancel': replicas.get(a.peerId)?.abort(); break
          case 'ignore': log('job %s: ignored a vote from %s (%s)', jobId.slice(0, 12), a.peerId, a.why); break
          case 'accept': accept(a); break
          case 'fail':
            if (a.disputed) onProgress({ type: 'disputed', jobId })
            finish(a.reason === 'timeout'
              ? new TimeoutError(`job ${jobId.slice(0, 12)} reached its ${timeout} ms deadline: ${a.detail}`)
              : a.reason === 'aborted' ? new AbortError('job aborted') : new NoQuorumError(`job ${jobId.slice(0, 12)}: ${a.detail}; no answer is returned`))
            break
        }
      }
      schedule()
    }

    // Replica timeouts: the run says when the next one falls due; a tick tells it the time.
    const schedule = (): void => {
      clearTimeout(timer)
      const next = run.nextTimeout()
      if (done || next === undefined) return
      timer = setTimeout(() => { feed({ type: 'tick', at: deps.now() }) }, Math.max(0, next - deps.now()))
    }

    const onAbort = (): void => { feed(deadline.aborted ? { type: 'deadline', at: deps.now() } : { type: 'abort', at: deps.now() }) }
    signal.addEventListener('abort', onAbort, { once: true })

    const dispatch = (action: Extract<JobRunAction, { type: 'dispatch' }>): JobRunAction[] => {
      const { count, reason } = action
      const d = action.job === 'recheck'
        // the recheck is a job of its own (fresh nonce, replicas 1, quorum 1): its
        // spec and timing do not tell the first voters that they were checked
        ? makeSpec(1, 1)
        : main
      const peers = reason === 'initial' ? plan.peers : peersFor(run, action, { book, candidates: selectable(), modelHash: init.modelHash, rng: deps.random, now: deps.now(), groupOf: deps.groupOf }).slice(0, count)
      if (reason !== 'initial' && peers.length > 0) progress({ type: 'escalated', jobId, reason, add: peers.length })
      if (action.job === 'recheck' && peers.length === 0) log('job %s: no peer left for the recheck', jobId.slice(0, 12))
      const actions = run.step({ type: 'dispatched', at: deps.now(), jobId: d.req.jobId, reason, peers })
      // every replica votes with the hash alone and holds large outputs (small ones come with the
      // vote); the first voter of each hash is asked for the bytes at once. A lone replica sends them.
      peers.forEach((p) => { send(p, d, reason) })
      return actions
    }

    const send = (peerId: string, d: Dispatch, reason: DispatchReason): void => {
      const inline = d.spec.replicas === 1
      const controller = new AbortController()
      replicas.set(peerId, controller)
      progress({ type: 'dispatched', jobId, peerId, reason })
      const replicaSignal = AbortSignal.any([signal, controller.signal])
      const modelHash = d.spec.modelHash
      const prepare = deps.prepareReplica
      const ready = prepare == null || deps.prepared?.has(peerId, modelHash) === true
        ? Promise.resolve(true)
        : (async () => {
            feed({ type: 'replica-preparing', at: deps.now(), peerId })
            progress({ type: 'preparing', jobId, peerId })
            try {
              const ms = await prepare(peerId, { type: 'prepare', jobId: d.req.jobId, modelHash }, { signal: replicaSignal })
              deps.prepared?.add(peerId, modelHash)
              progress({ type: 'ready', jobId, peerId, ms })
              feed({ type: 'replica-ready', at: deps.now(), peerId })
              return true
            } catch (err) {
              // not there to answer: replaced, and not held against it
              if (!done && !controller.signal.aborted) feed({ type: 'replica-unavailable', at: deps.now(), peerId, reason: describeError(err) })
              return false
            }
          })()
      void ready
        .then(async (ok) => ok ? await deps.send(peerId, inline || deps.fetchOutput == null ? d.req : { ...d.req, sendOutput: false }, { signal: replicaSignal }) : undefined)
        .then(async (res) => {
          if (res === undefined) return
          if (res.type === 'error') throw Object.assign(new Error(res.error.message), { name: res.error.name })
          if (res.type !== 'result') throw new InvalidMessageError(`expected a result, got ${res.type}`)
          // hashed once here (WebCrypto for large outputs); the vote check, tally and receipt read it back
          if (res.outputs !== undefined) await hashTensorsAsync(res.outputs)
          const vote = await verifyVote(res.vote, deps.verifier, { jobId: d.req.jobId, modelHash: d.spec.modelHash, inputHash, ...(res.outputs !== undefined ? { output: res.outputs } : {}), expiresAt: d.spec.expiresAt })
          if (vote.body.peerId !== peerId) throw new Error('vote signed by another peer')
          let output = res.outputs
          if (output !== undefined) outputs.set(vote.body.outputHash, output)
          else output = await outputOf(vote.body.outputHash, peerId, d.req.jobId, replicaSignal)
          progress({ type: 'vote', jobId, peerId, outputHash: vote.body.outputHash, ms: res.ms })
          deps.prepared?.add(peerId, modelHash)
          feed({ type: 'vote', at: deps.now(), ballot: { vote, output } })
        })
        .catch((err: unknown) => {
          deps.prepared?.delete(peerId, modelHash)
          if (done || controller.signal.aborted) return
          // a contributor that paused since its lease was sampled did nothing wrong: replaced, not held against it
          const type = (err as Error)?.name === 'PeerPausedError' ? 'replica-unavailable' : 'replica-failed'
          feed({ type, at: deps.now(), peerId, reason: describeError(err) })
        })
    }

    // Outputs by hash, each moved once: a vote that came without its bytes
    // shares those of an earlier ballot with the same hash, or waits for the
    // fetch already asked of an earlier voter of that hash, or has its own
    // fetched at once (and checked against the hash it signed). So the bytes
    // come from the first replica to answer, and travel once.
    const outputs = new Map<string, NamedTensors>()
    const fetching = new Map<string, Promise<NamedTensors>>()
    const outputOf = async (hash: string, peerId: string, forJob: string, replicaSignal: AbortSignal): Promise<NamedTensors> => {
      const known = outputs.get(hash)
      if (known !== undefined) return known
      const inflight = fetching.get(hash)
      if (inflight !== undefined) {
        // another voter of the same hash is sending them; if it fails, this one is asked
        try { return await inflight } catch {}
        const now = outputs.get(hash)
        if (now !== undefined) return now
      }
      const fetchOutput = deps.fetchOutput
      if (fetchOutput == null) throw new InvalidMessageError('the vote came without its outputs')
      const p = (async () => {
        const got = await fetchOutput(peerId, forJob, { signal: replicaSignal })
        if (await hashTensorsAsync(got) !== hash) throw new HashMismatchError(`outputs from ${peerId} do not hash to the ${hash.slice(0, 12)} it signed`)
        outputs.set(hash, got)
        return got
      })()
      fetching.set(hash, p)
      try {
        return await p
      } finally {
        if (fetching.get(hash) === p) fetching.delete(hash)
      }
    }

    const accept = (a: AcceptAction): void => {
      const agreeing = a.agreeing.map(b => b.vote.body.peerId)
      onProgress({ type: 'accepted', jobId, outputHash: a.outputHash, peers: agreeing })
      // a sole or single-vote answer is only as good as its later rechecks: say so in the receipt
      const assurance: Assurance = a.sole || agreeing.length < 2 ? { kind: 'provisional', until: deps.now() + (init.provisionalMs ?? DEFAULT_PROVISIONAL_MS) } : { kind: 'replicated' }
      buildReceipt({ spec: main.spec, jobId, accepted: { output: a.output, outputHash: a.outputHash, numericClass: a.numericClass }, ballots: a.ballots, agreeingPeers: agreeing, signer: deps.signer, assurance })
        .then((receipt) => {
          finish(undefined, {
            jobId,
            spec: main.spec,
            output: a.output,
            outputHash: a.outputHash,
            numericClass: a.numericClass,
            agreeing,
            dissenting: a.dissenting.map(b => b.vote.body.peerId),
            failed: run.failures,
            dispatched: run.dispatched,
            ballots: a.ballots,
            receiptText: serializeReceipt(receipt),
            receiptOutputs: receiptOutputsOf(receipt, a.output, a.ballots),
            flagged,
            sole: a.sole,
            ms: deps.now() - started
          })
        }, (err) => { finish(err) })
    }

    carryOut(run.start())
    if (signal.aborted) onAbort()
  })
}

function describeError (err: unknown): string {
  const e = err as { name?: unknown, message?: unknown }
  return typeof e?.message === 'string' ? `${String(e.name ?? 'Error')}: ${e.message}` : String(err)
}
