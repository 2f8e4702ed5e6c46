import { describe, expect, it } from 'vitest'
import { createRng, selectPeers } from './select.js'

const PEERS = Array.from({ length: 10 }, (_, i) => `peer${i}`)

describe('selectPeers', () => {
  it('returns k distinct candidates', () => {
    for (let seed = 0; seed < 50; seed++) {
      const picked = selectPeers(PEERS, 4, createRng(seed))
      expect(picked).toHaveLength(4)
      expect(new Set(picked).size).toBe(4)
      for (const p of picked) expect(PEERS).toContain(p)
    }
  })

  it('never returns an excluded peer, and de-duplicates candidates', () => {
    const exclude = new Set(['peer0', 'peer1', 'peer2'])
    for (let seed = 0; seed < 50; seed++) {
      const picked = selectPeers([...PEERS, ...PEERS], 7, createRng(seed), exclude)
      expect(new Set(picked).size).toBe(7)
      for (const p of picked) expect(exclude.has(p)).toBe(false)
    }
  })

  it('is deterministic for a seed and independent of candidate order', () => {
    const a = selectPeers(PEERS, 3, createRng(42))
    const b = selectPeers([...PEERS].reverse(), 3, createRng(42))
    expect(b).toEqual(a)
    expect(selectPeers(PEERS, 3, createRng(43))).not.toEqual(a)
  })

  it('picks each peer about equally often', () => {
    const rng = createRng(new Uint8Array([7]))
    const counts = new Map(PEERS.map((p) => [p, 0]))
    const rounds = 20_000
    for (let i = 0; i < rounds; i++) for (const p of selectPeers(PEERS, 3, rng)) counts.set(p, (counts.get(p) ?? 0) + 1)
    const expected = rounds * 3 / PEERS.length // 6000
    for (const n of counts.values()) expect(Math.abs(n - expected)).toBeLessThan(expected * 0.05)
  })

  it('uses the whole pool when k equals its size, and nothing for k = 0', () => {
    expect(selectPeers(PEERS, 10, createRng(1)).sort()).toEqual([...PEERS].sort())
    expect(selectPeers(PEERS, 0, createRng(1))).toEqual([])
  })

  it('throws NotEnoughPeersError when the pool is too small', () => {
    expect(() => selectPeers(['a', 'b', 'a'], 3, createRng(1))).toThrow(expect.objectContaining({ name: 'NotEnoughPeersError' }))
    expect(() => selectPeers(PEERS, 9, createRng(1), new Set(['peer0', 'peer1']))).toThrow(expect.objectContaining({ name: 'NotEnoughPeersError' }))
  })

  it('rejects a bad k or an rng outside [0, 1)', () => {
    expect(() => selectPeers(PEERS, -1, createRng(1))).toThrow(RangeError)
    expect(() => selectPeers(PEERS, 1.5, createRng(1))).toThrow(RangeError)
    expect(() => selectPeers(PEERS, 2, () => 1)).toThrow(RangeError)
    expect(() => selectPeers(PEERS, 2, () => NaN)).toThrow(RangeError)
    // the extremes of [0, 1) are fine
    expect(selectPeers(PEERS, 2, () => 0)).toHaveLength(2)
    expect(selectPeers(PEERS, 2, () => 1 - 2 ** -53)).toHaveLength(2)
  })
})

describe('createRng', () => {
  it('repeats its sequence for the same seed and differs across seeds', () => {
    const take = (seed: number | Uint8Array): number[] => { const r = createRng(seed); return Array.from({ length: 5 }, r) }
    expect(take(1)).toEqual(take(1))
    expect(take(1)).not.toEqual(take(2))
    expect(take(new Uint8Array([1, 2]))).toEqual(take(new Uint8Array([1, 2])))
    expect(take(new Uint8Array([1, 2]))).not.toEqual(take(new Uint8Array([2, 1])))
    expect(take(0)).toEqual(take(-0))
  })

  it('returns doubles in [0, 1) with a plausible mean', () => {
    const r = createRng(99)
    let sum = 0
    const n = 100_000
    let outside = 0
    for (let i = 0; i < n; i++) {
      const x = r()
      if (!(x >= 0 && x < 1)) outside++
      sum += x
    }
    expect(outside).toBe(0)
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01)
  })

  it('rejects a non-finite seed', () => {
    expect(() => createRng(NaN)).toThrow(RangeError)
  })
})
