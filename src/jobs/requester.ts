/**
 * Requester side: pick k random peers able to run the model, send the job,
 * collect signed votes, replace missing or failed replicas until the
 * deadline, escalate on disagreement up to a cap, accept on quorum and
 * produce a receipt.
 */
import { AbortError, NoQuorumError, NotEnoughPeersError, TimeoutError } from '../errors.js'
import { hashTensors } from '../tensor/index.js'
import type { NamedTensors } from '../tensor/index.js'
import { createJobSpec, jobIdOf } from '../consensus/job.js'
import { verifyVote } from '../consensus/vote.js'
import { tally } from '../consensus/tally.js'
import { selectPeers } from '../consensus/select.js'
import { buildReceipt, serializeReceipt } from '../consensus/receipt.js'
import type { Ballot, ComparisonPolicy, JobSpec, SignatureVerifier, Signer } from '../consensus/types.js'
import type { JobRequest, JobResponse } from '../network/codec.js'
import { createLogger } from '../logger.js'

const log = createLogger('requester')

export interface VerifiedJobInit {
  modelHash: string
  inputs: NamedTensors
  policy: ComparisonPolicy
  /** @default 3 */
  replicas?: number
  /** @default 2 */
  quorum?: number
  /** Overall deadline. @default 60000 ms */
  timeout?: number
  /** Most replicas ever asked, counting replacements and escalation. @default 2 × replicas + 1 */
  maxReplicas?: number
  /** How long to wait for enough contributors to appear. @default 15000 ms */
  peerWait?: number
}

export type JobProgress =
  | { type: 'waiting-for-peers', have: number, need: number }
  | { type: 'dispatched', jobId: string, peerId: string }
  | { type: 'vote', jobId: string, peerId: string, outputHash: string, ms: number }
  | { type: 'failed-replica', jobId: string, peerId: string, reason: string }
  | { type: 'escalated', jobId: string, replicas: number }
  | { type: 'accepted', jobId: string, outputHash: string, peers: string[] }

export interface VerifiedJobResult {
  jobId: string
  spec: JobSpec
  output: NamedTensors
  outputHash: string
  agreeing: string[]
  dissenting: string[]
  failed: Array<{ peerId: string, reason: string }>
  ballots: Ballot[]
  /** Canonical receipt JSON (what `crosscheck verify` reads). */
  receiptText: string
  ms: number
}

export interface RequesterDeps {
  signer: Signer
  verifier: SignatureVerifier
  /** Contributors currently able to take jobs (excluding self). */
  candidates: () => string[]
  send: (peerId: string, req: JobRequest, options: { signal: AbortSignal }) => Promise<JobResponse>
  random: () => number
  now: () => number
  randomHex: (bytes: number) => string
  /** Resolves when the candidate set may have changed (new announcements). */
  waitForPeers: (options: { signal: AbortSignal }) => Promise<void>
}

export async function runVerifiedJob (deps: RequesterDeps, init: VerifiedJobInit, options: { signal?: AbortSignal, onProgress?: (p: JobProgress) => void } = {}): Promise<VerifiedJobResult> {
  const replicas = init.replicas ?? 3
  const quorum = init.quorum ?? 2
  const timeout = init.timeout ?? 60_000
  const maxReplicas = init.maxReplicas ?? replicas * 2 + 1
  const started = deps.now()
  const deadline = AbortSignal.timeout(timeout)
  const signal = options.signal == null ? deadline : AbortSignal.any([options.signal, deadline])
  // replicas still in flight once the job is decided are cancelled
  const decided = new AbortController()
  const replicaSignal = AbortSignal.any([signal, decided.signal])
  const onProgress = options.onProgress ?? (() => {})
  const progress = (p: JobProgress): void => { if (!decided.signal.aborted) onProgress(p) }

  // wait (bounded) until enough contributors are known
  const peerWaitSignal = AbortSignal.any([signal, AbortSignal.timeout(init.peerWait ?? 15_000)])
  while (deps.candidates().length < replicas && !peerWaitSignal.aborted) {
    progress({ type: 'waiting-for-peers', have: deps.candidates().length, need: replicas })
    await deps.waitForPeers({ signal: peerWaitSignal }).catch(() => {})
  }
  if (options.signal?.aborted === true) throw new AbortError('job aborted')
  const available = deps.candidates()
  if (available.length < replicas) {
    throw new NotEnoughPeersError(`need ${replicas} contributors able to run model ${init.modelHash.slice(0, 12)}, found ${available.length}`)
  }

  const inputHash = hashTensors(init.inputs)
  const spec = createJobSpec({
    modelHash: init.modelHash,
    inputHash,
    policy: init.policy,
    replicas,
    quorum,
    requester: deps.signer.peerId,
    nonce: deps.randomHex(16),
    createdAt: started,
    expiresAt: started + timeout
  })
  const jobId = jobIdOf(spec)
  const req: JobRequest = { type: 'job', jobId, spec, inputs: init.inputs }

  const tried = new Set<string>()
  const ballots: Ballot[] = []
  const failed: Array<{ peerId: string, reason: string }> = []
  let outstanding = 0
  let target = replicas

  return await new Promise<VerifiedJobResult>((resolve, reject) => {
    let done = false
    const finish = (err?: Error, result?: VerifiedJobResult): void => {
      if (done) return
      done = true
      decided.abort()
      signal.removeEventListener('abort', onAbort)
      if (err != null) reject(err)
      else resolve(result as VerifiedJobResult)
    }
    const onAbort = (): void => {
      const reason = deadline.aborted
        ? new TimeoutError(`job ${jobId.slice(0, 12)} reached its ${timeout} ms deadline with ${ballots.length} votes (quorum ${quorum})`)
        : new AbortError('job aborted')
      finish(reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })

    let deciding = false
    const evaluate = (): void => {
      if (done || deciding) return
      const result = tally({ ballots, policy: spec.policy, quorum, outstanding })
      if (result.status === 'accepted') {
        deciding = true
        decided.abort()
        const counted = [...ballots]
        const agreeing = result.agreeing.map(b => b.vote.body.peerId)
        onProgress({ type: 'accepted', jobId, outputHash: result.outputHash, peers: agreeing })
        buildReceipt({ spec, jobId, accepted: { output: result.output, outputHash: result.outputHash, numericClass: result.numericClass }, ballots: counted, agreeingPeers: agreeing, signer: deps.signer })
          .then((receipt) => {
            finish(undefined, {
              jobId,
              spec,
              output: result.output,
              outputHash: result.outputHash,
              agreeing,
              dissenting: result.dissenting.map(b => b.vote.body.peerId),
              failed,
              ballots: counted,
              receiptText: serializeReceipt(receipt),
              ms: deps.now() - started
            })
          }, (err) => { finish(err) })
        return
      }
      if (result.status === 'conflict') {
        finish(new NoQuorumError(`job ${jobId.slice(0, 12)}: two disjoint quorums disagree; no answer is returned`))
        return
      }
      // Votes the best output still needs. When the replicas in flight plus the
      // free slots cannot supply them, the voters disagree: escalate (up to the cap).
      const needed = quorum - result.best
      const free = target - ballots.length - outstanding
      if (needed > outstanding + Math.max(0, free) && target < maxReplicas) {
        target = Math.min(maxReplicas, ballots.length + outstanding + needed)
        progress({ type: 'escalated', jobId, replicas: target })
      }
      // failed or missing replicas leave free slots: fill them with fresh peers
      dispatch()
      if (outstanding === 0) {
        const reason = ballots.length > 0
          ? `no output reached quorum ${quorum} (${ballots.length} votes from ${tried.size} peers asked, ${failed.length} failed, cap ${maxReplicas} replicas)`
          : `no replica answered (${failed.length} failed: ${failed.map(f => f.reason).slice(0, 3).join('; ')})`
        finish(new NoQuorumError(`job ${jobId.slice(0, 12)}: ${reason}`))
      }
    }

    const dispatch = (): void => {
      const active = ballots.length + outstanding
      const fresh = deps.candidates().filter(p => !tried.has(p))
      const want = Math.min(target - active, fresh.length)
      if (want <= 0) return
      const picked = selectPeers(fresh, want, deps.random)
      for (const peerId of picked) {
        tried.add(peerId)
        outstanding++
        progress({ type: 'dispatched', jobId, peerId })
        void deps.send(peerId, req, { signal: replicaSignal })
          .then(async (res) => {
            if (res.type === 'error') throw new Error(`${res.error.name}: ${res.error.message}`)
            await verifyVote(res.vote, deps.verifier, { jobId, modelHash: spec.modelHash, inputHash, output: res.outputs, expiresAt: spec.expiresAt })
            if (res.vote.body.peerId !== peerId) throw new Error('vote signed by another peer')
            ballots.push({ vote: res.vote, output: res.outputs })
            progress({ type: 'vote', jobId, peerId, outputHash: res.vote.body.outputHash, ms: res.ms })
          })
          .catch((err: unknown) => {
            const reason = err instanceof Error || (typeof err === 'object' && err != null && 'message' in err)
              ? `${String((err as Error).name)}: ${String((err as Error).message)}`
              : String(err)
            log('replica %s failed: %s', peerId, reason)
            failed.push({ peerId, reason })
            progress({ type: 'failed-replica', jobId, peerId, reason })
          })
          .finally(() => {
            outstanding--
            evaluate()
          })
      }
    }

    dispatch()
    if (outstanding === 0) finish(new NotEnoughPeersError('no contributor could be asked'))
  })
}
