/**
 * Canary jobs: known-answer jobs a requester mixes into its real traffic.
 *
 * A canary must be indistinguishable on the wire from a real job, so:
 * - it is planned with the same planReplication as real jobs (same shapes:
 *   alone for an established peer, paired for a newcomer, same late
 *   rechecks), with a fresh nonce and an ordinary JobSpec;
 * - its input is never reused: a coalition remembers the input hashes it has
 *   seen, and a repeated input is a tell. The requester perturbs a real input
 *   for each canary (src/jobs/trust.ts) and computes the known answer in its
 *   own runtime: that local run is the real cost of canaries.
 * What a canary cannot hide: its input distribution. Canary inputs that look
 * unlike the requester's real inputs (all-zero images, random noise) are
 * recognisable; draw them from the same source as real work.
 *
 * Every voter on a canary is judged against the known answer under the job's
 * policy (the job run does it when given `canary`, jobrun.ts):
 * `canary-passed`, `canary-failed` (flags the peer; the requester then
 * re-verifies its recent accepted jobs) or `near-miss`.
 */
import { outputsAgree } from './compare.js'
import { isNearMiss } from './replication.js'
import type { ReputationBook } from './reputation.js'
import type { Rng } from './select.js'
import type { ComparisonPolicy, NumericClass } from './types.js'
import type { NamedTensors } from '../tensor/index.js'

export interface CanaryCase {
  modelHash: string
  inputHash: string
  /** The inputs to send (kept by the requester only). */
  inputs?: NamedTensors
  /** The known answer. */
  expected: NamedTensors
  /** Class the known answer was computed in (the exact policy compares bytes only within it). */
  expectedClass: NumericClass
  policy: ComparisonPolicy
}

export type CanaryVerdict = 'canary-passed' | 'canary-failed' | 'near-miss'

/** Judges one voter's output on a canary under the canary's policy. */
export function judgeCanary (c: CanaryCase, output: NamedTensors, numericClass: NumericClass): CanaryVerdict {
  if (outputsAgree(c.expected, output, c.policy, c.expectedClass, numericClass)) return 'canary-passed'
  return isNearMiss(c.expected, output, c.policy, c.expectedClass, numericClass) ? 'near-miss' : 'canary-failed'
}

export interface CanaryScheduleInit {
  /** Fraction of jobs that are canaries (requester-controlled). @default 0.05 */
  rate?: number
  /** Canaries a peer must pass before it stops being aimed at preferentially. @default 2 */
  probation?: number
  /** Extra draw weight for a peer still in probation. @default 8 */
  probationBoost?: number
}

export const DEFAULT_CANARY_RATE = 0.05
export const DEFAULT_CANARY_PROBATION = 2
export const DEFAULT_CANARY_PROBATION_BOOST = 8

/**
 * Decides whether the next job this requester issues is a canary, and how to
 * aim it: pass `firstWeight` to planReplication so peers that have passed
 * fewer than `probation` canaries are drawn first. Aiming changes who tends
 * to get canaries, never what a canary looks like.
 */
export class CanarySchedule {
  readonly rate: number
  readonly probation: number
  readonly probationBoost: number

  constructor (init: CanaryScheduleInit = {}) {
    this.rate = init.rate ?? DEFAULT_CANARY_RATE
    this.probation = init.probation ?? DEFAULT_CANARY_PROBATION
    this.probationBoost = init.probationBoost ?? DEFAULT_CANARY_PROBATION_BOOST
    if (!(this.rate >= 0 && this.rate < 1)) throw new RangeError(`canary rate must be in [0, 1), got ${this.rate}`)
  }

  /** Whether to issue a canary now (one rng draw). */
  next (rng: Rng): boolean {
    return rng() < this.rate
  }

  /** Draw weights for planReplication's first peer on a canary. */
  firstWeight (book: ReputationBook): (peerId: string) => number {
    return (peerId) => (book.canariesPassed(peerId) < this.probation ? this.probationBoost : 1)
  }
}
