import { describe, expect, it } from 'vitest'
import { NodeMetrics } from './metrics.js'

describe('NodeMetrics', () => {
  it('buckets jobs, latency and agreement by time', () => {
    const m = new NodeMetrics()
    const now = 10 * 60_000
    m.record({ kind: 'served', at: now - 30_000, ms: 10, ok: true })
    m.record({ kind: 'served', at: now - 20_000, ms: 30, ok: true })
    m.record({ kind: 'requested', at: now - 10_000, ms: 50, ok: true, agreeing: 2, dissenting: 1 })
    m.record({ kind: 'requested', at: now - 70_000, ms: 0, ok: false })
    const { buckets } = m.series({ now, bucketMs: 60_000, buckets: 3 })
    expect(buckets.map(b => [b.served, b.requested, b.failed])).toEqual([[0, 0, 0], [0, 0, 1], [2, 1, 0]])
    expect(buckets[2].meanMs).toBe(30)
    expect(buckets[2].agreement).toBeCloseTo(2 / 3)
    expect(buckets[1].meanMs).toBeNull()
    expect(buckets[1].agreement).toBeNull()
  })

  it('drops samples outside the window and keeps memory bounded', () => {
    const m = new NodeMetrics({ maxSamples: 5 })
    for (let i = 0; i < 20; i++) m.record({ kind: 'served', at: i * 1000, ms: 1, ok: true })
    const { buckets } = m.series({ now: 20_000, bucketMs: 1000, buckets: 20 })
    expect(buckets.reduce((a, b) => a + b.served, 0)).toBe(5)
  })
})
