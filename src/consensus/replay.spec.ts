import { describe, expect, it } from 'vitest'
import { ReplayGuard } from './replay.js'

describe('ReplayGuard', () => {
  it('answers new once, then seen, and expired after expiresAt', () => {
    const g = new ReplayGuard({ skewMs: 100 })
    expect(g.check('j1', 1000, 10)).toBe('new')
    expect(g.check('j1', 1000, 20)).toBe('seen')
    expect(g.check('j2', 1000, 1001)).toBe('expired')
    expect(g.has('j2')).toBe(false)
  })

  it('forgets ids only after expiry plus skew', () => {
    const g = new ReplayGuard({ skewMs: 100 })
    g.check('j1', 1000, 0)
    g.prune(1100)
    expect(g.has('j1')).toBe(true)
    g.prune(1101)
    expect(g.has('j1')).toBe(false)
  })

  it('fails closed when full', () => {
    const g = new ReplayGuard({ maxEntries: 1 })
    expect(g.check('a', 10_000, 0)).toBe('new')
    expect(g.check('b', 10_000, 0)).toBe('seen')
  })
})
