import { describe, expect, it } from 'vitest'
import { escalationPlan, isNearMiss, planJob, planReplication } from './replication.js'
import { ReputationBook } from './reputation.js'
import { createRng } from './select.js'
import { CLASS_NODE, CLASS_WEB, HASH_A, f32, fakePeer, out } from './test-fixtures.js'
import type { Candidate } from './replication.js'
import type { ComparisonPolicy } from './types.js'

const GPU = 'ort-web/webgpu/t1/chromium'
const EXACT: ComparisonPolicy = { kind: 'exact' }
const GOOD = out(f32([1, 2, 3]))
const GOOD_GPU = out(f32([1 + 3e-5, 2, 3]))
const BAD = out(f32([1, 2, 9]))

function establish (book: ReputationBook, peerId: string, numericClass: string, n = book.establishedAfter): void {
  for (let i = 0; i < n; i++) book.record(peerId, 'agreed', { modelHash: HASH_A, numericClass, at: i })
}

const cands = (n: number, numericClass = CLASS_WEB): Candidate[] =>
  Array.from({ length: n }, (_, i) => ({ peerId: fakePeer(`p${i}`), numericClass, group: `g${i}` }))

describe('planReplication', () => {
  it('sends a newcomer\'s job to three peers of distinct groups, preferring an established partner, with a recheck', () => {
    const book = new ReputationBook({ establishedAfter: 2 })
    const c = cands(6)
    establish(book, c[5].peerId, CLASS_WEB)
    for (let seed = 0; seed < 20; seed++) {
      const plan = planReplication({ book, candidates: c, modelHash: HASH_A, rng: createRng(seed), now: 0, firstWeight: (p) => (p === c[5].peerId ? 0 : 1) })!
      expect(plan).toMatchObject({ replicas: 3, quorum: 3, established: false, recheck: true })
      expect(plan.peers[1]).toBe(c[5].peerId)
      expect(new Set(plan.peers).size).toBe(3)
    }
  })

  it('sends an established peer\'s job alone, rechecked always in probation and at the floor rate after', () => {
    const book = new ReputationBook({ establishedAfter: 2 })
    const c = cands(1)
    establish(book, c[0].peerId, CLASS_WEB)
    const rng = createRng(1)
    const plan = (): ReturnType<typeof planReplication> => planReplication({ book, candidates: c, modelHash: HASH_A, rng, now: 0, probation: 3, floorRecheck: 0.25 })
    expect(plan()).toMatchObject({ peers: [c[0].peerId], replicas: 1, quorum: 1, established: true, recheck: true })
    establish(book, c[0].peerId, CLASS_WEB, 3)
    let rechecks = 0
    for (let i = 0; i < 4000; i++) if (plan()!.recheck) rechecks++
    expect(rechecks / 4000).toBeGreaterThan(0.22)
    expect(rechecks / 4000).toBeLessThan(0.28)
  })

  it('never picks flagged peers, nor two peers of one group; minReplicas turns singles off', () => {
    const book = new ReputationBook({ establishedAfter: 1 })
    const c: Candidate[] = [
      { peerId: fakePeer('a'), numericClass: CLASS_WEB, group: 'same' },
      { peerId: fakePeer('b'), numericClass: CLASS_WEB, group: 'same' },
      { peerId: fakePeer('c'), numericClass: CLASS_WEB, group: 'other' }
    ]
    book.flag(fakePeer('c'), 'test', 0)
    const plan = planReplication({ book, candidates: c, modelHash: HASH_A, rng: createRng(3), now: 0 })!
    expect(plan.peers).toHaveLength(1)
    expect(plan.peers[0]).not.toBe(fakePeer('c'))
    establish(book, fakePeer('a'), CLASS_WEB)
    establish(book, fakePeer('b'), CLASS_WEB)
    book.flag(fakePeer('c'), 'x', 0)
    expect(planReplication({ book, candidates: c.slice(0, 1), modelHash: HASH_A, rng: createRng(1), now: 0, minReplicas: 2 })!.peers).toHaveLength(1)
    const none = new ReputationBook()
    none.flag(fakePeer('a'), 'x', 0)
    expect(planReplication({ book: none, candidates: c.slice(0, 1), modelHash: HASH_A, rng: createRng(1), now: 0 })).toBeUndefined()
  })
})

describe('escalationPlan', () => {
  it('prefers an established peer on another backend than the voters, never a tried peer or used group', () => {
    const book = new ReputationBook({ establishedAfter: 1 })
    const c: Candidate[] = [
      { peerId: fakePeer('gpu1'), numericClass: GPU, group: 'g1' },
      { peerId: fakePeer('gpu2'), numericClass: GPU, group: 'g2' },
      { peerId: fakePeer('wasmNew'), numericClass: CLASS_WEB, group: 'g3' },
      { peerId: fakePeer('wasmOld'), numericClass: CLASS_WEB, group: 'g4' },
      { peerId: fakePeer('wasmSameGroup'), numericClass: CLASS_WEB, group: 'g1' }
    ]
    for (const p of c) establish(book, p.peerId, p.numericClass)
    book.record(fakePeer('wasmNew'), 'dissented', { modelHash: HASH_A, at: 1 })
    const tried = new Set([fakePeer('gpu1'), fakePeer('gpu2')])
    for (let seed = 0; seed < 10; seed++) {
      expect(escalationPlan({ book, candidates: c, modelHash: HASH_A, rng: createRng(seed), now: 0, tried, voterClasses: [GPU, GPU], count: 1 })).toEqual([fakePeer('wasmOld')])
    }
    expect(escalationPlan({ book, candidates: c, modelHash: HASH_A, rng: createRng(1), now: 0, tried, voterClasses: [GPU], count: 5 }).sort()).toEqual([fakePeer('wasmNew'), fakePeer('wasmOld')].sort())
  })
})

describe('isNearMiss', () => {
  it('a disagreement within 100x the policy is a near miss; decoded policies have none', () => {
    const near = out(f32([1 + 5e-4, 2, 3]))
    expect(isNearMiss(GOOD, near, EXACT, CLASS_WEB, CLASS_NODE)).toBe(true)
    expect(isNearMiss(GOOD, BAD, EXACT, CLASS_WEB, CLASS_NODE)).toBe(false)
    expect(isNearMiss(GOOD, GOOD_GPU, EXACT, CLASS_WEB, GPU)).toBe(false) // agrees: not a miss at all
    expect(isNearMiss(out(f32([1, 2], [1, 2])), out(f32([2, 1], [1, 2])), { kind: 'topk', k: 1 }, CLASS_WEB, CLASS_WEB)).toBe(false)
  })
})

describe('planJob', () => {
  it('fixed mode takes k random selectable peers; adaptive mode is planReplication', () => {
    const book = new ReputationBook()
    const c = cands(4)
    book.flag(c[0].peerId, 'x', 0)
    const fixed = planJob({ kind: 'fixed', replicas: 3, quorum: 2 }, { book, candidates: c, modelHash: HASH_A, rng: createRng(1), now: 0 })!
    expect(fixed).toMatchObject({ replicas: 3, quorum: 2, recheck: false })
    expect(fixed.peers.sort()).toEqual(c.slice(1).map((x) => x.peerId).sort())
    expect(() => planJob({ kind: 'fixed', replicas: 4, quorum: 2 }, { book, candidates: c, modelHash: HASH_A, rng: createRng(1), now: 0 })).toThrow(expect.objectContaining({ name: 'NotEnoughPeersError' }))
    expect(planJob({ kind: 'adaptive' }, { book, candidates: c, modelHash: HASH_A, rng: createRng(1), now: 0 })).toMatchObject({ replicas: 3, quorum: 3 })
  })
})

describe('live first (a peer with no open link may have left)', () => {
  const mixed = (): Candidate[] => cands(6).map((c, i) => ({ ...c, live: i % 2 === 0 }))
  const liveIds = (c: Candidate[]): string[] => c.filter((x) => x.live !== false).map((x) => x.peerId).sort()

  it('fixed mode draws only live peers while they are enough, and fills from the rest only what they cannot', () => {
    const book = new ReputationBook()
    const c = mixed()
    for (let seed = 0; seed < 20; seed++) {
      const three = planJob({ kind: 'fixed', replicas: 3, quorum: 2 }, { book, candidates: c, modelHash: HASH_A, rng: createRng(seed), now: 0 })!
      expect(three.peers.sort()).toEqual(liveIds(c))
      const five = planJob({ kind: 'fixed', replicas: 5, quorum: 3 }, { book, candidates: c, modelHash: HASH_A, rng: createRng(seed), now: 0 })!
      expect(five.peers.slice(0, 3).sort()).toEqual(liveIds(c))
      expect(new Set(five.peers).size).toBe(5)
    }
    expect(() => planJob({ kind: 'fixed', replicas: 7, quorum: 2 }, { book, candidates: c, modelHash: HASH_A, rng: createRng(1), now: 0 })).toThrow('need 7 peers, only 6 available')
  })

  it('adaptive mode draws its first peer and partners among live peers, and departed ones only when nobody live is left', () => {
    const book = new ReputationBook()
    const c = mixed()
    for (let seed = 0; seed < 20; seed++) {
      const plan = planReplication({ book, candidates: c, modelHash: HASH_A, rng: createRng(seed), now: 0 })!
      expect(plan.peers.slice().sort()).toEqual(liveIds(c))
    }
    const oneLive = c.map((x, i) => ({ ...x, live: i === 3 }))
    for (let seed = 0; seed < 20; seed++) {
      const plan = planReplication({ book, candidates: oneLive, modelHash: HASH_A, rng: createRng(seed), now: 0 })!
      expect(plan.peers[0]).toBe(c[3].peerId)
      expect(plan.peers).toHaveLength(3)
    }
  })

  it('escalation prefers a live peer over a better-tiered one that is not live', () => {
    const book = new ReputationBook({ establishedAfter: 1 })
    const c: Candidate[] = [
      { peerId: fakePeer('voter'), numericClass: GPU, group: 'g0' },
      { peerId: fakePeer('goneEstablished'), numericClass: CLASS_WEB, group: 'g1', live: false },
      { peerId: fakePeer('liveNewcomer'), numericClass: GPU, group: 'g2', live: true }
    ]
    establish(book, fakePeer('goneEstablished'), CLASS_WEB)
    for (let seed = 0; seed < 10; seed++) {
      expect(escalationPlan({ book, candidates: c, modelHash: HASH_A, rng: createRng(seed), now: 0, tried: new Set([fakePeer('voter')]), voterClasses: [GPU], count: 1 })).toEqual([fakePeer('liveNewcomer')])
    }
  })
})
