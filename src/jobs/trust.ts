/**
 * A requester with memory: the reputation book (persisted by the caller),
 * canary jobs mixed into real traffic, and re-verification of a flagged
 * peer's recent accepted work. Canaries and re-verification run in the
 * background, one re-verification at a time, never inside someone's
 * `request()`; `settled()` waits for them.
 *
 * @example
 * ```ts
 * const requester = new Requester({ deps, records: await store.listReputation(), persist, localRun })
 * const result = await requester.request({ modelHash, inputs, policy, adaptive: {} })
 * ```
 */
import { TypedEventTarget } from '../events.js'
import { createLogger } from '../logger.js'
import { createTensor, hashTensors } from '../tensor/index.js'
import type { NamedTensors } from '../tensor/index.js'
import { outputsAgree } from '../consensus/compare.js'
import { ReputationBook } from '../consensus/reputation.js'
import type { ReputationInit, TrustRecord } from '../consensus/reputation.js'
import { CanarySchedule } from '../consensus/canary.js'
import { BackendHealth } from '../consensus/backend-health.js'
import type { BackendHealthInit, BackendVerdict } from '../consensus/backend-health.js'
import { createRng } from '../consensus/select.js'
import { REVERIFY_MODE } from '../consensus/replication.js'
import { signObservation, verifyObservation, weighObservation } from '../consensus/observation.js'
import { serializeRecord, signSettlement } from '../consensus/settlement.js'
import type { ObservationMessage } from '../network/codec.js'
import type { ComparisonPolicy } from '../consensus/types.js'
import { runVerifiedJob } from './requester.js'
import type { JobProgress, RequesterDeps, VerifiedJobInit, VerifiedJobResult } from './requester.js'

const log = createLogger('trust')

export interface RequesterInit {
  /** Reputation thresholds. @default ReputationBook's defaults */
  trust?: ReputationInit
  /** Fraction of requests followed by a canary job. @default 0.05 */
  canaryRate?: number
  /** When canaries judge a whole backend wrong on a model (src/consensus/backend-health.ts). @default BackendHealth's defaults */
  backendHealth?: BackendHealthInit
  /** Accepted jobs kept (inputs and output) for re-verification. @default 128 */
  recentLimit?: number
  /**
   * Seed for peer selection, canary draws and canary inputs, so that a run can
   * be repeated (tests, simulations). @default unseeded (the platform's Math.random)
   */
  seed?: number
}

export interface RequesterComponents {
  deps: Omit<RequesterDeps, 'book'>
  /** Reputation records loaded from storage. */
  records?: Iterable<TrustRecord>
  /** Saves changed reputation records. */
  persist?: (records: TrustRecord[]) => Promise<void>
  /**
   * Changes to the book within this long go out in one write (ms): a
   * requester running hundreds of jobs a second writes its book a few times a
   * second, not once per job. `settled()` writes what is waiting at once.
   * @default 250
   */
  saveDelayMs?: number
  /** Shares an observation with other requesters (gossip); resolves false when it was not sent. */
  share?: (message: ObservationMessage) => Promise<boolean>
  /** Publishes a signed retraction record (gossip) so holders of the receipt learn of it; resolves false when not sent. */
  shareRetraction?: (record: string) => Promise<boolean>
  /** Backend verdicts to continue from (a requester reconfigured keeps what its canaries learnt); otherwise they are rebuilt from `records`. */
  health?: BackendHealth
  /** Computes known answers for canaries (a CPU reference runtime: see CrosscheckNode); without it no canaries are sent. */
  localRun?: (modelHash: string, inputs: NamedTensors, options: { signal?: AbortSignal }) => Promise<{ outputs: NamedTensors, numericClass: string }>
}

export interface RequesterEvents {
  'trust:flagged': CustomEvent<{ peerId: string, reason: string }>
  /** `record` is the signed retraction (settlement.ts) when the receipt was still remembered. */
  'job:retracted': CustomEvent<{ jobId: string, peerId: string, record?: string }>
  'canary:done': CustomEvent<{ jobId?: string, modelHash: string, failed: string[], error?: string }>
  /**
   * Canaries judged a backend wrong on a model (failures from several of its
   * peers, outnumbering its passes): its peers are no longer drawn for that
   * model, newcomers included.
   */
  'trust:backend': CustomEvent<BackendVerdict>
  /** Someone else's observation moved this book (`dissented` or `flag`). */
  'trust:observation': CustomEvent<{ subject: string, observer: string, action: 'dissented' | 'flag', reason: string }>
}

interface Remembered { modelHash: string, inputs: NamedTensors, policy: ComparisonPolicy, output: NamedTensors, numericClass: string, receiptText?: string, reverified?: boolean }

/** Fresh inputs that look like real work: the real input with ~1% noise (float tensors only). */
export function perturbInputs (inputs: NamedTensors, random: () => number): NamedTensors | undefined {
  const out: NamedTensors = {}
  for (const [name, t] of Object.entries(inputs)) {
    if (!(t.data instanceof Float32Array || t.data instanceof Float64Array)) return undefined
    let scale = 0
    for (const v of t.data) scale = Math.max(scale, Math.abs(v))
    const data = t.data.slice()
    for (let i = 0; i < data.length; i++) data[i] += (random() - 0.5) * 0.02 * (scale || 1)
    out[name] = createTensor(t.dtype, t.dims, data)
  }
  return out
}

export class Requester extends TypedEventTarget<RequesterEvents> {
  readonly book: ReputationBook
  readonly schedule: CanarySchedule
  /** Canary verdicts per (model, backend): a backend wrong everywhere is left out as a whole. */
  readonly health: BackendHealth
  private readonly components: RequesterComponents
  private readonly recent = new Map<string, Remembered>()
  private readonly recentLimit: number
  /** Canaries and re-verifications in flight. */
  private readonly background = new Set<Promise<void>>()
  private saving = false
  private saveAgain = false
  /** A write waiting for saveDelayMs, and how to start it now. */
  private saveTimer: ReturnType<typeof setTimeout> | undefined
  private saveNow: (() => void) | undefined
  /** Re-verifications run one after another, so a flag never floods the network. */
  private reverifying: Promise<void> = Promise.resolve()
  private readonly random: () => number
  /** observer|jobId|subject already weighed. */
  private readonly weighed = new Set<string>()

  constructor (components: RequesterComponents, init: RequesterInit = {}) {
    super()
    this.components = components
    this.book = components.records != null ? ReputationBook.fromRecords(components.records, init.trust) : new ReputationBook(init.trust)
    this.schedule = new CanarySchedule({ rate: init.canaryRate })
    // verdicts are rebuilt from the stored records' canary verdicts: a reload does not forget a broken backend
    this.health = components.health ?? BackendHealth.fromRecords(this.book.toRecords(), init.backendHealth)
    this.recentLimit = init.recentLimit ?? 128
    this.random = init.seed != null ? createRng(init.seed) : components.deps.random
  }

  private get deps (): RequesterDeps {
    return { ...this.components.deps, random: this.random, book: this.book }
  }

  /** The deps for a job on `modelHash`: peers whose backend canaries judged wrong on it are not candidates. */
  private depsFor (modelHash: string): RequesterDeps {
    const deps = this.deps
    return { ...deps, candidates: () => deps.candidates().filter(c => !this.health.isFaulty(modelHash, c.numericClass)) }
  }

  private track (p: Promise<void>): void {
    const tracked = p.finally(() => { this.background.delete(tracked) })
    this.background.add(tracked)
  }

  /** Runs a verified job; may follow it with a canary (in the background). */
  async request (init: VerifiedJobInit, options: { signal?: AbortSignal, onProgress?: (p: JobProgress) => void } = {}): Promise<VerifiedJobResult> {
    // flags raised by a job that then fails count too
    const flagged: string[] = []
    const outvoted: string[] = []
    let disputed = false
    const onProgress = (p: JobProgress): void => {
      if (p.type === 'flagged') flagged.push(p.peerId)
      if (p.type === 'outvoted') outvoted.push(p.peerId)
      if (p.type === 'disputed') disputed = true
      options.onProgress?.(p)
    }
    let result: VerifiedJobResult
    try {
      result = await runVerifiedJob(this.depsFor(init.modelHash), init, { ...options, onProgress })
    } catch (err: any) {
      // a dispute that found no answer means someone is wrong and the votes could not say who
      // (two backends disagreeing, say): a known answer can, so one canary of the same shape follows
      if (disputed && err?.name === 'NoQuorumError' && this.components.localRun != null) this.track(this.runCanary(init))
      throw err
    } finally {
      this.save()
      this.afterFlags(flagged)
      // an outvoted peer (a recheck's voter included) is suspect: its other
      // remembered answers are re-run too, before it is flagged
      for (const peerId of new Set(outvoted)) if (!flagged.includes(peerId)) this.queueReverify(peerId)
    }
    this.remember(result.jobId, { modelHash: init.modelHash, inputs: init.inputs, policy: init.policy, output: result.output, numericClass: result.numericClass, receiptText: result.receiptText })
    await this.shareDissent(result)
    if (this.components.localRun != null && this.schedule.next(this.random)) this.track(this.runCanary(init))
    return result
  }

  /** Waits for canaries and re-verifications still in flight, including those they start (tests, shutdown). */
  async settled (): Promise<void> {
    this.saveNow?.()
    while (this.background.size > 0) {
      await Promise.allSettled([...this.background])
      this.saveNow?.()
    }
  }

  /** A known-answer job shaped like `like` (same model, policy and replication mode). */
  async runCanary (like: VerifiedJobInit, options: { signal?: AbortSignal } = {}): Promise<void> {
    const localRun = this.components.localRun
    const inputs = perturbInputs(like.inputs, this.random)
    if (localRun == null || inputs == null) return
    let failed: string[] = []
    try {
      const expected = await localRun(like.modelHash, inputs, options)
      const canary = { modelHash: like.modelHash, inputHash: hashTensors(inputs), inputs, expected: expected.outputs, expectedClass: expected.numericClass, policy: like.policy }
      const before = new Set(this.flaggedPeers())
      const deps = this.depsFor(like.modelHash)
      // per-backend canaries: a backend no canary has reached yet on this model is aimed at first
      const classOf = new Map(deps.candidates().map(c => [c.peerId, c.numericClass]))
      const inProbation = this.schedule.firstWeight(this.book)
      const firstWeight = (peerId: string): number => {
        const numericClass = classOf.get(peerId)
        return inProbation(peerId) * (numericClass !== undefined ? this.health.canaryWeight(like.modelHash, numericClass) : 1)
      }
      const onProgress = (p: JobProgress): void => {
        if (p.type !== 'canary') return
        const verdict = this.health.observe(like.modelHash, p.numericClass, p.peerId, p.verdict)
        if (verdict === undefined) return
        log('backend %s is wrong on model %s: canaries failed on %d peers, passed on %d', verdict.backend, verdict.modelHash.slice(0, 12), verdict.failed.length, verdict.passed.length)
        this.emit('trust:backend', verdict)
      }
      const result = await runVerifiedJob(deps, { ...like, inputs, canary, firstWeight }, { ...options, onProgress }).catch((err: Error) => {
        log('canary job ended without an answer: %s', err.message)
        return undefined
      })
      failed = this.flaggedPeers().filter(p => !before.has(p))
      this.emit('canary:done', { jobId: result?.jobId, modelHash: like.modelHash, failed })
      this.afterFlags(failed)
    } catch (err: any) {
      this.emit('canary:done', { modelHash: like.modelHash, failed, error: String(err?.message ?? err) })
    } finally {
      this.save()
    }
  }

  /**
   * Tells other requesters about every peer outvoted in `result`, with the
   * evidence they can check themselves: its signed vote, its output and the
   * receipt it contradicts.
   */
  private async shareDissent (result: VerifiedJobResult): Promise<void> {
    const share = this.components.share
    if (share == null) return
    for (const peerId of result.dissenting) {
      const ballot = result.ballots.find(b => b.vote.body.peerId === peerId)
      if (ballot == null) continue
      try {
        const observation = await signObservation(this.components.deps.signer, { subject: peerId, outcome: 'dissented', jobId: result.jobId, modelHash: result.spec.modelHash, at: this.components.deps.now() })
        await share({ observation, evidence: { kind: 'contradiction', vote: ballot.vote, output: ballot.output, receiptText: result.receiptText, receiptOutputs: result.receiptOutputs } })
      } catch (err: any) {
        log('sharing an observation about %s failed: %s', peerId, err?.message)
      }
    }
  }

  /**
   * Weighs another requester's observation: only verifiable evidence moves
   * this book (a contradicted receipt counts as one dissent; two conflicting
   * signed votes flag). Claims without evidence, positive claims and repeats
   * are ignored. Returns what was done.
   */
  async receiveObservation (message: ObservationMessage): Promise<'ignored' | 'dissented' | 'flag'> {
    const { verifier, signer } = this.components.deps
    let obs
    try {
      obs = await verifyObservation(message.observation, verifier)
    } catch (err: any) {
      log('ignoring an observation: %s', err?.message)
      return 'ignored'
    }
    const b = obs.body
    const key = `${b.observer}|${b.jobId}|${b.subject}`
    if (b.observer === signer.peerId || b.subject === signer.peerId || this.weighed.has(key)) return 'ignored'
    this.weighed.add(key)
    const weight = await weighObservation(obs, message.evidence, verifier)
    if (weight.action === 'ignore') {
      log('ignoring an observation about %s: %s', b.subject, weight.reason)
      return 'ignored'
    }
    const now = this.components.deps.now()
    let flagged = false
    if (weight.action === 'flag') {
      if (!this.book.isFlagged(b.subject)) { this.book.flag(b.subject, weight.reason, now); flagged = true }
    } else {
      flagged = this.book.record(b.subject, 'dissented', { modelHash: b.modelHash, jobId: b.jobId, at: now })
    }
    this.emit('trust:observation', { subject: b.subject, observer: b.observer, action: weight.action, reason: weight.reason })
    this.save()
    if (flagged) this.afterFlags([b.subject])
    return weight.action
  }

  flaggedPeers (): string[] {
    return this.book.toRecords().filter(r => r.flagged).map(r => r.peerId)
  }

  private remember (jobId: string, r: Remembered): void {
    this.recent.set(jobId, r)
    while (this.recent.size > this.recentLimit) this.recent.delete(this.recent.keys().next().value as string)
  }

  /** Announces each newly flagged peer and queues the re-verification of its work in the background. */
  private afterFlags (peers: string[]): void {
    for (const peerId of new Set(peers)) {
      this.emit('trust:flagged', { peerId, reason: this.book.get(peerId)?.flaggedReason ?? 'flagged' })
      this.queueReverify(peerId)
    }
  }

  private queueReverify (peerId: string): void {
    const next = this.reverifying.then(async () => { await this.reverify(peerId) }).catch((err) => { log('re-verification of %s failed: %s', peerId, err?.message) })
    this.reverifying = next
    this.track(next)
  }

  /**
   * Re-runs a flagged or outvoted peer's recent accepted jobs (those still
   * remembered, each at most once) as REVERIFY_MODE jobs (3-of-3) without it
   * and without flagged peers; a job whose new answer disagrees with the
   * delivered one is retracted (`job:retracted`).
   */
  private async reverify (peerId: string): Promise<void> {
    const jobs = this.book.recentAccepted(peerId)
    for (const a of jobs) {
      const r = this.recent.get(a.jobId)
      if (r == null || r.reverified === true) continue
      r.reverified = true
      const exclude = new Set([...this.flaggedPeers(), peerId])
      const flagged: string[] = []
      const onProgress = (p: JobProgress): void => { if (p.type === 'flagged') flagged.push(p.peerId) }
      const again = await runVerifiedJob(this.depsFor(r.modelHash), { modelHash: r.modelHash, inputs: r.inputs, policy: r.policy, replicas: REVERIFY_MODE.replicas, quorum: REVERIFY_MODE.quorum, exclude, peerWait: 1_000 }, { onProgress }).catch((err: Error) => {
        log('re-verification of job %s ended without an answer: %s', a.jobId.slice(0, 12), err.message)
        return undefined
      })
      this.afterFlags(flagged)
      if (again == null) continue
      if (!outputsAgree(again.output, r.output, r.policy, again.numericClass, r.numericClass)) {
        log('job %s accepted with %s is retracted', a.jobId.slice(0, 12), peerId)
        const record = await this.signRetraction(a.jobId, r, `re-verification disagreed with the answer of ${peerId}`)
        this.emit('job:retracted', { jobId: a.jobId, peerId, ...(record !== undefined ? { record } : {}) })
        if (record !== undefined) await this.components.shareRetraction?.(record).catch((err: Error) => { log('sharing retraction of %s failed: %s', a.jobId.slice(0, 12), err.message) })
      }
    }
    this.save()
  }

  /** A signed retraction record for a remembered job's receipt, or undefined when none was kept or signing failed. */
  private async signRetraction (jobId: string, r: Remembered, reason: string): Promise<string | undefined> {
    if (r.receiptText === undefined) return undefined
    try {
      return serializeRecord(await signSettlement({ jobId, receiptText: r.receiptText, status: 'retracted', reason, at: this.deps.now(), signer: this.deps.signer }))
    } catch (err: any) {
      log('signing retraction of %s failed: %s', jobId.slice(0, 12), err?.message)
      return undefined
    }
  }

  /**
   * Saves the book in the background, off the job's critical path: one write
   * at a time, and calls meanwhile fold into one more write of the latest
   * book. `settled()` waits for it.
   */
  private save (): void {
    const persist = this.components.persist
    if (persist == null) return
    if (this.saving) { this.saveAgain = true; return }
    this.saving = true
    this.track((async () => {
      // changes within saveDelayMs fold into this write (settled() cuts the wait short)
      await new Promise<void>(resolve => {
        const go = (): void => { clearTimeout(this.saveTimer); this.saveTimer = undefined; this.saveNow = undefined; resolve() }
        this.saveNow = go
        this.saveTimer = setTimeout(go, this.components.saveDelayMs ?? 250)
      })
      do {
        this.saveAgain = false
        try {
          await persist(this.book.toRecords())
        } catch (err: any) {
          log('saving reputation failed: %s', err?.message)
        }
      } while (this.saveAgain)
    })().finally(() => { this.saving = false }))
  }
}
