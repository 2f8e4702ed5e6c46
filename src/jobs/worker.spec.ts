import { describe, it, expect, beforeAll } from 'vitest'
import { INLINE_OUTPUT_BYTES, handleJob, handleOutput } from './worker.js'
import { HeldOutputs } from './held-outputs.js'
import type { WorkerDeps } from './worker.js'
import { createTensor, hashTensors } from '../tensor/index.js'
import { createJobSpec, jobIdOf } from '../consensus/job.js'
import { verifyVote } from '../consensus/vote.js'
import { ReplayGuard } from '../consensus/replay.js'
import { identityFromSeed, libp2pVerifier, signerFromPrivateKey } from '../network/keys.js'
import type { Signer } from '../consensus/types.js'
import type { JobRequest } from '../network/codec.js'

const T0 = 1_700_000_000_000
const inputs = { x: createTensor('float32', [2], new Float32Array([1, 2])) }
const outputs = { y: createTensor('float32', [2], new Float32Array([3, 4])) }
let worker: Signer
let requester: Signer

beforeAll(async () => {
  worker = signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(1)))
  requester = signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(2)))
})

function request (over: Partial<Parameters<typeof createJobSpec>[0]> = {}): JobRequest {
  const spec = createJobSpec({ modelHash: 'e'.repeat(64), inputHash: hashTensors(inputs), policy: { kind: 'exact' }, replicas: 3, quorum: 2, requester: requester.peerId, nonce: '00112233445566778899aabbccddeeff', createdAt: T0, expiresAt: T0 + 60_000, ...over })
  return { type: 'job', jobId: jobIdOf(spec), spec, inputs }
}

function deps (over: Partial<WorkerDeps> = {}): WorkerDeps {
  return { signer: worker, now: () => T0 + 10, ensureModel: async () => {}, run: async () => ({ outputs, numericClass: 'ort-node/cpu/t1/node', ms: 1 }), ...over }
}

const ctx = (from = requester.peerId) => ({ from, signal: new AbortController().signal })

describe('handleJob', () => {
  it('runs the job and signs a vote that verifies against the job', async () => {
    const req = request()
    const res = await handleJob(req, ctx(), deps())
    expect(res.type).toBe('result')
    if (res.type !== 'result') return
    await verifyVote(res.vote, libp2pVerifier, { jobId: req.jobId, modelHash: req.spec.modelHash, inputHash: req.spec.inputHash, output: res.outputs, expiresAt: req.spec.expiresAt })
    expect(res.vote.body.outputHash).toBe(hashTensors(outputs))
  })

  it.each([
    ['a job id that does not match the spec', () => ({ ...request(), jobId: 'f'.repeat(64) }), false, 'InvalidMessageError'],
    ['inputs that do not hash to the spec', () => ({ ...request(), inputs: { x: createTensor('float32', [2], new Float32Array([9, 9])) } }), false, 'InvalidMessageError'],
    ['a spec naming another requester', () => request(), true, 'JobRejectedError'],
    ['an expired job', () => request({ expiresAt: T0 + 5 }), false, 'JobRejectedError']
  ])('refuses %s', async (_name, make, fromSomeoneElse, name) => {
    await expect(handleJob(make(), ctx(fromSomeoneElse ? worker.peerId : requester.peerId), deps())).rejects.toMatchObject({ name })
  })

  it('refuses a replayed job id', async () => {
    const replay = new ReplayGuard()
    const req = request()
    await handleJob(req, ctx(), deps({ replay }))
    await expect(handleJob(req, ctx(), deps({ replay }))).rejects.toMatchObject({ name: 'JobRejectedError', message: expect.stringMatching(/replayed/) })
  })

  it('asked for the vote alone, holds large outputs for an output request and sends small ones with the vote', async () => {
    const big = { y: createTensor('float32', [INLINE_OUTPUT_BYTES / 4 + 1], new Float32Array(INLINE_OUTPUT_BYTES / 4 + 1).fill(0.5)) }
    const held = new HeldOutputs()
    const req = { ...request(), sendOutput: false }
    const res = await handleJob(req, ctx(), deps({ held, run: async () => ({ outputs: big, numericClass: 'ort-node/cpu/t1/node', ms: 1 }) }))
    expect(res).toMatchObject({ type: 'result' })
    expect(res).not.toHaveProperty('outputs')
    expect(held.size).toBe(1)
    const back = handleOutput({ type: 'output', jobId: req.jobId }, { from: requester.peerId }, held)
    expect(back.type === 'output' ? hashTensors(back.outputs) : undefined).toBe(hashTensors(big))
    // a few bytes: cheaper to send than to fetch
    const small = new HeldOutputs()
    const req2 = { ...request({ nonce: 'ffeeddccbbaa99887766554433221100' }), sendOutput: false }
    const res2 = await handleJob(req2, ctx(), deps({ held: small }))
    expect(res2.type === 'result' ? res2.outputs : undefined).toEqual(outputs)
    expect(small.size).toBe(0)
  })
})
