/**
 * Hostile input for every wire decoder: random bytes, byte-level mutations of
 * valid encodings, and valid CBOR whose fields were removed, added or changed
 * in type. Each decoder must return a message or throw InvalidMessageError /
 * MessageTooLargeError; what it returns must survive the checks that follow
 * it in the real code path (vote verification, observation weighing).
 */
import fc from 'fast-check'
import { decode, encode } from 'cborg'
import { beforeAll, describe, expect, it } from 'vitest'
import { expectNamed, expectNamedAsync, hostileValue, mutatedBytes, mutatedValue } from '../testing/fuzz.js'
import {
  decodeAnnouncement, decodeJobRequest, decodeJobResponse, decodeModelResponse, decodeModelRequest, decodeObservationMessage,
  encodeAnnouncement, encodeJobRequest, encodeJobResponse, encodeModelResponse, encodeModelRequest, encodeObservationMessage
} from './codec.js'
import { identityFromSeed, libp2pVerifier, signerFromPrivateKey } from './keys.js'
import { createJobSpec, jobIdOf } from '../consensus/job.js'
import { signObservation, weighObservation } from '../consensus/observation.js'
import { signVote, verifyVote } from '../consensus/vote.js'
import { createTensor, hashTensors } from '../tensor/index.js'

const WIRE_ERRORS = ['InvalidMessageError', 'MessageTooLargeError']
const MAX = 1 << 20

let valid: Record<'job' | 'result' | 'error' | 'modelRequest' | 'modelHeader' | 'modelError' | 'announcement' | 'observation' | 'contradiction' | 'equivocation', Uint8Array>

beforeAll(async () => {
  const [requester, worker] = await Promise.all([1, 2].map(async (n) => signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(n)))))
  const inputs = { x: createTensor('float32', [1, 4], new Float32Array([1, 2, 3, 4])), ids: createTensor('int64', [2], new BigInt64Array([1n, -2n])) }
  const outputs = { y: createTensor('float32', [1, 2], new Float32Array([0.5, -0.5])) }
  const spec = createJobSpec({
    modelHash: 'a'.repeat(64), inputHash: hashTensors(inputs), policy: { kind: 'tolerance', atol: 1e-5, rtol: 1e-4 }, replicas: 3, quorum: 2,
    requester: requester.peerId, nonce: '0123456789abcdef0123456789abcdef', createdAt: 1_700_000_000_000, expiresAt: 1_700_000_060_000
  })
  const jobId = jobIdOf(spec)
  const vote = await signVote(worker, { jobId, modelHash: spec.modelHash, inputHash: spec.inputHash, outputHash: hashTensors(outputs), numericClass: 'ort-web/wasm/t1/chromium', signedAt: spec.createdAt + 5 })
  const vote2 = await signVote(worker, { jobId, modelHash: spec.modelHash, inputHash: spec.inputHash, outputHash: 'f'.repeat(64), numericClass: 'ort-web/wasm/t1/chromium', signedAt: spec.createdAt + 6 })
  const observation = await signObservation(requester, { subject: worker.peerId, outcome: 'equivocated', jobId, modelHash: spec.modelHash, at: spec.createdAt + 10 })
  valid = {
    job: encodeJobRequest({ type: 'job', jobId, spec, inputs }),
    result: encodeJobResponse({ type: 'result', jobId, vote, outputs, ms: 3.5 }),
    error: encodeJobResponse({ type: 'error', jobId, error: { name: 'InferenceError', message: 'boom' } }),
    modelRequest: encodeModelRequest({ type: 'model-chunks', sha256: 'd'.repeat(64), chunkBytes: 1 << 20, first: 2, count: 1 }),
    modelHeader: encodeModelResponse({ type: 'model-manifest', sha256: 'e'.repeat(64), size: 100_000, chunkBytes: 65_536, chunkHashes: [new Uint8Array(32), new Uint8Array(32).fill(7)] }),
    modelError: encodeModelResponse({ type: 'error', error: { name: 'ModelNotFoundError', message: 'no' } }),
    announcement: encodeAnnouncement({ peerId: worker.peerId, models: ['f'.repeat(64)], numericClass: 'ort-web/wasm/t2/chromium', backend: 'wasm', threads: 2, jobsDone: 4, at: 1, paused: false, runtime: 'ort-web' }),
    observation: encodeObservationMessage({ observation }),
    contradiction: encodeObservationMessage({ observation, evidence: { kind: 'contradiction', vote, output: outputs, receiptText: '{}', receiptOutputs: { [hashTensors(outputs)]: outputs } } }),
    equivocation: encodeObservationMessage({ observation, evidence: { kind: 'equivocation', votes: [vote, vote2] } })
  }
})

/** CBOR of a value; cborg cannot encode some (BigInt over 64 bits): those become empty input. */
function safeEncode (v: unknown): Uint8Array {
  try { return encode(v) } catch { return new Uint8Array() }
}

/**
 * Hostile bytes around some valid encodings: random bytes, random CBOR,
 * byte mutations, and CBOR with fields removed, added or changed in type.
 */
function hostile (...keys: Array<keyof typeof valid>): fc.Arbitrary<Uint8Array> {
  const encodings = keys.map((k) => valid[k])
  const reencoded = mutatedValue(encodings.map((b) => decode(b)), HOSTILE).map(safeEncode)
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
    { weight: 1, arbitrary: hostileValue(HOSTILE).map(safeEncode) },
    { weight: 3, arbitrary: mutatedBytes(encodings) },
    { weight: 5, arbitrary: reencoded }
  )
}

const RUNS = { numRuns: 400 }
/** Hostile values include unprintable objects ({ toString: 1 }) and BigInts. */
const HOSTILE = { unprintable: true }

describe('wire decoders under hostile input', () => {
  it('decodeJobRequest', () => {
    fc.assert(fc.property(hostile('job', 'result'), (bytes) => {
      const r = expectNamed(() => decodeJobRequest(bytes, MAX), WIRE_ERRORS)
      if (r.ok) expect(r.value.type).toBe('job')
    }), RUNS)
  })

  it('decodeJobResponse, then the vote check the requester runs next', async () => {
    await fc.assert(fc.asyncProperty(hostile('result', 'error', 'job'), async (bytes) => {
      const r = expectNamed(() => decodeJobResponse(bytes, MAX), WIRE_ERRORS)
      if (!r.ok || r.value.type !== 'result') return
      const { vote, outputs } = r.value
      await expectNamedAsync(async () => await verifyVote(vote, libp2pVerifier, { jobId: vote.body.jobId, modelHash: vote.body.modelHash, inputHash: vote.body.inputHash, output: outputs }), ['InvalidVoteError'])
    }), RUNS)
  })

  it('decodeModelRequest', () => {
    fc.assert(fc.property(hostile('modelRequest', 'modelHeader'), (bytes) => {
      expectNamed(() => decodeModelRequest(bytes, 1024), WIRE_ERRORS)
    }), RUNS)
  })

  it('decodeModelResponse', () => {
    fc.assert(fc.property(hostile('modelHeader', 'modelError', 'modelRequest'), (bytes) => {
      const r = expectNamed(() => decodeModelResponse(bytes, 4096), WIRE_ERRORS)
      if (r.ok && r.value.type === 'model-manifest') {
        expect(Number.isSafeInteger(r.value.size)).toBe(true)
        expect(r.value.chunkHashes.length).toBe(Math.ceil(r.value.size / r.value.chunkBytes))
      }
    }), RUNS)
  })

  it('decodeAnnouncement', () => {
    fc.assert(fc.property(hostile('announcement'), (bytes) => {
      expectNamed(() => decodeAnnouncement(bytes, 4096), WIRE_ERRORS)
    }), RUNS)
  })

  it('decodeObservationMessage, then weighing its evidence', async () => {
    await fc.assert(fc.asyncProperty(hostile('observation', 'contradiction', 'equivocation'), async (bytes) => {
      const r = expectNamed(() => decodeObservationMessage(bytes, MAX), WIRE_ERRORS)
      if (!r.ok) return
      // weighObservation promises never to throw for bad evidence
      const w = await expectNamedAsync(async () => await weighObservation(r.value.observation, r.value.evidence, libp2pVerifier), [])
      expect(w.ok).toBe(true)
    }), { numRuns: 300 })
  })

  it('refuses anything over the size limit before decoding it', () => {
    fc.assert(fc.property(fc.constantFrom('job', 'result', 'announcement', 'contradiction') as fc.Arbitrary<keyof typeof valid>, fc.nat(), (key, cut) => {
      const bytes = valid[key]
      const limit = cut % bytes.length
      const decoders = [decodeJobRequest, decodeJobResponse, decodeAnnouncement, decodeObservationMessage, decodeModelRequest]
      for (const d of decoders) {
        const r = expectNamed(() => d(bytes, limit), WIRE_ERRORS)
        expect(r.ok).toBe(false)
        if (!r.ok) expect(r.error.name).toBe('MessageTooLargeError')
      }
    }), { numRuns: 100 })
  })
})

/**
 * Crashes the properties above once found (a TypeError instead of
 * InvalidMessageError from error messages built with String(value)), pinned
 * as regression cases.
 */
describe('former crashes on unprintable values', () => {
  const bad = { toString: 1 }
  const cases: Array<[string, () => unknown]> = [
    ['codec.ts decodeMessage: v = {toString: 1}', () => decodeModelRequest(encode({ v: bad, type: 'model-request', sha256: 'd'.repeat(64) }), MAX)],
    ['codec.ts decodeJobRequest: type = {toString: 1}', () => decodeJobRequest(encode({ v: 1, type: bad }), MAX)],
    ['codec.ts decodeJobResponse: type = {toString: 1}', () => decodeJobResponse(encode({ v: 1, type: bad }), MAX)],
    ['codec.ts decodeModelRequest: type = {toString: 1}', () => decodeModelRequest(encode({ v: 1, type: bad }), MAX)],
    ['codec.ts decodeModelResponse: type = {toString: 1}', () => decodeModelResponse(encode({ v: 1, type: bad }), MAX)],
    ['codec.ts decodeObservationMessage: type = {toString: 1}', () => decodeObservationMessage(encode({ v: 1, type: bad }), MAX)],
    ['codec.ts decodeObservationMessage: evidence.kind = {toString: 1}', () => decodeObservationMessage(withField('observation', ['evidence'], { kind: bad }), MAX)],
    ['job.ts validateJobSpec: spec.v = {toString: 1}', () => decodeJobRequest(withField('job', ['spec', 'v'], bad), MAX)],
    ['job.ts validateJobSpec: spec.replicas = {toString: 1}', () => decodeJobRequest(withField('job', ['spec', 'replicas'], bad), MAX)],
    ['job.ts validateJobSpec: spec.quorum = {toString: 1}', () => decodeJobRequest(withField('job', ['spec', 'quorum'], bad), MAX)],
    ['compare.ts validatePolicy: spec.policy.atol = {toString: 1}', () => decodeJobRequest(withField('job', ['spec', 'policy', 'atol'], bad), MAX)],
    ['compare.ts validatePolicy: spec.policy = {kind: 2^60 (a CBOR BigInt)}', () => decodeJobRequest(withField('job', ['spec', 'policy'], { kind: 2n ** 60n }), MAX)],
    ['observation.ts validateObservationBody: observation.body.v = {toString: 1}', () => decodeObservationMessage(withField('observation', ['observation', 'body', 'v'], bad), MAX)],
    ['observation.ts validateObservationBody: observation.body.outcome = {toString: 1}', () => decodeObservationMessage(withField('observation', ['observation', 'body', 'outcome'], bad), MAX)]
  ]
  it.each(cases)('%s', (_name, run) => {
    expectNamed(run, WIRE_ERRORS)
  })
})

/** A valid message with one field (by path) set to `value`, re-encoded. */
function withField (key: keyof typeof valid, path: string[], value: unknown): Uint8Array {
  const m = decode(valid[key]) as Record<string, any>
  let o = m
  for (const p of path.slice(0, -1)) o = o[p]
  o[path[path.length - 1]] = value
  return encode(m)
}
