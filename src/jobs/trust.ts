/**
 * A requester with memory: the reputation book (persisted by the caller),
 * canary jobs mixed into real traffic, and re-verification of a flagged
 * peer's recent accepted work.
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
import { signObservation, verifyObservation, weighObservation } from '../consensus/observation.js'
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
  /** Accepted jobs kept (inputs and output) for re-verification. @default 128 */
  recentLimit?: number
}

export interface RequesterComponents {
  deps: Omit<RequesterDeps, 'book'>
  /** Reputation records loaded from storage. */
  records?: Iterable<TrustRecord>
  /** Saves changed reputation records. */
  persist?: (records: TrustRecord[]) => Promise<void>
  /** Shares an observation with other requesters (gossip); resolves false when it was not sent. */
  share?: (message: ObservationMessage) => Promise<boolean>
  /** Computes known answers for canaries (the requester's own runtime); without it no canaries are sent. */
  localRun?: (modelHash: string, inputs: NamedTensors, options: { signal?: AbortSignal }) => Promise<{ outputs: NamedTensors, numericClass: string }>
}

export interface RequesterEvents {
  'trust:flagged': CustomEvent<{ peerId: string, reason: string }>
  'job:retracted': CustomEvent<{ jobId: string, peerId: string }>
  'canary:done': CustomEvent<{ jobId?: string, modelHash: string, failed: string[], error?: string }>
  /** Someone else's observation moved this book (`dissented` or `flag`). */
  'trust:observation': CustomEvent<{ subject: string, observer: string, action: 'dissented' | 'flag', reason: string }>
}

interface Remembered { modelHash: string, inputs: NamedTensors, policy: ComparisonPolicy, output: NamedTensors, numericClass: string }

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
  private readonly components: RequesterComponents
  private readonly recent = new Map<string, Remembered>()
  private readonly recentLimit: number
  private readonly canaries = new Set<Promise<void>>()
  /** observer|jobId|subject already weighed. */
  private readonly weighed = new Set<string>()

  constructor (components: RequesterComponents, init: RequesterInit = {}) {
    super()
    this.components = components
    this.book = components.records != null ? ReputationBook.fromRecords(components.records, init.trust) : new ReputationBook(init.trust)
    this.schedule = new CanarySchedule({ rate: init.canaryRate })
    this.recentLimit = init.recentLimit ?? 128
  }

  private get deps (): RequesterDeps {
    return { ...this.components.deps, book: this.book }
  }

  /** Runs a verified job; may follow it with a canary (in the background). */
  async request (init: VerifiedJobInit, options: { signal?: AbortSignal, onProgress?: (p: JobProgress) => void } = {}): Promise<VerifiedJobResult> {
    let result: VerifiedJobResult
    try {
      result = await runVerifiedJob(this.deps, init, options)
    } finally {
      await this.save()
    }
    this.remember(result.jobId, { modelHash: init.modelHash, inputs: init.inputs, policy: init.policy, output: result.output, numericClass: result.numericClass })
    await this.shareDissent(result)
    await this.afterFlags(result.flagged)
    if (this.components.localRun != null && this.schedule.next(this.components.deps.random)) {
      const p = this.runCanary(init).finally(() => { this.canaries.delete(p) })
      this.canaries.add(p)
    }
    return result
  }

  /** Waits for canaries still in flight (tests, shutdown). */
  async settled (): Promise<void> {
    while (this.canaries.size > 0) await Promise.allSettled([...this.canaries])
  }

  /** A known-answer job shaped like `like` (same model, policy and replication mode). */
  async runCanary (like: VerifiedJobInit, options: { signal?: AbortSignal } = {}): Promise<void> {
    const localRun = this.components.localRun
    const inputs = perturbInputs(like.inputs, this.components.deps.random)
    if (localRun == null || inputs == null) return
    let failed: string[] = []
    try {
      const expected = await localRun(like.modelHash, inputs, options)
      const canary = { modelHash: like.modelHash, inputHash: hashTensors(inputs), inputs, expected: expected.outputs, expectedClass: expected.numericClass, policy: like.policy }
      const before = new Set(this.flaggedPeers())
      const result = await runVerifiedJob(this.deps, { ...like, inputs, canary, firstWeight: this.schedule.firstWeight(this.book) }, options).catch((err: Error) => {
        log('canary job ended without an answer: %s', err.message)
        return undefined
      })
      failed = this.flaggedPeers().filter(p => !before.has(p))
      this.emit('canary:done', { jobId: result?.jobId, modelHash: like.modelHash, failed })
      await this.afterFlags(failed)
    } catch (err: any) {
      this.emit('canary:done', { modelHash: like.modelHash, failed, error: String(err?.message ?? err) })
    } finally {
      await this.save()
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
        await share({ observation, evidence: { kind: 'contradiction', vote: ballot.vote, output: ballot.output, receiptText: result.receiptText } })
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
    await this.save()
    if (flagged) await this.afterFlags([b.subject])
    return weight.action
  }

  flaggedPeers (): string[] {
    return this.book.toRecords().filter(r => r.flagged).map(r => r.peerId)
  }

  private remember (jobId: string, r: Remembered): void {
    this.recent.set(jobId, r)
    while (this.recent.size > this.recentLimit) this.recent.delete(this.recent.keys().next().value as string)
  }

  private async afterFlags (peers: string[]): Promise<void> {
    for (const peerId of peers) {
      this.emit('trust:flagged', { peerId, reason: this.book.get(peerId)?.flaggedReason ?? 'flagged' })
      await this.reverify(peerId).catch((err) => { log('re-verification of %s failed: %s', peerId, err.message) })
    }
  }

  /**
   * Re-runs the flagged peer's recent accepted jobs (those still remembered)
   * without it; a job whose new answer disagrees with the delivered one is
   * retracted (`job:retracted`).
   */
  private async reverify (peerId: string): Promise<void> {
    const jobs = this.book.recentAccepted(peerId)
    for (const a of jobs) {
      const r = this.recent.get(a.jobId)
      if (r == null) continue
      const exclude = new Set(this.flaggedPeers())
      const again = await runVerifiedJob(this.deps, { modelHash: r.modelHash, inputs: r.inputs, policy: r.policy, replicas: 2, quorum: 2, exclude, peerWait: 1_000 })
      if (!outputsAgree(again.output, r.output, r.policy, again.numericClass, r.numericClass)) {
        log('job %s accepted with %s is retracted', a.jobId.slice(0, 12), peerId)
        this.emit('job:retracted', { jobId: a.jobId, peerId })
      }
    }
  }

  private async save (): Promise<void> {
    try {
      await this.components.persist?.(this.book.toRecords())
    } catch (err: any) {
      log('saving reputation failed: %s', err?.message)
    }
  }
}
