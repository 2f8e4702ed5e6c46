import { describe, expect, it } from 'vitest'
import { hashTensors } from '../tensor/index.js'
import { tally } from './tally.js'
import { CLASS_NODE, CLASS_WEB, f32, f64, fakeBallot, fakePeer, out } from './test-fixtures.js'
import type { TallyResult } from './tally.js'
import type { Ballot, ComparisonPolicy } from './types.js'

const X = out(f32([0.1, 0.9]))
const Y = out(f32([0.9, 0.1]))
const Z = out(f32([0.5, 0.6]))
const EXACT: ComparisonPolicy = { kind: 'exact' }
const TOL: ComparisonPolicy = { kind: 'tolerance', atol: 0.7, rtol: 0 }

const peers = (bs: Ballot[]): string[] => bs.map((b) => b.vote.body.peerId)

function accepted (r: TallyResult): Extract<TallyResult, { status: 'accepted' }> {
  if (r.status !== 'accepted') throw new Error(`expected accepted, got ${r.status}`)
  return r
}

describe('tally', () => {
  it('2 vs 1 with quorum 2: accepts the majority and lists the dissenter', () => {
    const r = accepted(tally({ ballots: [fakeBallot('a', X), fakeBallot('b', Y), fakeBallot('c', X)], policy: EXACT, quorum: 2 }))
    expect(r.outputHash).toBe(hashTensors(X))
    expect(r.output).toBe(X)
    expect(r.numericClass).toBe(CLASS_WEB)
    expect(peers(r.agreeing)).toEqual([fakePeer('a'), fakePeer('c')])
    expect(peers(r.dissenting)).toEqual([fakePeer('b')])
    expect(r.duplicates).toEqual([])
    expect(r.rejected).toEqual([])
  })

  it('accepts as soon as quorum is reached even with replicas outstanding', () => {
    const r = tally({ ballots: [fakeBallot('a', X), fakeBallot('b', X)], policy: EXACT, quorum: 2, outstanding: 1 })
    expect(r.status).toBe('accepted')
  })

  it('1-1-1 with quorum 2 and nothing outstanding is inconclusive', () => {
    const r = tally({ ballots: [fakeBallot('a', X), fakeBallot('b', Y), fakeBallot('c', Z)], policy: EXACT, quorum: 2 })
    expect(r).toMatchObject({ status: 'inconclusive', best: 1, needed: 1 })
  })

  it('1-1 with quorum 2 and one replica outstanding is pending', () => {
    const r = tally({ ballots: [fakeBallot('a', X), fakeBallot('b', Y)], policy: EXACT, quorum: 2, outstanding: 1 })
    expect(r).toMatchObject({ status: 'pending', best: 1, needed: 1 })
  })

  it('missing votes: no ballots is pending while replicas run and inconclusive after', () => {
    expect(tally({ ballots: [], policy: EXACT, quorum: 2, outstanding: 3 })).toMatchObject({ status: 'pending', best: 0, needed: 2 })
    expect(tally({ ballots: [], policy: EXACT, quorum: 2, outstanding: 0 })).toMatchObject({ status: 'inconclusive', best: 0, needed: 2 })
    expect(tally({ ballots: [fakeBallot('a', X)], policy: EXACT, quorum: 3, outstanding: 1 })).toMatchObject({ status: 'inconclusive', best: 1, needed: 2 })
    expect(tally({ ballots: [fakeBallot('a', X)], policy: EXACT, quorum: 3, outstanding: 2 })).toMatchObject({ status: 'pending', best: 1, needed: 2 })
  })

  it('quorum 1: a single vote is accepted', () => {
    const r = accepted(tally({ ballots: [fakeBallot('a', X)], policy: EXACT, quorum: 1, outstanding: 2 }))
    expect(peers(r.agreeing)).toEqual([fakePeer('a')])
    expect(r.dissenting).toEqual([])
  })

  it('quorum 1 with two different answers is a conflict (two disjoint quorums)', () => {
    const r = tally({ ballots: [fakeBallot('a', X), fakeBallot('b', Y)], policy: EXACT, quorum: 1 })
    expect(r.status).toBe('conflict')
    if (r.status !== 'conflict') return
    expect(new Set(r.clusters.map((c) => c.outputHash))).toEqual(new Set([hashTensors(X), hashTensors(Y)]))
  })

  it('2-2 with quorum 2 is a conflict; with quorum 3 it waits or gives up', () => {
    const ballots = [fakeBallot('a', X), fakeBallot('b', Y), fakeBallot('c', X), fakeBallot('d', Y)]
    expect(tally({ ballots, policy: EXACT, quorum: 2 }).status).toBe('conflict')
    expect(tally({ ballots, policy: EXACT, quorum: 3, outstanding: 1 })).toMatchObject({ status: 'pending', best: 2, needed: 1 })
    expect(tally({ ballots, policy: EXACT, quorum: 3, outstanding: 0 })).toMatchObject({ status: 'inconclusive', best: 2, needed: 1 })
  })

  it('3 vs 2 with quorum 2 is still a conflict: the losing side has its own quorum', () => {
    const ballots = [fakeBallot('a', X), fakeBallot('b', Y), fakeBallot('c', X), fakeBallot('d', Y), fakeBallot('e', X)]
    const r = tally({ ballots, policy: EXACT, quorum: 2 })
    expect(r.status).toBe('conflict')
    if (r.status === 'conflict') expect(r.clusters[0].outputHash).toBe(hashTensors(X))
    expect(tally({ ballots, policy: EXACT, quorum: 3 }).status).toBe('accepted')
  })

  it('a tie is broken the same way whatever the ballot order', () => {
    // tolerance chain a~b, b~c, a!~c, c~d: clusters a{a,b} b{a,b,c} c{b,c,d} d{c,d}
    const vals = [0, 0.6, 1.2, 1.8]
    const ballots = vals.map((v, i) => fakeBallot(`p${i}`, out(f64([v]))))
    const orders = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]]
    const results = orders.map((o) => accepted(tally({ ballots: o.map((i) => ballots[i]), policy: TOL, quorum: 3 })))
    // b and c tie at 3; the lower outputHash wins
    const expected = [hashTensors(out(f64([0.6]))), hashTensors(out(f64([1.2])))].sort()[0]
    for (const r of results) {
      expect(r.outputHash).toBe(expected)
      expect(r.agreeing).toHaveLength(3)
      expect(r.dissenting).toHaveLength(1)
    }
  })

  it('prefers the centre more ballots match byte for byte when cluster sizes tie', () => {
    // centre 0 and centre 0.6 both gather all three under atol 0.7; 0 has two exact copies
    const ballots = [fakeBallot('a', out(f64([0.6]))), fakeBallot('b', out(f64([0]))), fakeBallot('c', out(f64([0])))]
    const r = accepted(tally({ ballots, policy: TOL, quorum: 2 }))
    expect(r.outputHash).toBe(hashTensors(out(f64([0]))))
    expect(r.agreeing).toHaveLength(3)
  })

  it('non-transitive tolerance: a middle output bridges two that disagree', () => {
    const ballots = [fakeBallot('a', out(f64([0]))), fakeBallot('c', out(f64([1.2])))]
    // 0 and 1.2 disagree; a future 0.6 could make a cluster of 3
    expect(tally({ ballots, policy: TOL, quorum: 3, outstanding: 1 })).toMatchObject({ status: 'pending', best: 1 })
    const r = accepted(tally({ ballots: [...ballots, fakeBallot('b', out(f64([0.6])))], policy: TOL, quorum: 3 }))
    expect(r.outputHash).toBe(hashTensors(out(f64([0.6]))))
  })

  it('transitive policies bound reachability by the best cluster', () => {
    // argmax 1 vs argmax 0: no third vote can join both, so quorum 3 is out of reach
    const ballots = [fakeBallot('a', X), fakeBallot('b', Y)]
    expect(tally({ ballots, policy: { kind: 'topk', k: 1 }, quorum: 3, outstanding: 1 }).status).toBe('inconclusive')
    expect(tally({ ballots, policy: { kind: 'topk', k: 1 }, quorum: 2, outstanding: 1 }).status).toBe('pending')
  })

  it('tolerance edges decide membership: just inside counts, just outside dissents', () => {
    const policy: ComparisonPolicy = { kind: 'tolerance', atol: 0.25, rtol: 0 }
    const inside = tally({ ballots: [fakeBallot('a', out(f64([1]))), fakeBallot('b', out(f64([1.25])))], policy, quorum: 2 })
    expect(inside.status).toBe('accepted')
    const outside = tally({ ballots: [fakeBallot('a', out(f64([1]))), fakeBallot('b', out(f64([1.25 + 2 ** -40])))], policy, quorum: 2 })
    expect(outside.status).toBe('inconclusive')
  })

  it('decoded policies accept different bytes with the same decision', () => {
    const r = accepted(tally({ ballots: [fakeBallot('a', X), fakeBallot('b', Z), fakeBallot('c', Y)], policy: { kind: 'topk', k: 1 }, quorum: 2 }))
    expect(peers(r.agreeing).sort()).toEqual([fakePeer('a'), fakePeer('b')].sort())
    expect(peers(r.dissenting)).toEqual([fakePeer('c')])
  })

  it('exact: identical bytes from two numeric classes agree; close bytes agree only across classes', () => {
    const a = out(f64([1]))
    const near = out(f64([1 + 1e-6]))
    expect(tally({ ballots: [fakeBallot('a', a, CLASS_WEB), fakeBallot('b', a, CLASS_NODE)], policy: EXACT, quorum: 2 }).status).toBe('accepted')
    expect(tally({ ballots: [fakeBallot('a', a, CLASS_WEB), fakeBallot('b', near, CLASS_NODE)], policy: EXACT, quorum: 2 }).status).toBe('accepted')
    expect(tally({ ballots: [fakeBallot('a', a, CLASS_WEB), fakeBallot('b', near, CLASS_WEB)], policy: EXACT, quorum: 2 }).status).toBe('inconclusive')
  })

  it('one vote per peer: a repeated vote counts once and is reported', () => {
    const first = fakeBallot('a', X)
    const again = fakeBallot('a', X)
    const r = tally({ ballots: [first, again], policy: EXACT, quorum: 2 })
    expect(r).toMatchObject({ status: 'inconclusive', best: 1 })
    expect(r.duplicates).toEqual([again])
  })

  it('one vote per peer: a peer cannot change its answer, the first ballot counts', () => {
    const ballots = [fakeBallot('a', X), fakeBallot('b', Y), fakeBallot('a', Y)]
    const r = tally({ ballots, policy: EXACT, quorum: 2 })
    expect(r.status).toBe('inconclusive')
    expect(r.duplicates).toEqual([ballots[2]])
    const r2 = accepted(tally({ ballots: [...ballots, fakeBallot('c', X)], policy: EXACT, quorum: 2 }))
    expect(r2.outputHash).toBe(hashTensors(X))
  })

  it('rejects ballots whose output does not hash to the vote, and peers outside verifiedPeers', () => {
    const liar = fakeBallot('a', X, CLASS_WEB, hashTensors(Y))
    const stranger = fakeBallot('s', Y)
    const r = tally({ ballots: [liar, stranger, fakeBallot('b', Y)], policy: EXACT, quorum: 2, verifiedPeers: new Set([fakePeer('a'), fakePeer('b')]) })
    expect(r).toMatchObject({ status: 'inconclusive', best: 1 })
    expect(r.rejected).toEqual([{ ballot: liar, reason: 'output-hash-mismatch' }, { ballot: stranger, reason: 'unverified-peer' }])
    // without the filter the stranger's vote completes the quorum
    expect(tally({ ballots: [liar, stranger, fakeBallot('b', Y)], policy: EXACT, quorum: 2 }).status).toBe('accepted')
  })

  it('a rejected first ballot does not block the peer\'s valid one', () => {
    const bad = fakeBallot('a', X, CLASS_WEB, hashTensors(Y))
    const good = fakeBallot('a', X)
    const r = tally({ ballots: [bad, good, fakeBallot('b', X)], policy: EXACT, quorum: 2 })
    expect(r.status).toBe('accepted')
    expect(r.duplicates).toEqual([])
  })

  it('a policy that cannot apply (k beyond the axis) never accepts', () => {
    const r = tally({ ballots: [fakeBallot('a', X), fakeBallot('b', X)], policy: { kind: 'topk', k: 5 }, quorum: 2 })
    expect(r).toMatchObject({ status: 'inconclusive', best: 0 })
  })

  it.each([
    ['quorum 0', { quorum: 0 }],
    ['fractional quorum', { quorum: 1.5 }],
    ['negative outstanding', { quorum: 1, outstanding: -1 }],
    ['NaN outstanding', { quorum: 1, outstanding: NaN }]
  ])('rejects %s with InvalidMessageError', (_why, opts) => {
    expect(() => tally({ ballots: [], policy: EXACT, ...opts })).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
  })
})
