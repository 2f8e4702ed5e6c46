import { describe, it, expect } from 'vitest'
import { runSim } from './world.js'
import type { SimOptions } from './world.js'

const base: SimOptions = {
  seed: 3,
  jobs: 3000,
  peers: 100,
  f: 0.2,
  adversary: 'colluding',
  canaryRate: 0.05,
  floorRecheck: 0.1,
  probation: 10,
  newcomerReplicas: 3,
  probationRecheck: 1,
  establishedAfter: 20,
  maxInvalid: 2,
  patience: 0,
  tail: 0,
  outputSize: 16,
  reverify: 64,
  policy: { kind: 'exact' }
}

describe('simulation (small, seeded)', () => {
  it('plain majority accepts colluders\' answers; the trust layer does not, at lower replication', () => {
    const plain = runSim({ ...base, baseline: { replicas: 5, quorum: 3 } })
    const trusted = runSim(base)
    expect(plain.wrongAcceptRate).toBeGreaterThan(0.01)
    expect(trusted.wrongAcceptRate).toBeLessThan(plain.wrongAcceptRate / 10)
    // most of 3000 jobs are still in the newcomer phase: the long run (npm run sim) reaches ~1.3
    expect(trusted.replicasPerJob).toBeLessThan(plain.replicasPerJob / 2)
    expect(trusted.honestFlagged).toBe(0)
  })

  it('is deterministic for a seed', () => {
    const a = runSim({ ...base, jobs: 500 })
    const b = runSim({ ...base, jobs: 500 })
    expect(a.wrongAccepted).toBe(b.wrongAccepted)
    expect(a.replicasPerJob).toBe(b.replicasPerJob)
  })
})
