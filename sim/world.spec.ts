import { describe, it, expect } from 'vitest'
import { defaultOptions, runSim } from './world.js'

// small and seeded; `npm run sim` runs the long ones
const small = { jobs: 2500, online: 60, seed: 3 }

describe('simulation (small, seeded)', () => {
  it('drives the production job run: liars are flagged, honest peers never, newcomers cost little compute', () => {
    const r = runSim(defaultOptions({ ...small, attacker: 'mixed', adaptive: { newcomerShare: 0.05 } }))
    expect(r.honestFlagged).toBe(0)
    expect(r.honestRejected).toBe(0)
    expect(r.byKind['always-wrong'].flagged).toBe(r.byKind['always-wrong'].identities)
    expect(r.byKind.silent.flagged).toBe(0) // silent is slow, never a cheat
    expect(r.accepted).toBeGreaterThan(r.realJobs * 0.99)
    // uniform first draws send most jobs to newcomers (3 replicas and a recheck each)
    const uniform = runSim(defaultOptions({ ...small, attacker: 'mixed' }))
    expect(r.computePerJob).toBeLessThan(uniform.computePerJob / 1.5)
  })

  it('whitewashers come back with fresh identities; fixed 3-of-2 jobs cost more than adaptive ones', () => {
    const r = runSim(defaultOptions({ ...small, jobs: 4000, attacker: 'whitewash-once', adaptive: { newcomerShare: 0.2 }, trust: { establishedAfter: 5 } }))
    expect(r.freshIdentities).toBeGreaterThan(0)
    const fixed = runSim(defaultOptions({ ...small, jobs: 1000, attacker: 'colluding', fixed: { replicas: 3, quorum: 2 } }))
    expect(fixed.realDispatchesPerJob).toBeGreaterThanOrEqual(3)
  })

  it('a backend wrong the same way everywhere is judged by canaries and left out: its peers are no longer asked, no one else is flagged', () => {
    const fault = { backend: 'ort-web/webgpu', rate: 1 }
    const r = runSim(defaultOptions({ ...small, attacker: 'none', adaptive: { newcomerShare: 0.05 }, backendFault: fault }))
    expect(r.faultBackend!.verdictHours).not.toBeNull()
    expect(r.faultBackend!.askedAfterVerdict).toBe(0)
    expect(r.honestFlagged).toBe(0)
    expect(r.wrongStanding).toBe(0)
    // without backend verdicts its peers are caught one identity at a time, and keep being asked
    const without = runSim(defaultOptions({ ...small, attacker: 'none', adaptive: { newcomerShare: 0.05 }, backendFault: fault, backendVerdicts: false }))
    expect(without.faultBackend!.verdictHours).toBeNull()
    expect(without.faultBackend!.flagged).toBeGreaterThan(r.faultBackend!.flagged)
  })

  it('is deterministic for a seed', () => {
    const a = runSim(defaultOptions({ ...small, jobs: 400, attacker: 'strategic' }))
    const b = runSim(defaultOptions({ ...small, jobs: 400, attacker: 'strategic' }))
    expect({ ...a, ms: 0 }).toEqual({ ...b, ms: 0 })
  })
})
