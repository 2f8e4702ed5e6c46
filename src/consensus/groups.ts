/**
 * Sybil grouping: a quorum takes at most one vote per group.
 *
 * A browser cannot prove it is one device, and a peer id costs nothing to
 * mint. What the requester CAN observe is where a direct link comes from, so
 * the default group is the network prefix of the direct WebRTC connection's
 * remote address (IPv4 /24, IPv6 /48). One attacker with 50 tabs on one
 * machine or one home connection then holds one vote, not 50.
 *
 * Limits (say them out loud): this is a cost, not a proof. It fails open for
 * an attacker with addresses in many networks (cloud VMs, residential proxies,
 * a botnet), and it fails closed-ish for honest peers behind one carrier-grade
 * NAT, one campus or one office, who then count as a single vote (they are
 * still selected, just never two of them in one quorum). A relayed-only peer
 * has no observable address: it is grouped by its relay, which is coarse but
 * conservative. Origins announced by a peer are self-reported and only useful
 * to group peers that WANT to be told apart (e.g. an embedding site's widget).
 */
import type { Ballot } from './types.js'

/** Maps a peer id to its group key; undefined means the peer is its own group. */
export type GroupOf = (peerId: string) => string | undefined

/** What the requester observed about a peer's link. */
export interface LinkObservation {
  /** Remote IP of the direct (WebRTC or webrtc-direct) connection, if there is one. */
  remoteAddress?: string
  /** Peer id of the relay the peer reserved a slot on, for relayed-only peers. */
  relay?: string
}

/**
 * Group key from an observed link: `ip4:a.b.c` (/24), `ip6:xxxx:xxxx:xxxx` (/48),
 * `relay:<id>` when there is no direct address, undefined when nothing is known.
 */
export function groupFromLink (link: LinkObservation): string | undefined {
  const a = link.remoteAddress?.trim()
  if (a !== undefined && a !== '') {
    const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a)
    if (v4 !== null) return `ip4:${v4[1]}.${v4[2]}.${v4[3]}`
    const v6 = expandIpv6(a)
    if (v6 !== undefined) {
      // an IPv4-mapped address groups as the IPv4 it maps
      if (v6.slice(0, 5).every((h) => h === '0') && v6[5] === 'ffff') {
        const hi = parseInt(v6[6], 16)
        const lo = parseInt(v6[7], 16)
        return `ip4:${hi >> 8}.${hi & 255}.${lo >> 8}`
      }
      return `ip6:${v6.slice(0, 3).join(':')}`
    }
    return `addr:${a.toLowerCase()}`
  }
  if (link.relay !== undefined && link.relay !== '') return `relay:${link.relay}`
  return undefined
}

function expandIpv6 (a: string): string[] | undefined {
  const s = a.replace(/^\[|\]$/g, '').split('%')[0].toLowerCase()
  if (!/^[0-9a-f:.]+$/.test(s) || !s.includes(':')) return undefined
  const parts = s.split('::')
  if (parts.length > 2) return undefined
  const toHex = (p: string): string[] => {
    if (p === '') return []
    const out: string[] = []
    for (const h of p.split(':')) {
      const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h)
      if (v4 !== null) {
        out.push(((+v4[1] << 8) | +v4[2]).toString(16), ((+v4[3] << 8) | +v4[4]).toString(16))
      } else {
        if (!/^[0-9a-f]{1,4}$/.test(h)) return ['x']
        out.push(parseInt(h, 16).toString(16))
      }
    }
    return out
  }
  const head = toHex(parts[0])
  const tail = parts.length === 2 ? toHex(parts[1]) : []
  if (head.includes('x') || tail.includes('x')) return undefined
  const missing = 8 - head.length - tail.length
  if (parts.length === 1 ? missing !== 0 : missing < 1) return undefined
  return [...head, ...Array<string>(parts.length === 2 ? missing : 0).fill('0'), ...tail]
}

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
