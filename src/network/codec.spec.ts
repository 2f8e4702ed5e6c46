import { describe, it, expect } from 'vitest'
import { decode, encode } from 'cborg'
import {
  decodeAnnouncement, decodeJobRequest, decodeJobResponse, decodeModelResponse, decodeModelRequest, decodeObservationMessage,
  encodeAnnouncement, encodeJobRequest, encodeJobResponse, encodeModelResponse, encodeModelRequest, encodeObservationMessage
} from './codec.js'
import { createTensor, hashTensors } from '../tensor/index.js'
import { jobIdOf } from '../consensus/job.js'
import { testJobSpec } from '../testing/jobs.js'
import type { JobSpec } from '../consensus/types.js'
import { signVote } from '../consensus/vote.js'
import { signObservation } from '../consensus/observation.js'
import { generateIdentity, signerFromPrivateKey } from './keys.js'

const inputs = { x: createTensor('float32', [1, 4], new Float32Array([1, 2, 3, 4])) }
const outputs = { y: createTensor('float32', [1, 2], new Float32Array([0.5, -0.5])) }

async function fixture (): Promise<{ spec: JobSpec, jobId: string, signer: ReturnType<typeof signerFromPrivateKey> }> {
  const signer = signerFromPrivateKey(await generateIdentity())
  const spec = testJobSpec(signer.peerId, inputs)
  return { spec, jobId: jobIdOf(spec), signer }
}

function expectName (fn: () => unknown, name: string, msg?: string): void {
  try {
    fn()
  } catch (err: any) {
    expect(err.name).toBe(name)
    if (msg != null) expect(err.message).toContain(msg)
    return
  }
  expect.unreachable(`expected ${name}`)
}

describe('job protocol codec', () => {
  it('round-trips a prepare and its ready, and validates both', () => {
    const jobId = 'a'.repeat(64)
    const modelHash = 'b'.repeat(64)
    expect(decodeJobRequest(encodeJobRequest({ type: 'prepare', jobId, modelHash }), 1024)).toEqual({ type: 'prepare', jobId, modelHash })
    expect(decodeJobResponse(encodeJobResponse({ type: 'ready', jobId, ms: 812.5 }), 1024)).toEqual({ type: 'ready', jobId, ms: 812.5 })
    expect(() => decodeJobRequest(encode({ v: 1, type: 'prepare', jobId, modelHash: 'nope' }), 1024)).toThrow(/modelHash/)
    expect(() => decodeJobResponse(encode({ v: 1, type: 'ready', jobId, ms: -1 }), 1024)).toThrow(/ms/)
    expect(() => decodeJobRequest(encode({ v: 1, type: 'other', jobId }), 1024)).toThrow(/job, prepare or output/)
  })

  it('round-trips a job request and result', async () => {
    const { spec, jobId, signer } = await fixture()
    const req = decodeJobRequest(encodeJobRequest({ type: 'job', jobId, spec, inputs }), 1 << 20)
    if (req.type !== 'job') throw new Error('decoded a prepare')
    expect(req.jobId).toBe(jobId)
    expect(req.spec).toEqual(spec)
    expect(hashTensors(req.inputs)).toBe(hashTensors(inputs))

    const vote = await signVote(signer, { jobId, modelHash: spec.modelHash, inputHash: spec.inputHash, outputHash: hashTensors(outputs), numericClass: 'ort-web/wasm/t1/chromium', signedAt: spec.createdAt + 5 })
    const res = decodeJobResponse(encodeJobResponse({ type: 'result', jobId, vote, outputs, ms: 3.5 }), 1 << 20)
    expect(res.type).toBe('result')
    if (res.type !== 'result') return
    expect(res.vote.body).toEqual(vote.body)
    expect(res.ms).toBe(3.5)
    expect(hashTensors(res.outputs ?? {})).toBe(hashTensors(outputs))
  })

  it('round-trips a vote without outputs, an output request and its answer', async () => {
    const { spec, jobId, signer } = await fixture()
    const req = decodeJobRequest(encodeJobRequest({ type: 'job', jobId, spec, inputs, sendOutput: false }), 1 << 20)
    expect(req).toMatchObject({ type: 'job', sendOutput: false })
    // the default (outputs sent) is not spelt on the wire
    expect(decodeJobRequest(encodeJobRequest({ type: 'job', jobId, spec, inputs, sendOutput: true }), 1 << 20)).not.toHaveProperty('sendOutput')
    const vote = await signVote(signer, { jobId, modelHash: spec.modelHash, inputHash: spec.inputHash, outputHash: hashTensors(outputs), numericClass: 'ort-web/wasm/t1/chromium', signedAt: spec.createdAt + 5 })
    const res = decodeJobResponse(encodeJobResponse({ type: 'result', jobId, vote, ms: 2 }), 1 << 20)
    expect(res).toMatchObject({ type: 'result', jobId, ms: 2 })
    expect(res).not.toHaveProperty('outputs')
    expect(decodeJobRequest(encodeJobRequest({ type: 'output', jobId }), 1024)).toEqual({ type: 'output', jobId })
    const got = decodeJobResponse(encodeJobResponse({ type: 'output', jobId, outputs }), 1 << 20)
    if (got.type !== 'output') throw new Error(`got ${got.type}`)
    expect(hashTensors(got.outputs)).toBe(hashTensors(outputs))
    expect(() => decodeJobResponse(encode({ v: 1, type: 'output', jobId }), 1024)).toThrow(/outputs/)
    expect(() => decodeJobRequest(encode({ v: 1, type: 'job', jobId, spec, inputs: {}, sendOutput: 'no' }), 1 << 20)).toThrow(/sendOutput/)
  })

  it('round-trips an error response', () => {
    const res = decodeJobResponse(encodeJobResponse({ type: 'error', jobId: 'b'.repeat(64), error: { name: 'InferenceError', message: 'boom' } }), 1024)
    expect(res).toEqual({ type: 'error', jobId: 'b'.repeat(64), error: { name: 'InferenceError', message: 'boom' } })
  })

  it('rejects oversized messages before decoding', async () => {
    const { spec, jobId } = await fixture()
    const bytes = encodeJobRequest({ type: 'job', jobId, spec, inputs })
    expectName(() => decodeJobRequest(bytes, bytes.length - 1), 'MessageTooLargeError')
  })

  it.each([
    ['garbage bytes', new Uint8Array([0xff, 0x00, 0x13])],
    ['not a map', encode([1, 2, 3])],
    ['wrong version', encode({ v: 2, type: 'job' })],
    ['wrong type', encode({ v: 1, type: 'result' })],
    ['bad job id', encode({ v: 1, type: 'job', jobId: 'XYZ', spec: {}, inputs: {} })],
    ['trailing bytes', new Uint8Array([...encode({ v: 1, type: 'job' }), 0])]
  ])('rejects %s as InvalidMessageError', (_name, bytes) => {
    expectName(() => decodeJobRequest(bytes, 1 << 20), 'InvalidMessageError')
  })

  it('rejects a request whose tensors do not match their dims', async () => {
    const { spec, jobId } = await fixture()
    const bytes = encode({ v: 1, type: 'job', jobId, spec, inputs: { x: { dtype: 'float32', dims: [1, 4], data: new Uint8Array(15) } } })
    expectName(() => decodeJobRequest(bytes, 1 << 20), 'InvalidMessageError', 'inputs')
  })

  it('rejects a request with a malformed spec', async () => {
    const { spec, jobId } = await fixture()
    const bytes = encode({ v: 1, type: 'job', jobId, spec: { ...spec, quorum: 0 }, inputs: {} })
    expectName(() => decodeJobRequest(bytes, 1 << 20), 'InvalidMessageError')
  })

  it('rejects a result with a malformed vote', async () => {
    const bytes = encode({ v: 1, type: 'result', jobId: 'c'.repeat(64), vote: { body: {}, signature: new Uint8Array(64), publicKey: new Uint8Array(36) }, outputs: {}, ms: 1 })
    expectName(() => decodeJobResponse(bytes, 1 << 20), 'InvalidMessageError', 'vote')
  })
})

describe('model protocol codec', () => {
  const chunkHashes = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]
  const manifest = { type: 'model-manifest' as const, sha256: 'e'.repeat(64), size: 70_000, chunkBytes: 65_536, chunkHashes }

  it('round-trips requests, manifests and chunk headers', () => {
    const m = { type: 'model-manifest' as const, sha256: 'd'.repeat(64), chunkBytes: 1 << 20 }
    expect(decodeModelRequest(encodeModelRequest(m), 1024)).toEqual(m)
    const c = { type: 'model-chunks' as const, sha256: 'd'.repeat(64), chunkBytes: 1 << 18, first: 3, count: 4 }
    expect(decodeModelRequest(encodeModelRequest(c), 1024)).toEqual(c)
    expect(decodeModelResponse(encodeModelResponse(manifest), 4096)).toEqual(manifest)
    const h = { type: 'model-chunks' as const, first: 3, count: 4, bytes: 1 << 20 }
    expect(decodeModelResponse(encodeModelResponse(h), 1024)).toEqual(h)
  })

  it('rejects an uppercase hash, a chunk size that is not a power of two in range, and a manifest that does not add up', () => {
    expectName(() => decodeModelRequest(encode({ v: 1, type: 'model-manifest', sha256: 'D'.repeat(64), chunkBytes: 65_536 }), 1024), 'InvalidMessageError')
    expectName(() => decodeModelRequest(encode({ v: 1, type: 'model-manifest', sha256: 'd'.repeat(64), chunkBytes: 100_000 }), 1024), 'InvalidMessageError', 'power of two')
    expectName(() => decodeModelRequest(encode({ v: 1, type: 'model-manifest', sha256: 'd'.repeat(64), chunkBytes: 1024 }), 1024), 'InvalidMessageError', 'chunkBytes')
    expectName(() => decodeModelRequest(encode({ v: 1, type: 'model-chunks', sha256: 'd'.repeat(64), chunkBytes: 65_536, first: 0, count: 0 }), 1024), 'InvalidMessageError', 'count')
    expectName(() => decodeModelResponse(encodeModelResponse({ ...manifest, size: 200_000 }), 4096), 'InvalidMessageError', 'chunk hashes')
    expectName(() => decodeModelResponse(encodeModelResponse({ ...manifest, chunkHashes: [chunkHashes[0], new Uint8Array(31)] }), 4096), 'InvalidMessageError', 'chunkHashes')
  })
})

describe('announcement codec', () => {
  const a = { peerId: '12D3KooWabc', models: ['f'.repeat(64)], numericClass: 'ort-web/wasm/t2/chromium', backend: 'wasm', threads: 2, jobsDone: 4, at: 1, paused: false, runtime: 'ort-web' }

  it('round-trips, paused or not, with and without a runtime', () => {
    expect(decodeAnnouncement(encodeAnnouncement(a), 4096)).toEqual(a)
    expect(decodeAnnouncement(encodeAnnouncement({ ...a, paused: true }), 4096)).toEqual({ ...a, paused: true })
    const { runtime: _runtime, ...noRuntime } = a
    expect(decodeAnnouncement(encodeAnnouncement(noRuntime), 4096)).toEqual(noRuntime)
  })

  it('reads an announcement from a peer that predates paused and runtime as not paused', () => {
    const { paused: _paused, runtime: _runtime, ...old } = a
    expect(decodeAnnouncement(encode({ v: 1, ...old }), 4096)).toEqual({ ...old, paused: false })
  })

  it('puts only the announcement fields on the wire', () => {
    const bytes = encodeAnnouncement({ ...a, secret: 'x'.repeat(100) } as typeof a)
    expect(decodeAnnouncement(bytes, 4096)).toEqual(a)
    expect(bytes.byteLength).toBe(encodeAnnouncement(a).byteLength)
  })

  it('rejects a paused that is not a boolean and a runtime that is empty, too long or not a string', () => {
    expectName(() => decodeAnnouncement(encode({ v: 1, ...a, paused: 1 }), 4096), 'InvalidMessageError', 'paused')
    expectName(() => decodeAnnouncement(encode({ v: 1, ...a, paused: 'no' }), 4096), 'InvalidMessageError', 'paused')
    expectName(() => decodeAnnouncement(encode({ v: 1, ...a, runtime: '' }), 4096), 'InvalidMessageError', 'runtime')
    expectName(() => decodeAnnouncement(encode({ v: 1, ...a, runtime: 'r'.repeat(33) }), 4096), 'InvalidMessageError', 'runtime')
    expectName(() => decodeAnnouncement(encode({ v: 1, ...a, runtime: 7 }), 4096), 'InvalidMessageError', 'runtime')
    expect(decodeAnnouncement(encode({ v: 1, ...a, runtime: 'r'.repeat(32) }), 4096).runtime).toBe('r'.repeat(32))
  })

  it('rejects too many or malformed model hashes', () => {
    expectName(() => decodeAnnouncement(encodeAnnouncement({ ...a, models: Array(200).fill('f'.repeat(64)) }), 1 << 20), 'InvalidMessageError', 'models')
    expectName(() => decodeAnnouncement(encodeAnnouncement({ ...a, models: ['nope'] }), 4096), 'InvalidMessageError', 'models')
    expectName(() => decodeAnnouncement(encodeAnnouncement({ ...a, threads: -1 }), 4096), 'InvalidMessageError', 'threads')
  })
})

describe('observation codec', () => {
  it('carries a v2 receipt\'s output bytes beside it, keyed on arrival by their own hash', async () => {
    const { spec, jobId, signer } = await fixture()
    const vote = await signVote(signer, { jobId, modelHash: spec.modelHash, inputHash: spec.inputHash, outputHash: hashTensors(outputs), numericClass: 'ort-web/wasm/t1/chromium', signedAt: spec.createdAt + 1 })
    const observation = await signObservation(signer, { subject: signer.peerId, outcome: 'dissented', jobId, modelHash: spec.modelHash, at: spec.createdAt + 2 })
    const accepted = { y: createTensor('float32', [1, 2], new Float32Array([0.25, 0.75])) }
    // the sender's keys are not trusted: a wrong key is re-keyed by the bytes' hash
    const bytes = encodeObservationMessage({ observation, evidence: { kind: 'contradiction', vote, output: outputs, receiptText: '{}', receiptOutputs: { ['0'.repeat(64)]: accepted } } })
    const back = decodeObservationMessage(bytes, 1 << 20)
    if (back.evidence?.kind !== 'contradiction') throw new Error('expected contradiction evidence')
    expect(Object.keys(back.evidence.receiptOutputs ?? {})).toEqual([hashTensors(accepted)])
    expect(back.evidence.receiptOutputs?.[hashTensors(accepted)].y.data).toEqual(new Float32Array([0.25, 0.75]))
    // without them (a v1 receipt carries its own) the field stays absent
    const plain = decodeObservationMessage(encodeObservationMessage({ observation, evidence: { kind: 'contradiction', vote, output: outputs, receiptText: '{}' } }), 1 << 20)
    expect(plain.evidence).not.toHaveProperty('receiptOutputs')
    // bounded and validated
    const withOutputs = (list: unknown): Uint8Array => {
      const m = decode(bytes) as { evidence: Record<string, unknown> }
      m.evidence.receiptOutputs = list
      return encode(m)
    }
    const one = (decode(bytes) as { evidence: { receiptOutputs: unknown[] } }).evidence.receiptOutputs[0] as { y: Record<string, unknown> }
    expectName(() => decodeObservationMessage(withOutputs(Array(65).fill(one)), 1 << 20), 'InvalidMessageError', 'receiptOutputs')
    expectName(() => decodeObservationMessage(withOutputs([]), 1 << 20), 'InvalidMessageError', 'receiptOutputs')
    expectName(() => decodeObservationMessage(withOutputs([{ y: { ...one.y, dims: [1, 3] } }]), 1 << 20), 'InvalidMessageError', 'receiptOutputs[0]')
  })
})
