/**
 * The relay's lease book: renewals keep the highest seq, drops respect the
 * origin relay, leases expire by the injected clock, and samples are uniform
 * draws without replacement among the eligible leases, costing O(count)
 * random draws however many leases the book holds.
 */
import { describe, it, expect } from 'vitest'
import { LeaseBook } from './lease-book.js'
import type { Lease } from './lease.js'
import { createRng } from '../consensus/select.js'
import { testLease as lease } from '../testing/leases.js'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const R1 = 'relay-1'
const R2 = 'relay-2'



function counting (rng: () => number): { rng: () => number, calls: () => number } {
  let n = 0
  return { rng: () => { n++; return rng() }, calls: () => n }
}

const ids = (ls: readonly Lease[]): string[] => ls.map(l => l.peerId).sort()

function bookOf (leases: Lease[], now = (): number => 0): LeaseBook {
  const book = new LeaseBook({ now })
  for (const l of leases) book.put(l, R1)
  return book
}

describe('LeaseBook put / drop', () => {
  it('keeps a new lease, renews with a higher or equal seq, and ignores an older one', () => {
    const book = new LeaseBook({ now: () => 0 })
    expect(book.put(lease('p', { seq: 1 }), R1)).toBe('new')
    expect(book.put(lease('p', { seq: 2, slots: 2 }), R1)).toBe('renewed')
    expect(book.put(lease('p', { seq: 1, slots: 9 }), R1)).toBe('older')
    expect(book.get('p')).toMatchObject({ seq: 2, slots: 2 })
    expect(book.put(lease('p', { seq: 2, slots: 3 }), R1)).toBe('renewed')
    expect(book.get('p')).toMatchObject({ seq: 2, slots: 3 })
    expect(book.size).toBe(1)
  })

  it('re-indexes a renewed lease by its new models', () => {
    const book = bookOf([lease('p', { models: [A] })])
    book.put(lease('p', { seq: 2, models: [B] }), R1)
    expect(book.sample({ count: 4, model: A }, createRng(1))).toEqual({ leases: [], total: 0 })
    expect(ids(book.sample({ count: 4, model: B }, createRng(1)).leases)).toEqual(['p'])
  })

  it('counts a lease once per model even when it lists a model twice', () => {
    const book = bookOf([lease('p', { models: [A, A] })])
    expect(book.sample({ count: 4, model: A }, createRng(1))).toMatchObject({ total: 1 })
    expect(book.drop('p')).toBe(true)
    expect(book.sample({ count: 4, model: A }, createRng(1))).toEqual({ leases: [], total: 0 })
  })

  it('drops with the wrong origin do nothing; with the right one or none they drop', () => {
    const book = new LeaseBook({ now: () => 0 })
    book.put(lease('p'), R1)
    book.put(lease('q'), R1)
    expect(book.drop('p', R2)).toBe(false)
    expect(book.get('p')).toBeDefined()
    expect(book.drop('p', R1)).toBe(true)
    expect(book.get('p')).toBeUndefined()
    expect(book.drop('q')).toBe(true)
    expect(book.drop('q')).toBe(false)
    expect(book.size).toBe(0)
  })

  it('a renewal through another relay moves the lease to that origin', () => {
    const book = new LeaseBook({ now: () => 0 })
    book.put(lease('p', { seq: 1 }), R1)
    book.put(lease('p', { seq: 2 }), R2)
    expect(book.drop('p', R1)).toBe(false)
    expect(book.countFrom(R2)).toBe(1)
  })

  it('dropOrigin drops every lease held through that relay and only those', () => {
    const book = new LeaseBook({ now: () => 0 })
    for (const id of ['a1', 'a2', 'a3']) book.put(lease(id), R1)
    for (const id of ['b1', 'b2']) book.put(lease(id), R2)
    expect(book.dropOrigin(R1)).toBe(3)
    expect(book.size).toBe(2)
    expect(book.countFrom(R1)).toBe(0)
    expect(book.heldBy(R2).map(l => l.peerId).sort()).toEqual(['b1', 'b2'])
    expect(ids(book.sample({ count: 10 }, createRng(1)).leases)).toEqual(['b1', 'b2'])
  })

  it("refuses a new peer's lease when full, but still renews held ones", () => {
    const book = new LeaseBook({ now: () => 0 }, { maxLeases: 2 })
    expect(book.put(lease('a'), R1)).toBe('new')
    expect(book.put(lease('b'), R1)).toBe('new')
    expect(book.put(lease('c'), R1)).toBe('full')
    expect(book.get('c')).toBeUndefined()
    expect(book.put(lease('a', { seq: 2 }), R1)).toBe('renewed')
    book.drop('b')
    expect(book.put(lease('c'), R1)).toBe('new')
  })

  it('is not full of expired leases: they give way to a live peer before the next prune', () => {
    let t = 0
    const book = new LeaseBook({ now: () => t }, { maxLeases: 2 })
    book.put(lease('a', { ttl: 500 }), R1)
    book.put(lease('b', { ttl: 5_000 }), R1)
    expect(book.put(lease('c'), R1)).toBe('full')
    t = 1_000
    expect(book.put(lease('c'), R1)).toBe('new')
    expect(book.get('a')).toBeUndefined()
    expect(book.get('b')).toBeDefined()
  })
})

describe('LeaseBook expiry', () => {
  it('a lease counts for its ttl from when it was put, by the injected clock', () => {
    let t = 1_000
    const book = new LeaseBook({ now: () => t })
    book.put(lease('p', { ttl: 500 }), R1)
    book.put(lease('q', { ttl: 5_000 }), R1)
    t = 1_500
    expect(book.get('p')).toBeDefined()
    expect(book.prune()).toEqual([])
    t = 1_501
    expect(book.get('p')).toBeUndefined()
    expect(book.heldBy(R1).map(l => l.peerId)).toEqual(['q'])
    expect(book.countFrom(R1)).toBe(1)
    expect(ids(book.sample({ count: 10 }, createRng(1)).leases)).toEqual(['q'])
    expect(book.prune()).toEqual(['p'])
    expect(book.size).toBe(1)
  })

  it('a renewal restarts the ttl', () => {
    let t = 0
    const book = new LeaseBook({ now: () => t })
    book.put(lease('p', { ttl: 500, seq: 1 }), R1)
    t = 400
    book.put(lease('p', { ttl: 500, seq: 2 }), R1)
    t = 800
    expect(book.get('p')).toMatchObject({ seq: 2 })
    expect(book.prune()).toEqual([])
  })
})

describe('LeaseBook sample', () => {
  it('draws no peer twice', () => {
    const book = bookOf(Array.from({ length: 30 }, (_, i) => lease(`p${i}`)))
    const rng = createRng(7)
    for (let k = 0; k < 200; k++) {
      const { leases } = book.sample({ count: 10 }, rng)
      expect(leases).toHaveLength(10)
      expect(new Set(leases.map(l => l.peerId)).size).toBe(10)
    }
  })

  it('leaves out paused, full (slots 0) and excluded peers', () => {
    const book = bookOf([lease('ok1'), lease('ok2'), lease('paused', { paused: true }), lease('full', { slots: 0 }), lease('me')])
    const rng = createRng(3)
    for (let k = 0; k < 50; k++) {
      const { leases, total } = book.sample({ count: 5, exclude: new Set(['me']) }, rng)
      expect(ids(leases)).toEqual(['ok1', 'ok2'])
      expect(total).toBe(5)
    }
  })

  it('filters by numeric class and by model, and reports the total for the model', () => {
    const book = bookOf([
      lease('a-c1', { models: [A], numericClass: 'c1' }),
      lease('a-c2', { models: [A], numericClass: 'c2' }),
      lease('ab-c1', { models: [A, B], numericClass: 'c1' }),
      lease('b-c2', { models: [B], numericClass: 'c2' })
    ])
    const rng = createRng(5)
    expect(ids(book.sample({ count: 10, numericClass: 'c1' }, rng).leases)).toEqual(['a-c1', 'ab-c1'])
    expect(book.sample({ count: 10, model: B }, rng)).toMatchObject({ total: 2 })
    expect(ids(book.sample({ count: 10, model: B }, rng).leases)).toEqual(['ab-c1', 'b-c2'])
    expect(ids(book.sample({ count: 10, model: B, numericClass: 'c2' }, rng).leases)).toEqual(['b-c2'])
    expect(book.sample({ count: 10, model: 'c'.repeat(64) }, rng)).toEqual({ leases: [], total: 0 })
  })

  it('returns every eligible lease when asked for more than there are', () => {
    const leases = Array.from({ length: 40 }, (_, i) => lease(`p${i}`, { paused: i % 3 === 0 }))
    const book = bookOf(leases)
    const eligible = leases.filter(l => !l.paused).map(l => l.peerId).sort()
    const rng = createRng(11)
    for (let k = 0; k < 20; k++) expect(ids(book.sample({ count: 100 }, rng).leases)).toEqual(eligible)
  })

  it('returns nothing for count 0', () => {
    expect(bookOf([lease('p')]).sample({ count: 0 }, createRng(1)).leases).toEqual([])
  })

  it('draws each of 40 leases equally often (within 15%) over 20,000 samples of 4', () => {
    const book = bookOf(Array.from({ length: 40 }, (_, i) => lease(`p${i}`)))
    const freq = new Map<string, number>()
    const rng = createRng(42)
    for (let k = 0; k < 20_000; k++) for (const l of book.sample({ count: 4 }, rng).leases) freq.set(l.peerId, (freq.get(l.peerId) ?? 0) + 1)
    const expected = 20_000 * 4 / 40
    expect(freq.size).toBe(40)
    for (const n of freq.values()) {
      expect(n).toBeGreaterThan(expected * 0.85)
      expect(n).toBeLessThan(expected * 1.15)
    }
  })

  it('stays uniform among the eligible when most leases are filtered out', () => {
    // 8 of 400 eligible: the random draws mostly find too few, and the scan finishes the sample
    const book = bookOf(Array.from({ length: 400 }, (_, i) => lease(`p${i}`, { paused: i % 50 !== 0 })))
    const freq = new Map<string, number>()
    const rng = createRng(43)
    for (let k = 0; k < 20_000; k++) {
      const { leases } = book.sample({ count: 4 }, rng)
      expect(leases).toHaveLength(4)
      for (const l of leases) freq.set(l.peerId, (freq.get(l.peerId) ?? 0) + 1)
    }
    const expected = 20_000 * 4 / 8
    expect([...freq.keys()].sort()).toEqual(Array.from({ length: 8 }, (_, i) => `p${i * 50}`).sort())
    for (const n of freq.values()) {
      expect(n).toBeGreaterThan(expected * 0.85)
      expect(n).toBeLessThan(expected * 1.15)
    }
  })

  it('costs O(count) random draws, not O(size): 16 of 100,000 leases', () => {
    const book = bookOf(Array.from({ length: 100_000 }, (_, i) => lease(`p${i}`)))
    const { rng, calls } = counting(createRng(9))
    const { leases, total } = book.sample({ count: 16 }, rng)
    expect(leases).toHaveLength(16)
    expect(new Set(leases.map(l => l.peerId)).size).toBe(16)
    expect(total).toBe(100_000)
    expect(calls()).toBeLessThan(1000)
    // and for a model's index too
    const byModel = counting(createRng(10))
    expect(book.sample({ count: 16, model: A }, byModel.rng).leases).toHaveLength(16)
    expect(byModel.calls()).toBeLessThan(1000)
  })

  it('stays bounded when a filter rejects almost all of a large book (it may return fewer)', () => {
    const book = bookOf(Array.from({ length: 100_000 }, (_, i) => lease(`p${i}`, { numericClass: i < 10 ? 'rare' : 'c1' })))
    const { rng, calls } = counting(createRng(12))
    const { leases } = book.sample({ count: 16, numericClass: 'rare' }, rng)
    expect(leases.every(l => l.numericClass === 'rare')).toBe(true)
    expect(calls()).toBeLessThan(1000)
  })
})
