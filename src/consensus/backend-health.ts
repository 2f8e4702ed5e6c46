/**
 * Backend verdicts from canaries. A runtime that is wrong the same way on
 * every peer that uses it (a WebGPU driver bug, a miscompiled WASM build)
 * makes its peers agree with each other, so a quorum drawn from them accepts
 * the wrong answer and reputation blames each peer alone, one flag at a time,
 * while fresh peers on the same backend keep being drawn. Known answers see
 * it: this book keeps each peer's latest canary verdict per (model, backend)
 * and judges the backend itself once its failures come from several peers and
 * outnumber its passes. A requester then stops drawing that backend's peers
 * for that model (newcomers included) and prefers other backends for its
 * canaries until it has seen them.
 *
 * Pure: no clock, no I/O. The requester (src/jobs/trust.ts) and the
 * simulation (sim/world.ts) feed it the same canary verdicts.
 *
 * @example
 * ```ts
 * const health = new BackendHealth()
 * const verdict = health.observe(modelHash, 'ort-web/webgpu/t1/chromium', peerId, 'canary-failed')
 * if (verdict != null) console.warn(`${verdict.backend} is wrong on ${verdict.modelHash}`)
 * health.isFaulty(modelHash, numericClass) // true: leave its peers out
 * ```
 */
import { backendOf } from './reputation.js'
import type { TrustRecord } from './reputation.js'
import type { CanaryVerdict } from './canary.js'
import type { NumericClass } from './types.js'

export interface BackendHealthInit {
  /**
   * Distinct peers that must have failed canaries on one backend (for one
   * model) before the backend itself is judged faulty: one peer failing is a
   * peer's fault, not its backend's. @default 2
   */
  minFailedPeers?: number
}

/** A backend judged wrong on one model: who failed and who passed its canaries (latest verdict per peer). */
export interface BackendVerdict {
  modelHash: string
  /** runtime/backend, e.g. `ort-web/webgpu` (backendOf). */
  backend: string
  failed: string[]
  passed: string[]
}

export const DEFAULT_MIN_FAILED_PEERS = 2

/**
 * Canary draw weight of a peer whose backend no canary has reached yet on the
 * model, against 1 for the others: with a few peers on a new backend, about
 * every other canary goes there until one has.
 */
export const UNSEEN_BACKEND_CANARY_WEIGHT = 4

interface Entry {
  /** Latest verdict per peer: true passed, false failed (near misses are neither). */
  byPeer: Map<string, boolean>
  faulty: boolean
}

export class BackendHealth {
  readonly minFailedPeers: number
  private readonly entries = new Map<string, Entry>()

  constructor (init: BackendHealthInit = {}) {
    const min = init.minFailedPeers ?? DEFAULT_MIN_FAILED_PEERS
    if (!Number.isSafeInteger(min) || min < 1) throw new RangeError(`minFailedPeers must be an integer >= 1, got ${min}`)
    this.minFailedPeers = min
  }

  /**
   * Records one canary verdict. Returns the verdict when this observation
   * turned the backend faulty for the model (once per backend and model),
   * otherwise undefined. A near miss (numeric drift just outside the policy)
   * says nothing about the backend and is not counted.
   */
  observe (modelHash: string, numericClass: NumericClass, peerId: string, verdict: CanaryVerdict): BackendVerdict | undefined {
    if (verdict === 'near-miss') return undefined
    const backend = backendOf(numericClass)
    const e = this.entry(modelHash, backend)
    e.byPeer.set(peerId, verdict === 'canary-passed')
    return this.judge(e, modelHash, backend)
  }

  private entry (modelHash: string, backend: string): Entry {
    const key = `${modelHash}|${backend}`
    let e = this.entries.get(key)
    if (e === undefined) {
      e = { byPeer: new Map(), faulty: false }
      this.entries.set(key, e)
    }
    return e
  }

  /** The rule: failures from at least `minFailedPeers` peers, more than the passes; once faulty, it stays so. */
  private judge (e: Entry, modelHash: string, backend: string): BackendVerdict | undefined {
    if (e.faulty) return undefined
    const { failed, passed } = split(e)
    if (failed.length < this.minFailedPeers || failed.length <= passed.length) return undefined
    e.faulty = true
    return { modelHash, backend, failed, passed }
  }

  /** True when the backend of `numericClass` has been judged faulty on `modelHash`. */
  isFaulty (modelHash: string, numericClass: NumericClass): boolean {
    return this.entries.get(`${modelHash}|${backendOf(numericClass)}`)?.faulty === true
  }

  /** How many peers on this class's backend have a canary verdict on `modelHash`. */
  checkedPeers (modelHash: string, numericClass: NumericClass): number {
    return this.entries.get(`${modelHash}|${backendOf(numericClass)}`)?.byPeer.size ?? 0
  }

  /** Per-backend canaries: a canary's draw weight for a peer of `numericClass` (UNSEEN_BACKEND_CANARY_WEIGHT while no canary has reached its backend on the model). */
  canaryWeight (modelHash: string, numericClass: NumericClass): number {
    return this.checkedPeers(modelHash, numericClass) === 0 ? UNSEEN_BACKEND_CANARY_WEIGHT : 1
  }

  /**
   * A book rebuilt from stored reputation records (their `canaryVerdicts`), so
   * that a verdict survives a reload; no verdict is reported again.
   */
  static fromRecords (records: Iterable<TrustRecord>, init: BackendHealthInit = {}): BackendHealth {
    const health = new BackendHealth(init)
    for (const r of records) {
      for (const [key, passed] of Object.entries(r.canaryVerdicts ?? {})) {
        const bar = key.indexOf('|')
        if (bar <= 0 || typeof passed !== 'boolean') continue
        health.entry(key.slice(0, bar), key.slice(bar + 1)).byPeer.set(r.peerId, passed)
      }
    }
    // judged once on the whole, so the verdict does not depend on the order records were read in
    for (const [key, e] of health.entries) {
      const bar = key.indexOf('|')
      health.judge(e, key.slice(0, bar), key.slice(bar + 1))
    }
    return health
  }

  /** Every backend judged faulty so far. */
  verdicts (): BackendVerdict[] {
    const out: BackendVerdict[] = []
    for (const [key, e] of this.entries) {
      if (!e.faulty) continue
      const [modelHash, backend] = key.split('|')
      out.push({ modelHash, backend, ...split(e) })
    }
    return out
  }
}

function split (e: Entry): { failed: string[], passed: string[] } {
  const failed: string[] = []
  const passed: string[] = []
  for (const [peerId, ok] of e.byPeer) (ok ? passed : failed).push(peerId)
  return { failed: failed.sort(), passed: passed.sort() }
}
