/**
 * A requester's replica pool, with injected clock and seeded randomness:
 * filled from fresh samples up to its size without duplicates, renewed
 * members kept and departed, paused or full ones dropped, one member rotated
 * when due and never when the link budget is spent. Then the issue's
 * acceptance test: a requester running 10,000 jobs against a churning crowd
 * of 1,000 never comes near Chromium's ~500 RTCPeerConnections, yet its pool
 * keeps rotating through the crowd.
 */
import { describe, it, expect } from 'vitest'
import { ReplicaPool } from './replica-pool.js'
import type { ReplicaPoolComponents, ReplicaPoolInit } from './replica-pool.js'
import { LinkPool } from './link-pool.js'
import { LeaseBook } from './lease-book.js'
import type { Lease } from './lease.js'
import { createRng } from '../consensus/select.js'
import { testLease as lease } from '../testing/leases.js'



const leases = (from: number, n: number): Lease[] => Array.from({ length: n }, (_, i) => lease(`p${from + i}`))

function setup (init: ReplicaPoolInit = {}, components: Partial<ReplicaPoolComponents> = {}): { pool: ReplicaPool, at: (ms: number) => void } {
  let t = 1_000_000
  const pool = new ReplicaPool({ rng: createRng(1), now: () => t, ...components }, { size: 4, rotateEvery: 15_000, refreshMs: 10_000, ...init })
  return { pool, at: (ms) => { t = 1_000_000 + ms } }
}

describe('ReplicaPool filling', () => {
  it('fills up to its size from a fresh sample, and no further', () => {
    const { pool } = setup()
    const { added, removed } = pool.offer(leases(0, 3))
    expect(added.sort()).toEqual(['p0', 'p1', 'p2'])
    expect(removed).toEqual([])
    pool.offer(leases(3, 10))
    expect(pool.ids()).toHaveLength(4)
    expect(pool.ids().filter(id => ['p0', 'p1', 'p2'].includes(id)).sort()).toEqual(['p0', 'p1', 'p2'])
  })

  it('takes each peer once, keeping the highest seq of a duplicate', () => {
    const { pool } = setup({ size: 8 })
    pool.offer([lease('x', { seq: 1 }), lease('x', { seq: 3 }), lease('x', { seq: 2 }), lease('y')])
    expect(pool.ids().sort()).toEqual(['x', 'y'])
    expect(pool.get('x')?.seq).toBe(3)
    pool.offer([lease('x', { seq: 9 }), lease('y'), lease('z')])
    expect(pool.ids().sort()).toEqual(['x', 'y', 'z'])
    // a fresh copy of a member is not a renewal: only `renewed` updates members
    expect(pool.get('x')?.seq).toBe(3)
  })

  it('takes no paused or full newcomers', () => {
    const { pool } = setup()
    pool.offer([lease('paused', { paused: true }), lease('full', { slots: 0 }), lease('ok')])
    expect(pool.ids()).toEqual(['ok'])
  })

  it('adds no member once the link budget is spent, and no more than the budget left', () => {
    let left = 2
    const { pool } = setup({}, { budgetLeft: () => left })
    expect(pool.offer(leases(0, 10)).added).toHaveLength(2)
    left = 0
    expect(pool.offer(leases(10, 10)).added).toEqual([])
    expect(pool.ids()).toHaveLength(2)
  })
})

describe('ReplicaPool renewal', () => {
  it('drops members that were asked for but not renewed (departed), and keeps the renewed', () => {
    const { pool } = setup()
    pool.offer(leases(0, 4))
    const { removed } = pool.offer([], { asked: ['p0', 'p1', 'p2', 'p3'], renewed: [lease('p1', { seq: 2 }), lease('p3')] })
    expect(removed.sort()).toEqual(['p0', 'p2'])
    expect(pool.ids().sort()).toEqual(['p1', 'p3'])
    expect(pool.get('p1')?.seq).toBe(2)
  })

  it('keeps members whose renewal was not asked for', () => {
    const { pool } = setup()
    pool.offer(leases(0, 4))
    pool.offer([], { asked: ['p0'], renewed: [] })
    expect(pool.ids().sort()).toEqual(['p1', 'p2', 'p3'])
  })

  it('drops members whose renewed lease says paused or full', () => {
    const { pool } = setup()
    pool.offer(leases(0, 3))
    const { removed } = pool.offer([], { asked: ['p0', 'p1', 'p2'], renewed: [lease('p0', { paused: true, seq: 2 }), lease('p1', { slots: 0, seq: 2 }), lease('p2', { seq: 2 })] })
    expect(removed.sort()).toEqual(['p0', 'p1'])
    expect(pool.ids()).toEqual(['p2'])
  })

  it('ignores a renewal older than the lease it holds', () => {
    const { pool } = setup()
    pool.offer([lease('p', { seq: 5, slots: 4 })])
    pool.offer([], { asked: ['p'], renewed: [lease('p', { seq: 4, slots: 1 })] })
    expect(pool.get('p')).toMatchObject({ seq: 5, slots: 4 })
  })

  it('refills the places of departed members in the same offer', () => {
    const { pool } = setup()
    pool.offer(leases(0, 4))
    const { added, removed } = pool.offer(leases(10, 1), { asked: pool.ids(), renewed: leases(1, 3) })
    expect(removed).toEqual(['p0'])
    expect(added).toEqual(['p10'])
    expect(pool.ids().sort()).toEqual(['p1', 'p10', 'p2', 'p3'])
  })
})

describe('ReplicaPool rotation', () => {
  it('does not rotate on the offer that first fills the pool, even with newcomers to spare', () => {
    const { pool } = setup()
    const { added, removed } = pool.offer(leases(0, 10))
    expect(added).toHaveLength(4)
    expect(removed).toEqual([])
    expect(pool.rotated).toBe(0)
  })

  it('replaces exactly one member once rotateEvery has passed, and not before', () => {
    const { pool, at } = setup()
    at(0)
    pool.offer(leases(0, 4))
    const before = pool.ids()
    at(14_999)
    expect(pool.offer(leases(10, 4), { asked: before, renewed: leases(0, 4) })).toEqual({ added: [], removed: [] })
    expect(pool.rotated).toBe(0)
    at(15_000)
    const { added, removed } = pool.offer(leases(10, 4), { asked: before, renewed: leases(0, 4) })
    expect(added).toHaveLength(1)
    expect(removed).toHaveLength(1)
    expect(before).toContain(removed[0])
    expect(added[0]).toMatch(/^p1[0-3]$/)
    expect(pool.ids()).toHaveLength(4)
    expect(pool.rotated).toBe(1)
    // the next one is due rotateEvery after this one
    at(29_999)
    expect(pool.offer(leases(20, 4)).added).toEqual([])
    at(30_000)
    expect(pool.offer(leases(20, 4)).added).toHaveLength(1)
    expect(pool.rotated).toBe(2)
  })

  it('waits as long as rotationDelay says', () => {
    const bases: number[] = []
    const { pool, at } = setup({}, { rotationDelay: (b) => { bases.push(b); return 4 * b } })
    at(0)
    pool.offer(leases(0, 4))
    at(59_999)
    expect(pool.offer(leases(10, 4)).added).toEqual([])
    at(60_000)
    expect(pool.offer(leases(10, 4)).added).toHaveLength(1)
    expect(bases.every(b => b === 15_000)).toBe(true)
  })

  it('does not rotate without a newcomer, while under-full, or with the budget spent', () => {
    let left = Infinity
    const { pool, at } = setup({}, { budgetLeft: () => left })
    at(0)
    pool.offer(leases(0, 4))
    at(20_000)
    expect(pool.offer(leases(0, 4))).toEqual({ added: [], removed: [] }) // only members on offer
    left = 0
    expect(pool.offer(leases(10, 4))).toEqual({ added: [], removed: [] })
    left = Infinity
    pool.remove('p0')
    pool.remove('p1')
    // one newcomer fills one place; the pool stays under-full, so none rotates out
    expect(pool.offer(leases(10, 1))).toEqual({ added: ['p10'], removed: [] })
    expect(pool.rotated).toBe(0)
    // once full with a newcomer to spare, the overdue rotation happens in the same offer
    const { added, removed } = pool.offer(leases(20, 2))
    expect(added).toHaveLength(2)
    expect(removed).toHaveLength(1)
    expect(pool.ids()).toHaveLength(4)
    expect(pool.rotated).toBe(1)
  })

  it('never rotates out a kept member while others can give way', () => {
    const kept = new Set(['p0', 'p1', 'p2'])
    const { pool, at } = setup({}, { keep: (id) => kept.has(id) })
    at(0)
    pool.offer(leases(0, 4))
    const out: string[] = []
    for (let i = 1; i <= 20; i++) {
      at(i * 15_000)
      out.push(...pool.offer(leases(100 * i, 2), { asked: pool.ids(), renewed: pool.members() }).removed)
    }
    expect(out).toHaveLength(20)
    expect(out.filter(id => kept.has(id))).toEqual([])
    expect(pool.ids().filter(id => kept.has(id)).sort()).toEqual(['p0', 'p1', 'p2'])
    expect(pool.rotated).toBe(20)
  })

  it('still turns over when every member is kept, and a kept member that departs leaves', () => {
    const { pool, at } = setup({}, { keep: () => true })
    at(0)
    pool.offer(leases(0, 4))
    at(15_000)
    const { removed } = pool.offer(leases(10, 1), { asked: pool.ids(), renewed: pool.members() })
    expect(removed).toHaveLength(1)
    expect(pool.rotated).toBe(1)
    const gone = pool.ids().find(id => id !== 'p10') as string
    expect(pool.offer([], { asked: pool.ids(), renewed: pool.members().filter(l => l.peerId !== gone) }).removed).toEqual([gone])
  })
})

describe('ReplicaPool stale', () => {
  it('is stale when empty, underFullRefreshMs after an offer that left it under-full, and refreshMs after the last offer', () => {
    const { pool, at } = setup()
    expect(pool.stale()).toBe(true)
    at(0)
    pool.offer(leases(0, 3))
    // under-full: asked again once the sample is a second old, not before every draw
    expect(pool.stale()).toBe(false)
    at(999)
    expect(pool.stale()).toBe(false)
    at(1_000)
    expect(pool.stale()).toBe(true)
    pool.offer(leases(3, 1))
    // full: asked again refreshMs after the last offer
    expect(pool.stale()).toBe(false)
    at(10_999)
    expect(pool.stale()).toBe(false)
    at(11_000)
    expect(pool.stale()).toBe(true)
    pool.offer([])
    expect(pool.stale()).toBe(false)
    pool.remove('p0')
    expect(pool.stale()).toBe(false)
    at(12_000)
    expect(pool.stale()).toBe(true)
    pool.offer([])
    for (const id of pool.ids()) pool.remove(id)
    // empty: always asked
    expect(pool.stale()).toBe(true)
  })

  it('clear empties the pool and makes it stale', () => {
    const { pool } = setup()
    pool.offer(leases(0, 4))
    pool.clear()
    expect(pool.ids()).toEqual([])
    expect(pool.stale()).toBe(true)
  })
})

interface CrowdRun {
  /** Direct links created over the run (RTCPeerConnections, in a browser). */
  created: number
  /** Most direct links open at once. */
  maxOpen: number
  members: number
  rotations: number
  /** Distinct contributors that ever carried a job. */
  drawn: number
  /** Jobs that got fewer than `replicas` live members. */
  short: number
  /** Contributors that left the crowd over the run. */
  departed: number
}

/**
 * One requester against a crowd of `crowd` live contributors held by a relay's
 * LeaseBook. Every 10 s of simulated time `churn` of them leave (the relay
 * drops their lease, their links close) and as many new ones arrive. Each job
 * refreshes the pool when stale (a sample from the book, excluding members,
 * plus the renewal of members), draws `replicas` of its members, links to
 * each (making room in the bound first) and then closes what the pool says
 * is idle or over the bound. A member that left since the last refresh fails
 * at the relay hop (no reservation), before any RTCPeerConnection exists, and
 * leaves the pool. Jobs end at once, so no link is ever busy.
 */
function runCrowd (o: { seed: number, jobs: number, jobsPerSecond: number, crowd: number, churn: number, replicas?: number }): CrowdRun {
  const replicas = o.replicas ?? 3
  const rng = createRng(o.seed)
  let t = 0
  const now = (): number => t
  const book = new LeaseBook({ now })
  const live: string[] = []
  let nextId = 0
  const arrive = (): void => {
    const id = `peer-${nextId++}`
    live.push(id)
    book.put(lease(id, { ttl: 24 * 3600_000 }), 'relay')
  }
  for (let i = 0; i < o.crowd; i++) arrive()
  const links = new LinkPool({ now }, { maxLinks: 16, idleMs: 60_000, budget: 450 })
  const pool = new ReplicaPool({ rng, now, rotationDelay: (b) => links.rotationDelay(b), budgetLeft: () => links.budgetLeft() }, { size: 16, rotateEvery: 15_000, refreshMs: 10_000 })
  const notBusy = (): boolean => false
  const drawn = new Set<string>()
  let nextChurn = 10_000
  let maxOpen = 0
  let short = 0
  let departed = 0
  for (let job = 0; job < o.jobs; job++) {
    t = Math.floor(job * 1000 / o.jobsPerSecond)
    while (t >= nextChurn) {
      for (let k = 0; k < o.churn; k++) {
        const i = Math.floor(rng() * live.length)
        const id = live[i]
        live[i] = live[live.length - 1]
        live.pop()
        book.drop(id)
        if (links.has(id)) links.closed(id)
        departed++
      }
      for (let k = 0; k < o.churn; k++) arrive()
      nextChurn += 10_000
    }
    if (pool.stale()) {
      const asked = pool.ids()
      const fresh = book.sample({ count: 16, exclude: new Set(asked) }, rng).leases
      pool.offer(fresh, { asked, renewed: asked.map(id => book.get(id)).filter((l): l is Lease => l != null) })
    }
    const members = pool.ids()
    let got = 0
    for (let k = 0; k < replicas && members.length > 0; k++) {
      const [id] = members.splice(Math.floor(rng() * members.length), 1)
      if (book.get(id) == null) { pool.remove(id); k--; continue }
      if (!links.has(id)) {
        if (links.budgetLeft() <= 0) continue
        const victim = links.makeRoom(id, notBusy)
        if (victim === null) continue
        if (victim !== undefined) links.closed(victim)
        links.opened(id)
      }
      links.touch(id)
      drawn.add(id)
      got++
    }
    if (got < replicas) short++
    maxOpen = Math.max(maxOpen, links.size)
    for (const id of links.toClose(notBusy)) links.closed(id)
  }
  return { created: links.created, maxOpen, members: pool.ids().length, rotations: pool.rotated, drawn: drawn.size, short, departed }
}

describe('a requester page running 10,000 jobs in a churning crowd of 1,000', () => {
  it('at 10 jobs/s (17 minutes): far below Chromium\'s ~500 RTCPeerConnections, and the pool rotates', () => {
    const run = runCrowd({ seed: 2024, jobs: 10_000, jobsPerSecond: 10, crowd: 1000, churn: 10 })
    expect(run.departed).toBe(990) // a churn step every 10 s of the 999.9 s run
    expect(run.created).toBeLessThanOrEqual(450)
    expect(run.created).toBeLessThan(500)
    expect(run.maxOpen).toBeLessThanOrEqual(16)
    expect(run.members).toBeGreaterThanOrEqual(3)
    expect(run.rotations).toBeGreaterThan(0)
    // 16 to start, then a newcomer with each rotation (one per 20-40 s here) and for each departed member
    expect(run.drawn).toBeGreaterThan(3 * 16)
    expect(run.short).toBe(0)
  })

  it('at 1 job/s (2.8 hours): rotation slows as the link budget is spent, so it never runs out', () => {
    const run = runCrowd({ seed: 7, jobs: 10_000, jobsPerSecond: 1, crowd: 1000, churn: 10 })
    expect(run.created).toBeLessThanOrEqual(450)
    expect(run.maxOpen).toBeLessThanOrEqual(16)
    expect(run.members).toBeGreaterThanOrEqual(3)
    expect(run.rotations).toBeGreaterThan(0)
    expect(run.drawn).toBeGreaterThan(5 * 16)
    expect(run.short).toBe(0)
  })
})
