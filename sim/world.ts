/**
 * One seeded simulation run: a requester issuing jobs to a population of
 * peers, a fraction of them adversarial, with the REAL trust code deciding:
 * planReplication / escalationPlan / judgeJob (which runs tally and
 * outputsAgree), ReputationBook, CanarySchedule / judgeCanary, onePerGroup.
 *
 * Not simulated: signatures and the network (votes are well-formed ballots;
 * vote/receipt binding and replay are covered by unit tests), timing other
 * than "answered before the deadline or not".
 */
import { CanarySchedule, judgeCanary } from '../src/consensus/canary.js'
import { outputsAgree } from '../src/consensus/compare.js'
import { escalationPlan, judgeJob, planReplication } from '../src/consensus/replication.js'
import { ReputationBook } from '../src/consensus/reputation.js'
import { createRng } from '../src/consensus/select.js'
import { tally } from '../src/consensus/tally.js'
import { createTensor, hashTensors } from '../src/tensor/index.js'
import type { Candidate, ReplicationPlan } from '../src/consensus/replication.js'
import type { Rng } from '../src/consensus/select.js'
import type { Ballot, ComparisonPolicy, NumericClass } from '../src/consensus/types.js'
import type { NamedTensors } from '../src/tensor/index.js'

export type AdversaryKind = 'always-wrong' | 'colluding' | 'noise' | 'slow' | 'silent' | 'copying'
export const ADVERSARY_KINDS: readonly AdversaryKind[] = ['always-wrong', 'colluding', 'noise', 'slow', 'silent', 'copying']
export type PeerKind = 'honest' | AdversaryKind

/**
 * Numeric classes and how far their outputs sit from the ORT-web WASM
 * 1-thread reference, per NOTES.md "Determinism": WASM 2+ threads up to
 * 8.6e-6, WebGPU up to 3.6e-5, onnxruntime-node 6e-8 typically and up to
 * 3.4e-5 on some models. Same class and job: bit-identical outputs.
 */
export const CLASSES: ReadonlyArray<{ numericClass: NumericClass, share: number, maxAbs: number, smallAbs?: number }> = [
  { numericClass: 'ort-web/wasm/t1/chromium', share: 0.3, maxAbs: 0 },
  { numericClass: 'ort-web/wasm/t2/chromium', share: 0.25, maxAbs: 8.6e-6 },
  { numericClass: 'ort-web/webgpu/t1/chromium', share: 0.25, maxAbs: 3.6e-5 },
  { numericClass: 'ort-node/cpu/t4/node', share: 0.2, maxAbs: 3.4e-5, smallAbs: 6e-8 }
]
const REFERENCE_CLASS = CLASSES[0].numericClass

export interface SimOptions {
  seed: number
  jobs: number
  peers: number
  /** Fraction of adversarial peers. */
  f: number
  /** One kind, or 'mixed' (equal shares of every kind). */
  adversary: AdversaryKind | 'mixed'
  canaryRate: number
  floorRecheck: number
  probation: number
  /** Replicas (all must agree) for a job whose first peer is not established. */
  newcomerReplicas: number
  probationRecheck: number
  establishedAfter: number
  maxInvalid: number
  /** Colluders stay honest on their first `patience` dispatches. */
  patience: number
  /** Per element probability that an honest deviation is 3x the measured maximum (an unmeasured tail). */
  tail: number
  /** Elements per output tensor. */
  outputSize: number
  /** Accepted sole votes re-verified when a peer is flagged. */
  reverify: number
  policy: ComparisonPolicy
  /** Plain k-of-n majority, no reputation (the baseline the issue quotes). */
  baseline?: { replicas: number, quorum: number }
}

export interface KindStats {
  peers: number
  flagged: number
  /** Mean job index at which a peer of this kind was flagged (flagged ones only). */
  meanJobsToFlag: number | null
  /** Peers benched at least once for failing to answer. */
  benched: number
  votes: number
  invalidVotes: number
}

export interface SimResult {
  options: SimOptions
  realJobs: number
  accepted: number
  failed: number
  /** Accepted with an answer that disagrees with the reference under the policy. */
  wrongAccepted: number
  wrongAcceptRate: number
  /** Wrong accepts later found by re-verification after a flag (retracted). */
  retracted: number
  /** Honest votes recorded as dissented or canary-failed, over all honest votes. */
  honestFalseRejectRate: number
  honestInvalidVotes: number
  honestVotes: number
  honestFlagged: number
  honestNearMisses: number
  /** All dispatches (real, recheck, escalation, replacement, canary, re-verification) per real job. */
  replicasPerJob: number
  /** Same, without canaries and re-verification. */
  realReplicasPerJob: number
  canaryJobs: number
  disputes: number
  byKind: Record<string, KindStats>
  /** Wrong accepts by initial shape and tenth of the run (diagnostics). */
  wrongWhy: Record<string, number>
  ms: number
}

interface Peer {
  id: string
  kind: PeerKind
  numericClass: NumericClass
  group: string
  dispatches: number
  flaggedAt?: number
  benched: boolean
  lastOutput?: NamedTensors
  votes: number
  invalidVotes: number
}

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
function peerId (i: number): string {
  let s = ''
  let n = i + 1
  while (n > 0) { s = B58[n % 58] + s; n = Math.floor(n / 58) }
  return `12D3KooW${s.padStart(6, '1')}`
}

function hex64 (n: number, salt: string): string {
  return (salt + n.toString(16)).padStart(64, '0').slice(-64)
}

interface Job {
  index: number
  jobId: string
  inputHash: string
  reference: NamedTensors
  /** Per class honest output (bit-identical within a class). */
  byClass: Map<NumericClass, NamedTensors>
  /** Coalition knowledge: colluders that answered and whether they cheated. */
  coalition?: { answered: boolean, cheat: boolean, wrong: NamedTensors }
  copierOutput?: NamedTensors
  canary: boolean
}

export function runSim (o: SimOptions): SimResult {
  const t0 = performance.now()
  const rng: Rng = createRng(o.seed)
  const noiseRng: Rng = createRng(o.seed + 0.5)
  const modelHash = 'ab'.repeat(32)
  const book = new ReputationBook({ establishedAfter: o.establishedAfter, maxInvalid: o.maxInvalid })
  const schedule = new CanarySchedule({ rate: o.canaryRate })

  // ---- population
  const nAdv = Math.round(o.peers * o.f)
  const kinds: PeerKind[] = []
  for (let i = 0; i < o.peers; i++) {
    if (i < nAdv) kinds.push(o.adversary === 'mixed' ? ADVERSARY_KINDS[i % ADVERSARY_KINDS.length] : o.adversary)
    else kinds.push('honest')
  }
  // shuffle kinds so ids carry no information
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    const t = kinds[i]; kinds[i] = kinds[j]; kinds[j] = t
  }
  const peers: Peer[] = kinds.map((kind, i) => {
    let r = rng()
    let numericClass = CLASSES[CLASSES.length - 1].numericClass
    for (const c of CLASSES) { if (r < c.share) { numericClass = c.numericClass; break } r -= c.share }
    // Worst case for grouping: every adversary sits in its own network.
    return { id: peerId(i), kind, numericClass, group: `net:${i}`, dispatches: 0, benched: false, votes: 0, invalidVotes: 0 }
  })
  const byId = new Map(peers.map((p) => [p.id, p]))
  const candidates: Candidate[] = peers.map((p) => ({ peerId: p.id, numericClass: p.numericClass, group: p.group }))

  // ---- outputs
  const L = o.outputSize
  const makeReference = (): Float32Array => {
    const d = new Float32Array(L)
    for (let i = 0; i < L; i++) d[i] = (noiseRng() * 2 - 1) * 4
    return d
  }
  const t = (d: Float32Array): NamedTensors => ({ y: createTensor('float32', [L], d) })
  const classOutput = (job: Job, numericClass: NumericClass): NamedTensors => {
    let out = job.byClass.get(numericClass)
    if (out !== undefined) return out
    const spec = CLASSES.find((c) => c.numericClass === numericClass)!
    const ref = job.reference.y.data as Float32Array
    const d = new Float32Array(ref)
    if (spec.maxAbs > 0) {
      const small = spec.smallAbs !== undefined && noiseRng() < 0.5
      const max = small ? spec.smallAbs! : spec.maxAbs
      for (let i = 0; i < L; i++) {
        const u = noiseRng()
        let dev = max * u * u * u * (noiseRng() < 0.5 ? -1 : 1)
        if (o.tail > 0 && noiseRng() < o.tail) dev *= 3
        d[i] = ref[i] + dev
      }
    }
    out = t(d)
    job.byClass.set(numericClass, out)
    return out
  }
  const wrongOutput = (job: Job, r: Rng): NamedTensors => {
    const d = new Float32Array(job.reference.y.data as Float32Array)
    const i = Math.floor(r() * L)
    d[i] += 0.5 + r()
    return t(d)
  }

  // ---- stats
  let dispatchesReal = 0
  let dispatchesOther = 0
  let accepted = 0
  let failed = 0
  let wrongAccepted = 0
  let retracted = 0
  let canaryJobs = 0
  let disputes = 0
  let honestVotes = 0
  let honestInvalid = 0
  let honestNear = 0
  let now = 1_700_000_000_000
  const wrongWhy: Record<string, number> = {}
  const acceptedJobs = new Map<string, { job: Job, wrong: boolean, agreeing: string[], retracted: boolean }>()

  /** What peer `p` answers when asked for `job` as one of a dispatch with this spec shape. undefined: no answer in time. */
  const answer = (p: Peer, job: Job, shape: { replicas: number, quorum: number, colludersInDispatch: number }): NamedTensors | undefined => {
    p.dispatches++
    const honest = (): NamedTensors => classOutput(job, p.numericClass)
    switch (p.kind) {
      case 'honest': return honest()
      case 'silent': return undefined
      case 'slow': return rng() < 0.7 ? undefined : honest()
      case 'always-wrong': return wrongOutput(job, rng)
      case 'noise': return rng() < 0.3 ? wrongOutput(job, rng) : honest()
      case 'copying': {
        // Lazy: half the time re-signs whatever it answered last (stale, wrong),
        // unless a fellow copier already computed this job.
        if (job.copierOutput !== undefined) return job.copierOutput
        if (rng() < 0.5 && p.lastOutput !== undefined) return p.lastOutput
        const out = honest()
        job.copierOutput = out
        p.lastOutput = out
        return out
      }
      case 'colluding': {
        if (p.dispatches <= o.patience) return honest()
        const c = job.coalition ??= { answered: false, cheat: false, wrong: wrongOutput(job, rng) }
        if (!c.answered) {
          // Cheat only when the coalition holds the quorum of what this dispatch's JobSpec shows.
          c.cheat = shape.colludersInDispatch >= shape.quorum
          c.answered = true
        }
        return c.cheat ? c.wrong : honest()
      }
    }
  }

  const ballotOf = (p: Peer, output: NamedTensors, jobId: string): Ballot => ({
    vote: { body: { v: 1, jobId, modelHash, inputHash: jobId, outputHash: hashTensors(output), numericClass: p.numericClass, peerId: p.id, signedAt: now }, signature: new Uint8Array([1]), publicKey: new Uint8Array([1]) },
    output
  })

  const countVote = (p: Peer, invalid: boolean): void => {
    p.votes++
    if (invalid) p.invalidVotes++
    if (p.kind === 'honest') { honestVotes++; if (invalid) honestInvalid++ }
  }

  const onFlag = (peer: Peer, jobIndex: number): void => {
    if (peer.flaggedAt !== undefined) return
    peer.flaggedAt = jobIndex
    // Re-verify its most recent sole-accepted jobs with an established peer.
    const recent = book.recentAccepted(peer.id).slice(0, o.reverify)
    for (const a of recent) {
      const rec = acceptedJobs.get(a.jobId)
      if (rec === undefined || rec.retracted) continue
      const checkers = escalationPlan({ book, candidates, modelHash, rng, now, tried: new Set(rec.agreeing), voterClasses: [], count: 1 })
      for (const cid of checkers) {
        dispatchesOther++
        const cp = byId.get(cid)!
        const out = answer(cp, rec.job, { replicas: 1, quorum: 1, colludersInDispatch: cp.kind === 'colluding' ? 1 : 0 })
        if (out === undefined) continue
        const acceptedOut = rec.job.byClass.get('accepted')!
        if (!outputsAgree(acceptedOut, out, o.policy, 'accepted', cp.numericClass)) {
          // Three-way check against a second established peer before retracting.
          const more = escalationPlan({ book, candidates, modelHash, rng, now, tried: new Set([...rec.agreeing, cid]), voterClasses: [cp.numericClass], count: 1 })
          for (const mid of more) {
            dispatchesOther++
            const mp = byId.get(mid)!
            const out2 = answer(mp, rec.job, { replicas: 1, quorum: 1, colludersInDispatch: mp.kind === 'colluding' ? 1 : 0 })
            if (out2 !== undefined && outputsAgree(out, out2, o.policy, cp.numericClass, mp.numericClass)) {
              rec.retracted = true
              if (rec.wrong) retracted++
              for (const other of rec.agreeing) {
                if (other === peer.id) continue
                const op = byId.get(other)!
                countVote(op, true)
                if (book.record(other, 'dissented', { modelHash, numericClass: op.numericClass, at: now })) onFlag(op, jobIndex)
              }
            }
          }
        }
      }
    }
  }

  const record = (p: Peer, outcome: Parameters<ReputationBook['record']>[1], jobId: string, jobIndex: number, sole = false): void => {
    if (outcome !== 'failed-to-answer') countVote(p, outcome === 'dissented' || outcome === 'canary-failed')
    if (outcome === 'near-miss' && p.kind === 'honest') honestNear++
    const flagged = book.record(p.id, outcome, { modelHash, numericClass: p.numericClass, jobId, at: now, sole })
    if (!book.isSelectable(p.id, now) && outcome === 'failed-to-answer') p.benched = true
    if (flagged) onFlag(p, jobIndex)
  }

  let issued = 0
  let realIndex = 0
  while (realIndex < o.jobs) {
    now += 1000
    const isCanary = o.baseline === undefined && schedule.next(rng)
    issued++
    const job: Job = {
      index: realIndex,
      jobId: hex64(issued, 'j'),
      inputHash: hex64(issued, 'i'),
      reference: t(makeReference()),
      byClass: new Map(),
      canary: isCanary
    }
    job.byClass.set(REFERENCE_CLASS, job.reference)
    if (isCanary) canaryJobs++

    let plan: ReplicationPlan | undefined
    if (o.baseline !== undefined) {
      const pool = candidates.filter((c) => book.isSelectable(c.peerId, now))
      const picked: string[] = []
      while (picked.length < o.baseline.replicas && picked.length < pool.length) {
        const c = pool[Math.floor(rng() * pool.length)]
        if (!picked.includes(c.peerId)) picked.push(c.peerId)
      }
      plan = { peers: picked, replicas: picked.length, quorum: o.baseline.quorum, recheck: false, established: false }
    } else {
      plan = planReplication({
        book, candidates, modelHash, rng, now, floorRecheck: o.floorRecheck, probation: o.probation, probationRecheck: o.probationRecheck, base: { replicas: o.newcomerReplicas, quorum: o.newcomerReplicas },
        firstWeight: isCanary ? schedule.firstWeight(book) : undefined
      })
    }
    if (plan === undefined) throw new Error('no selectable peers left')

    const ballots: Ballot[] = []
    const tried = new Set<string>()
    let dispatched = 0
    const dispatch = (ids: string[], shape: { replicas: number, quorum: number }, jobId: string): void => {
      const colluders = ids.filter((id) => byId.get(id)!.kind === 'colluding').length
      for (const id of ids) {
        const p = byId.get(id)!
        tried.add(id)
        dispatched++
        if (isCanary) dispatchesOther++
        else dispatchesReal++
        const out = answer(p, job, { ...shape, colludersInDispatch: colluders })
        if (out === undefined) record(p, 'failed-to-answer', jobId, realIndex)
        else ballots.push(ballotOf(p, out, jobId))
      }
    }
    dispatch(plan.peers, plan, job.jobId)

    if (isCanary) {
      // Same shape as a real job, recheck included; every voter judged against the known answer.
      if (plan.recheck) dispatch(escalationPlan({ book, candidates, modelHash, rng, now, tried, voterClasses: [], count: 1 }), { replicas: 1, quorum: 1 }, hex64(issued, 'r'))
      const c = { modelHash, inputHash: job.inputHash, expected: job.reference, expectedClass: REFERENCE_CLASS, policy: o.policy }
      for (const b of ballots) record(byId.get(b.vote.body.peerId)!, judgeCanary(c, b.output, b.vote.body.numericClass), b.vote.body.jobId, realIndex)
      continue
    }

    if (o.baseline !== undefined) {
      const r = tally({ ballots, policy: o.policy, quorum: plan.quorum })
      if (r.status === 'accepted') {
        accepted++
        if (!outputsAgree(job.reference, r.output, o.policy, REFERENCE_CLASS, r.numericClass)) wrongAccepted++
      } else {
        failed++
      }
      realIndex++
      continue
    }

    let recheckPending = plan.recheck
    for (;;) {
      const j = judgeJob({ ballots, policy: o.policy, quorum: plan.quorum, outstanding: 0, dispatched, recheckPending, })
      if (j.status === 'waiting') throw new Error('waiting with nothing outstanding')
      if (j.status === 'escalate') {
        const voterClasses = ballots.map((b) => b.vote.body.numericClass)
        const add = escalationPlan({ book, candidates, modelHash, rng, now, tried, voterClasses, count: j.add })
        if (j.reason === 'dispute') disputes++
        if (add.length === 0) { failed++; break }
        if (j.reason === 'recheck') {
          recheckPending = false
          // A recheck is its own single-replica JobSpec (fresh nonce): neither its spec nor its timing gives it away.
          dispatch(add, { replicas: 1, quorum: 1 }, hex64(issued, 'r'))
        } else {
          dispatch(add, plan, job.jobId)
        }
        continue
      }
      if (j.status === 'failed') { failed++; break }
      accepted++
      const wrong = !outputsAgree(job.reference, j.result.output, o.policy, REFERENCE_CLASS, j.result.numericClass)
      if (wrong) {
        wrongAccepted++
        const key = `${plan.peers.length === 1 ? 'single' : 'pair'}${plan.recheck ? '+recheck' : ''}${j.disputed ? '+disputed' : ''}@${Math.floor(realIndex / (o.jobs / 10))}`
        wrongWhy[key] = (wrongWhy[key] ?? 0) + 1
      }
      job.byClass.set('accepted', j.result.output)
      acceptedJobs.set(job.jobId, { job, wrong, agreeing: j.result.agreeing.map((b) => b.vote.body.peerId), retracted: false })
      for (const oc of j.outcomes) record(byId.get(oc.peerId)!, oc.outcome, job.jobId, realIndex, j.sole)
      break
    }
    realIndex++
  }

  const byKind: Record<string, KindStats> = {}
  for (const p of peers) {
    const s = byKind[p.kind] ??= { peers: 0, flagged: 0, meanJobsToFlag: null, benched: 0, votes: 0, invalidVotes: 0 }
    s.peers++
    s.votes += p.votes
    s.invalidVotes += p.invalidVotes
    if (p.benched) s.benched++
    if (p.flaggedAt !== undefined) {
      s.meanJobsToFlag = ((s.meanJobsToFlag ?? 0) * s.flagged + p.flaggedAt) / (s.flagged + 1)
      s.flagged++
    }
  }
  return {
    options: o,
    realJobs: o.jobs,
    accepted,
    failed,
    wrongAccepted,
    wrongAcceptRate: wrongAccepted / o.jobs,
    retracted,
    honestFalseRejectRate: honestVotes === 0 ? 0 : honestInvalid / honestVotes,
    honestInvalidVotes: honestInvalid,
    honestVotes,
    honestFlagged: byKind.honest?.flagged ?? 0,
    honestNearMisses: honestNear,
    replicasPerJob: (dispatchesReal + dispatchesOther) / o.jobs,
    realReplicasPerJob: dispatchesReal / o.jobs,
    canaryJobs,
    disputes,
    byKind,
    wrongWhy,
    ms: Math.round(performance.now() - t0)
  }
}
