import { describe, it, expect } from 'vitest'
import { createFault, parseFault } from './faults.js'
import { outputsAgree } from '../consensus/compare.js'
import { isNearMiss } from '../consensus/replication.js'
import { createTensor, hashTensors } from '../tensor/index.js'
import type { JobSpec } from '../consensus/types.js'

const honestOut = { y: createTensor('float32', [2], new Float32Array([1, 2])) }
const spec = (quorum: number, modelHash = 'a'.repeat(64)): JobSpec => ({ v: 1, modelHash, inputHash: 'b'.repeat(64), policy: { kind: 'exact' }, replicas: quorum, quorum, requester: 'x', nonce: '0'.repeat(32), createdAt: 0, expiresAt: 1 })
const ctx = (quorum: number, out = honestOut) => ({ spec: spec(quorum), honest: async () => out, signal: new AbortController().signal })

describe('fault injection', () => {
  it('is refused without the test-only environment switch', () => {
    expect(() => parseFault('always-wrong', {})).toThrow(/test-only/)
    expect(parseFault('always-wrong', { CROSSCHECK_TEST_FAULTS: '1' })).toBe('always-wrong')
    expect(parseFault(undefined, {})).toBeUndefined()
    expect(() => parseFault('evil', { CROSSCHECK_TEST_FAULTS: '1' })).toThrow(/one of/)
  })

  it('always-wrong never returns the honest output', async () => {
    const out = await createFault('always-wrong')(ctx(2))
    expect(hashTensors(out)).not.toBe(hashTensors(honestOut))
  })

  it('backend-bug is wrong the same way on every peer, by more than any tolerance or near miss allows', async () => {
    const a = await createFault('backend-bug')(ctx(2))
    const b = await createFault('backend-bug')(ctx(2))
    expect(hashTensors(a)).toBe(hashTensors(b))
    const policy = { kind: 'tolerance' as const, atol: 1e-5, rtol: 1e-4 }
    expect(outputsAgree(honestOut, a, policy, 'ort-node/cpu/t1/node', 'ort-node/cpu/t1/node')).toBe(false)
    expect(isNearMiss(honestOut, a, policy, 'ort-node/cpu/t1/node', 'ort-node/cpu/t1/node')).toBe(false)
  })

  it('collude cheats only when it alone holds the quorum', async () => {
    const f = createFault('collude')
    expect(hashTensors(await f(ctx(2)))).toBe(hashTensors(honestOut))
    const wrong = await f(ctx(1))
    expect(hashTensors(wrong)).not.toBe(hashTensors(honestOut))
    expect(hashTensors(await f(ctx(1)))).toBe(hashTensors(wrong))
  })

  it('copy answers later jobs with its first answer', async () => {
    const f = createFault('copy')
    await f(ctx(2))
    const other = { y: createTensor('float32', [2], new Float32Array([5, 6])) }
    expect(hashTensors(await f(ctx(2, other)))).toBe(hashTensors(honestOut))
  })

  it('silent waits until the requester gives up', async () => {
    const ac = new AbortController()
    const p = createFault('silent')({ spec: spec(2), honest: async () => honestOut, signal: ac.signal })
    ac.abort(new Error('gave up'))
    await expect(p).rejects.toThrow('gave up')
  })
})
