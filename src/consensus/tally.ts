/**
 * Quorum tally over ballots (vote + output).
 *
 * Semantics, in order:
 * 1. Ballots whose output does not hash to the vote's `outputHash`, and (when
 *    `verifiedPeers` is given) ballots from peers outside that set, are
 *    `rejected` and play no further part.
 * 2. One vote per peer: the first remaining ballot of a peer id counts, later
 *    ones are reported as `duplicates` (a peer may not change its answer).
 * 3. Agreement under a tolerance is not transitive, so there are no global
 *    equivalence classes. Instead every distinct (outputHash, numericClass) is
 *    a candidate centre and its cluster is the set of ballots agreeing with it
 *    (`outputsAgree(centre, ballot)`). The best cluster is the largest; ties go
 *    to the centre more ballots match byte for byte, then to the lower
 *    outputHash, then to the lower numericClass. The result does not depend on
 *    ballot order (except for which duplicate counts).
 * 4. `accepted` when the best cluster has >= quorum ballots and no cluster
 *    disjoint from it also has >= quorum (that is a `conflict`: two
 *    incompatible answers each with a quorum; it can only happen when
 *    2 * quorum <= replicas, and more votes cannot resolve it).
 *    Acceptance is decided on the votes at hand: with `outstanding` replicas
 *    still running, a later disjoint quorum is only possible in that same
 *    2 * quorum <= replicas case, which the requester opted into.
 * 5. Otherwise `pending` while a quorum is still reachable with `outstanding`
 *    more votes, else `inconclusive`. For transitive policies (topk, ctc-text,
 *    mask with maxMismatch 0) reachable means best + outstanding >= quorum;
 *    for the others a later output can bridge existing ones, so the bound is
 *    counted ballots + outstanding >= quorum.
 */
import { InvalidMessageError } from '../errors.js'
import { hashTensors } from '../tensor/index.js'
import { isTransitive, outputsAgree } from './compare.js'
import type { Ballot, ComparisonPolicy, NumericClass } from './types.js'
import type { NamedTensors } from '../tensor/index.js'

export interface TallyInput {
  ballots: readonly Ballot[]
  policy: ComparisonPolicy
  /** Agreeing votes needed to accept (integer >= 1). */
  quorum: number
  /**
   * Replicas dispatched that have not answered yet (integer >= 0).
   * @default 0
   */
  outstanding?: number
  /**
   * When given, only ballots from these peer ids count: the peers the job was
   * sent to whose votes passed verifyVote. Tally does not check signatures.
   */
  verifiedPeers?: ReadonlySet<string>
}

export interface RejectedBallot {
  ballot: Ballot
  reason: 'unverified-peer' | 'output-hash-mismatch'
}

export interface Cluster {
  /** The centre's output hash (what would be accepted). */
  outputHash: string
  numericClass: NumericClass
  output: NamedTensors
  ballots: Ballot[]
}

interface TallyCommon {
  /** Later ballots from a peer that had already voted (ignored). */
  duplicates: Ballot[]
  rejected: RejectedBallot[]
}

export type TallyResult = TallyCommon & (
  | {
    status: 'accepted'
    outputHash: string
    output: NamedTensors
    /** Numeric class of the accepted output (the cluster centre). Receipts record it. */
    numericClass: NumericClass
    agreeing: Ballot[]
    dissenting: Ballot[]
  }
  | {
    status: 'pending' | 'inconclusive'
    /** Size of the largest cluster so far (0 without ballots). */
    best: number
    /** Further agreeing votes the largest cluster needs: quorum - best. */
    needed: number
  }
  | {
    status: 'conflict'
    /** Two disjoint clusters that each reached quorum, the best first. */
    clusters: [Cluster, Cluster]
  }
)

function cmpStr (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Tallies ballots into accepted / pending / conflict / inconclusive. Pure; see the module doc. */
export function tally (input: TallyInput): TallyResult {
  const { ballots, policy, quorum } = input
  const outstanding = input.outstanding ?? 0
  if (!Number.isSafeInteger(quorum) || quorum < 1) throw new InvalidMessageError(`quorum must be an integer >= 1, got ${quorum}`)
  if (!Number.isSafeInteger(outstanding) || outstanding < 0) throw new InvalidMessageError(`outstanding must be an integer >= 0, got ${outstanding}`)

  const rejected: RejectedBallot[] = []
  const duplicates: Ballot[] = []
  const counted: Ballot[] = []
  const seen = new Set<string>()
  for (const ballot of ballots) {
    const peer = ballot.vote.body.peerId
    if (input.verifiedPeers !== undefined && !input.verifiedPeers.has(peer)) {
      rejected.push({ ballot, reason: 'unverified-peer' })
    } else if (hashTensors(ballot.output) !== ballot.vote.body.outputHash) {
      rejected.push({ ballot, reason: 'output-hash-mismatch' })
    } else if (seen.has(peer)) {
      duplicates.push(ballot)
    } else {
      seen.add(peer)
      counted.push(ballot)
    }
  }
  const common: TallyCommon = { duplicates, rejected }

  // One centre per distinct (outputHash, numericClass); the class matters for `exact`.
  const centres = new Map<string, Ballot>()
  for (const b of counted) {
    const key = `${b.vote.body.outputHash}/${b.vote.body.numericClass}`
    if (!centres.has(key)) centres.set(key, b)
  }
  const clusters: Array<Cluster & { identical: number }> = []
  for (const centre of centres.values()) {
    const c = centre.vote.body
    const members = counted.filter((b) => outputsAgree(centre.output, b.output, policy, c.numericClass, b.vote.body.numericClass))
    const identical = members.filter((b) => b.vote.body.outputHash === c.outputHash).length
    clusters.push({ outputHash: c.outputHash, numericClass: c.numericClass, output: centre.output, ballots: members, identical })
  }
  clusters.sort((x, y) => (y.ballots.length - x.ballots.length) || (y.identical - x.identical) ||
    cmpStr(x.outputHash, y.outputHash) || cmpStr(x.numericClass, y.numericClass))

  const best = clusters[0]
  const bestSize = best?.ballots.length ?? 0
  if (best !== undefined && bestSize >= quorum) {
    const inBest = new Set(best.ballots)
    const rival = clusters.find((c) => c !== best && c.ballots.length >= quorum && c.ballots.every((b) => !inBest.has(b)))
    if (rival !== undefined) {
      return { ...common, status: 'conflict', clusters: [strip(best), strip(rival)] }
    }
    return {
      ...common,
      status: 'accepted',
      outputHash: best.outputHash,
      output: best.output,
      numericClass: best.numericClass,
      agreeing: best.ballots,
      dissenting: counted.filter((b) => !inBest.has(b))
    }
  }
  const ceiling = isTransitive(policy) ? bestSize + outstanding : counted.length + outstanding
  return { ...common, status: ceiling >= quorum && outstanding > 0 ? 'pending' : 'inconclusive', best: bestSize, needed: quorum - bestSize }
}

function strip (c: Cluster & { identical: number }): Cluster {
  return { outputHash: c.outputHash, numericClass: c.numericClass, output: c.output, ballots: c.ballots }
}
