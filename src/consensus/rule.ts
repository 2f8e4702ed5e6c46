/**
 * The acceptance rule on counts, shared by the job run (jobrun.ts, which
 * clusters the votes first) and receipt verification (receipt.ts, which
 * reads the counts off a receipt): with d dissenting votes an answer needs
 * max(quorum, 2d + 1) agreeing ones, never fewer than `quorum`.
 *
 * Under this rule no rival answer can meet the rule as well: it has at most
 * d < 2d + 1 votes. So a receipt cannot hide a rival answer, and a job with
 * dissent is never answered at once.
 */

/** Agreeing votes an answer needs against `dissenting` others: `quorum`, or max(quorum, 2d + 1) under dissent. */
export function requiredAgreeing (quorum: number, dissenting: number): number {
  return dissenting === 0 ? quorum : Math.max(quorum, 2 * dissenting + 1)
}

export interface CountsInput {
  agreeing: number
  dissenting: number
  quorum: number
  /** Replicas asked that have not answered or failed yet. */
  outstanding: number
  /** Replicas asked so far, all reasons together. */
  dispatched: number
  maxReplicas: number
  /** A planned recheck not asked yet. */
  recheckPending: boolean
}

export type CountsDecision =
  | { kind: 'accept', required: number }
  | { kind: 'wait' }
  | { kind: 'dispatch', add: number, reason: 'recheck' | 'replace' | 'dispute' }
  | { kind: 'fail', detail: string }

/**
 * The acceptance rule on counts: what to do with `agreeing` votes for the
 * best answer against `dissenting` others. Receipt verification calls it with
 * nothing outstanding and no room left: a receipt holds iff it says `accept`.
 */
export function judgeCounts (c: CountsInput): CountsDecision {
  const { agreeing: a, dissenting: d } = c
  const required = requiredAgreeing(c.quorum, d)
  const room = c.maxReplicas - c.dispatched
  const more = (add: number, reason: 'recheck' | 'replace' | 'dispute'): CountsDecision => {
    if (add <= room) return { kind: 'dispatch', add, reason }
    return {
      kind: 'fail',
      detail: d > 0
        ? `${a} agree, ${d} dissent: the rule needs ${required} agreeing votes, cap of ${c.maxReplicas} replicas reached`
        : `${a} of ${required} agreeing votes after ${c.dispatched} replicas (cap ${c.maxReplicas})`
    }
  }
  if (a >= required) {
    if (c.outstanding > 0) return { kind: 'wait' }
    if (d === 0 && c.recheckPending) return more(1, 'recheck')
    return { kind: 'accept', required }
  }
  const short = required - a - c.outstanding
  if (short <= 0) return { kind: 'wait' }
  return more(short, d > 0 ? 'dispute' : 'replace')
}
