/** Job fixtures for tests: a valid job spec over given inputs, with fixed times. */
import { createJobSpec } from '../consensus/job.js'
import type { JobSpec } from '../consensus/types.js'
import { hashTensors } from '../tensor/index.js'
import type { NamedTensors } from '../tensor/index.js'

/** A 3-replica, quorum-2 tolerance job on model `aa…a`, created at a fixed time, expiring a minute later. */
export function testJobSpec (requester: string, inputs: NamedTensors, nonce = '0123456789abcdef0123456789abcdef'): JobSpec {
  return createJobSpec({
    modelHash: 'a'.repeat(64),
    inputHash: hashTensors(inputs),
    policy: { kind: 'tolerance', atol: 1e-5, rtol: 1e-4 },
    replicas: 3,
    quorum: 2,
    requester,
    nonce,
    createdAt: 1_700_000_000_000,
    expiresAt: 1_700_000_060_000
  })
}
