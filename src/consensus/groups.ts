/**
 * Sybil grouping: a quorum takes at most one vote per group.
 *
 * A browser cannot prove it is one device, and a peer id costs nothing to
 * mint. The tally and escalation accept a `GroupOf` map (e.g. the network
 * prefix a link comes from) and then count one vote per group. No shell
 * supplies one yet: a browser requester sees only ICE candidates it cannot
 * trust, so every peer is its own group. Say so wherever Sybil resistance is
 * claimed.
 */
import type { Ballot } from './types.js'

/** Maps a peer id to its group key; undefined means the peer is its own group. */
export type GroupOf = (peerId: string) => string | undefined

/** The group a peer counts in: its group key, or the peer id itself. */
export function groupKeyOf (peerId: string, groupOf?: GroupOf): string {
  const g = groupOf?.(peerId)
  return g === undefined ? `peer:${peerId}` : g
}

/**
 * Keeps the first ballot of each group (in the order given: the order votes
 * arrived), so a quorum never holds two votes from one group. Dropped
 * ballots are returned for logging; they are not evidence of anything.
 */
export function onePerGroup (ballots: readonly Ballot[], groupOf?: GroupOf): { kept: Ballot[], dropped: Ballot[] } {
  const seen = new Set<string>()
  const kept: Ballot[] = []
  const dropped: Ballot[] = []
  for (const b of ballots) {
    const g = groupKeyOf(b.vote.body.peerId, groupOf)
    if (seen.has(g)) {
      dropped.push(b)
    } else {
      seen.add(g)
      kept.push(b)
    }
  }
  return { kept, dropped }
}
