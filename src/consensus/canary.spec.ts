import { describe, expect, it } from 'vitest'
import { CanarySchedule, judgeCanary } from './canary.js'
import { ReputationBook } from './reputation.js'
import { createRng } from './select.js'
import { CLASS_NODE, CLASS_WEB, HASH_A, HASH_B, f32, out } from './test-fixtures.js'
import type { CanaryCase } from './canary.js'

const GPU = 'ort-web/webgpu/t1/chromium'
const c = (inputHash = HASH_B): CanaryCase => ({ modelHash: HASH_A, inputHash, expected: out(f32([0.5, 1.5])), expectedClass: CLASS_WEB, policy: { kind: 'exact' } })

describe('canaries', () => {
  it('judges under the policy: bytes within the class, tolerance across classes', () => {
    expect(judgeCanary(c(), out(f32([0.5, 1.5])), CLASS_WEB)).toBe('canary-passed')
    expect(judgeCanary(c(), out(f32([0.5 + 3e-5, 1.5])), CLASS_WEB)).toBe('near-miss')
    expect(judgeCanary(c(), out(f32([0.5 + 3e-5, 1.5])), GPU)).toBe('canary-passed')
    expect(judgeCanary(c(), out(f32([0.9, 1.5])), CLASS_NODE)).toBe('canary-failed')
    expect(judgeCanary(c(), out(f32([0.5, 1.5, 0])), CLASS_WEB)).toBe('canary-failed')
  })

  it('issues canaries at the requested rate and aims them at peers in probation', () => {
    const s = new CanarySchedule({ rate: 0.1, probation: 1, probationBoost: 5 })
    const rng = createRng(7)
    let n = 0
    for (let i = 0; i < 10_000; i++) if (s.next(rng)) n++
    expect(n).toBeGreaterThan(900)
    expect(n).toBeLessThan(1100)
    expect(new CanarySchedule({ rate: 0 }).next(() => 0)).toBe(false)
    expect(() => new CanarySchedule({ rate: 1 })).toThrow(RangeError)
    const rep = new ReputationBook()
    rep.record('12D3KooWa', 'canary-passed', { modelHash: HASH_A, at: 0 })
    const w = s.firstWeight(rep)
    expect(w('12D3KooWa')).toBe(1)
    expect(w('12D3KooWb')).toBe(5)
  })
})
