/**
 * Hostile receipts: mangled text, structurally mutated receipts (spelled
 * canonically, so they reach the deeper checks), and mutated receipts that a
 * dishonest requester re-signed. `verifyReceipt` must always resolve (never
 * reject), no mutation may verify, and `parseReceipt` / `assertValidReceipt`
 * may only throw ReceiptInvalidError (or ReceiptVersionError). Both layouts:
 * v1 (outputs embedded) and v2 (outputs by hash, the bytes given beside).
 */
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { identityFromSeed, libp2pVerifier, signerFromPrivateKey } from '../network/keys.js'
import { expectNamed, expectNamedAsync, mutatedText, mutatedValue } from '../testing/fuzz.js'
import { DTYPES, bytesPerElement, createTensor, hashTensors } from '../tensor/index.js'
import { createJobSpec, jobIdOf } from './job.js'
import { assertValidReceipt, buildReceipt, parseReceipt, receiptOutput, receiptOutputsOf, receiptSigningBytes, serializeReceipt, verifyReceipt } from './receipt.js'
import { tally } from './tally.js'
import { toBase64 } from './util.js'
import { signVote } from './vote.js'
import type { Receipt, ReceiptOutputs } from './receipt.js'
import type { Ballot, ComparisonPolicy, JobSpec, Signer } from './types.js'
import type { DType, NamedTensors } from '../tensor/index.js'

const T0 = 1_700_000_000_000
const CLASS = 'ort-web/wasm/t1/chromium'
let requester: Signer
let valid: string[]
/** The bytes every v2 receipt in `valid` commits to (keyed by hash, so one map serves them all). */
let outputs: Record<string, NamedTensors>

function spec (policy: ComparisonPolicy, replicas: number): JobSpec {
  return createJobSpec({
    modelHash: 'ab'.repeat(32), inputHash: 'cd'.repeat(32), policy, replicas, quorum: 2,
    requester: requester.peerId, nonce: '0123456789abcdef', createdAt: T0, expiresAt: T0 + 60_000
  })
}

async function ballot (signer: Signer, s: JobSpec, output: NamedTensors): Promise<Ballot> {
  const vote = await signVote(signer, { jobId: jobIdOf(s), modelHash: s.modelHash, inputHash: s.inputHash, outputHash: hashTensors(output), numericClass: CLASS, signedAt: T0 + 1000 })
  return { vote, output }
}

async function receiptFor (s: JobSpec, ballots: Ballot[], version: 1 | 2): Promise<string> {
  const r = tally({ ballots, policy: s.policy, quorum: s.quorum })
  if (r.status !== 'accepted') throw new Error(`tally ${r.status}`)
  const receipt = await buildReceipt({ spec: s, accepted: r, ballots, agreeingPeers: r.agreeing.map((b) => b.vote.body.peerId), signer: requester, version })
  if (version === 2) Object.assign(outputs, receiptOutputsOf(receipt, r.output, ballots) satisfies ReceiptOutputs)
  return serializeReceipt(receipt)
}

beforeAll(async () => {
  const key = async (n: number): Promise<Signer> => signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(n)))
  const [req, alice, bob, carol, dave] = await Promise.all([key(20), key(21), key(22), key(23), key(24)])
  requester = req
  const f32 = (d: number[]): NamedTensors => ({ y: createTensor('float32', [1, d.length], Float32Array.from(d)), k: createTensor('int64', [1], BigInt64Array.of(7n)) })
  const tol = spec({ kind: 'tolerance', atol: 1e-3, rtol: 0 }, 4)
  const exact = spec({ kind: 'exact' }, 2)
  outputs = {}
  valid = []
  for (const version of [1, 2] as const) {
    // three agreeing votes, one with another hash (its output is carried), and a dissenter
    valid.push(await receiptFor(tol, [await ballot(alice, tol, f32([0.5, -0, NaN])), await ballot(bob, tol, f32([0.5004, 0, NaN])), await ballot(carol, tol, f32([9, 9, 9])), await ballot(dave, tol, f32([0.5, -0, NaN]))], version))
    valid.push(await receiptFor(exact, [await ballot(alice, exact, f32([1])), await ballot(bob, exact, f32([1]))], version))
  }
})

/** A dishonest requester edits the receipt and signs it again (null when the edit cannot even be serialized). */
async function resigned (r: unknown): Promise<string | null> {
  try {
    const edited = r as Receipt
    return serializeReceipt({ ...edited, signature: toBase64(await requester.sign(receiptSigningBytes(edited))) })
  } catch {
    return null
  }
}

const RECEIPT_ERRORS = ['ReceiptInvalidError', 'ReceiptVersionError']

/** A receipt tensor list with valid base64 and dims that match the data, but any names, dtypes and values. */
const receiptTensors = fc.array(fc.record({
  name: fc.constantFrom('y', 'k', 'z'),
  dtype: fc.constantFrom<DType>(...DTYPES),
  dims: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 })
}), { minLength: 1, maxLength: 3 }).chain((specs) => fc.tuple(...specs.map((t) => {
  const n = t.dims.reduce((a, b) => a * b, 1) * bytesPerElement(t.dtype)
  return fc.uint8Array({ minLength: n, maxLength: n })
    .map((bytes) => ({ ...t, data: toBase64(t.dtype === 'bool' ? bytes.map((b) => b & 1) : bytes) }))
})))
  .map((ts) => [...new Map(ts.map((t) => [t.name, t])).values()].sort((a, b) => (a.name < b.name ? -1 : 1)))

const policies = fc.constantFrom<ComparisonPolicy>(
  { kind: 'exact' }, { kind: 'exact', crossClass: { atol: 1, rtol: 0 } }, { kind: 'tolerance', atol: 0, rtol: 0 }, { kind: 'tolerance', atol: 1e9, rtol: 1 },
  { kind: 'topk', k: 1 }, { kind: 'topk', k: 3, output: 'y' }, { kind: 'topk', k: 2, output: 'nope' }, { kind: 'ctc-text' }, { kind: 'ctc-text', blank: 5, output: 'y' },
  { kind: 'mask', threshold: 0.5, maxMismatch: 0 }, { kind: 'mask', threshold: 0, maxMismatch: 1, output: 'k' }
)

/** What a dishonest requester might change before signing again: votes, quorum, policy, the accepted output. */
type Edit = (r: any, pick: number) => void
const edits: fc.Arbitrary<Edit> = fc.oneof(
  fc.constant<Edit>((r, i) => { const v = r.votes[i % r.votes.length]; v.agrees = !v.agrees }),
  fc.constant<Edit>((r, i) => { if (r.votes.length > 1) r.votes.splice(i % r.votes.length, 1) }),
  fc.constant<Edit>((r, i) => { r.votes.push(structuredClone(r.votes[i % r.votes.length])) }),
  fc.integer({ min: 0, max: 5 }).map<Edit>((q) => (r) => { r.spec.quorum = q }),
  fc.integer({ min: 1, max: 5 }).map<Edit>((n) => (r) => { r.spec.replicas = n }),
  policies.map<Edit>((p) => (r) => { r.spec.policy = p }),
  receiptTensors.map<Edit>((t) => (r) => { r.accepted.output = t }),
  receiptTensors.map<Edit>((t) => (r, i) => { r.votes[i % r.votes.length].output = t }),
  fc.constant<Edit>((r, i) => { delete r.votes[i % r.votes.length].output }),
  fc.constantFrom('ort-node/cpu/t1/node', 'x', 'ort-web/wasm/t1/chromium').map<Edit>((c) => (r) => { r.accepted.numericClass = c }),
  fc.constant<Edit>((r, i) => { r.accepted.outputHash = r.votes[i % r.votes.length].body.outputHash })
)

/** Plausible edits of a valid receipt; the jobId is recomputed (mostly) so the deeper checks run. */
const edited = fc.tuple(fc.nat(3), fc.array(fc.tuple(edits, fc.nat()), { minLength: 1, maxLength: 4 }), fc.boolean()).map(([which, es, keepJobId]) => {
  const r = JSON.parse(valid[which])
  for (const [edit, pick] of es) edit(r, pick)
  if (!keepJobId) { try { r.jobId = jobIdOf(r.spec) } catch { /* an invalid spec keeps the old id */ } }
  return r
})

async function neverForged (text: string): Promise<void> {
  const v = await expectNamedAsync(async () => await verifyReceipt(text, libp2pVerifier, { now: T0 + 5000, outputs }), [])
  if (!v.ok) return
  // a mutation that verifies must be one of the valid receipts, unchanged
  if (v.value.ok) expect(valid).toContain(text)
  const parsed = expectNamed(() => parseReceipt(text), RECEIPT_ERRORS)
  if (parsed.ok) {
    expectNamed(() => receiptOutput(parsed.value), ['InvalidMessageError', 'ReceiptOutputMissingError'])
    expectNamed(() => receiptOutput(parsed.value, outputs), ['InvalidMessageError', 'ReceiptOutputMissingError'])
  }
  await expectNamedAsync(async () => await assertValidReceipt(text, libp2pVerifier, { outputs }), RECEIPT_ERRORS)
}

describe('receipts under hostile input', () => {
  it('mangled receipt text never verifies and never crashes the verifier', async () => {
    await fc.assert(fc.asyncProperty(mutatedText(valid), neverForged), { numRuns: 300 })
  })

  it('structurally mutated receipts (spelled canonically) never verify and never crash it', async () => {
    const texts = mutatedValue(valid.map((t) => JSON.parse(t)), { bytes: false }).map((r) => `${JSON.stringify(r, null, 2)}\n`)
    await fc.assert(fc.asyncProperty(texts, neverForged), { numRuns: 300 })
  })

  it('mutated receipts a dishonest requester re-signed are checked without crashing', async () => {
    await fc.assert(fc.asyncProperty(mutatedValue(valid.map((t) => JSON.parse(t)), { bytes: false }), async (r) => {
      const text = await resigned(r)
      if (text === null) return
      await expectNamedAsync(async () => await verifyReceipt(text, libp2pVerifier, { now: T0 + 5000, outputs }), [])
      await expectNamedAsync(async () => await assertValidReceipt(text, libp2pVerifier, { outputs }), RECEIPT_ERRORS)
    }), { numRuns: 200 })
  })

  it('plausible edits a dishonest requester re-signed never crash the checks', async () => {
    await fc.assert(fc.asyncProperty(edited, async (r) => {
      const text = await resigned(r)
      if (text === null) return
      await expectNamedAsync(async () => await verifyReceipt(text, libp2pVerifier, { now: T0 + 5000, outputs }), [])
      await expectNamedAsync(async () => await assertValidReceipt(text, libp2pVerifier, { outputs }), RECEIPT_ERRORS)
    }), { numRuns: 300 })
  })

  it('arbitrary JSON and non-JSON text is refused as format', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(fc.string({ maxLength: 200 }), fc.jsonValue().map((j) => JSON.stringify(j) ?? '')), async (text) => {
      const v = await verifyReceipt(text, libp2pVerifier)
      expect(v.ok).toBe(false)
      expect(v.checks[0].name).toBe('format')
      const p = expectNamed(() => parseReceipt(text), RECEIPT_ERRORS)
      expect(p.ok).toBe(false)
    }), { numRuns: 200 })
  })
})

describe('regressions found by these properties', () => {
  it('a version whose toString is not a function fails `version` with a message that says so', async () => {
    const text = valid[1].replace('"v": 1,', '"v": {"toString": 1},')
    const v = await verifyReceipt(text, libp2pVerifier)
    expect(v.checks).toEqual([{ name: 'version', ok: false, detail: 'receipt: unsupported version {"toString":1} (this code reads 1 and 2)' }])
  })
})
