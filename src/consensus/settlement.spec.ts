import { beforeAll, describe, expect, it } from 'vitest'
import { identityFromSeed, libp2pVerifier, signerFromPrivateKey } from '../network/keys.js'
import { hashTensors } from '../tensor/index.js'
import { createJobSpec, jobIdOf } from './job.js'
import { buildReceipt, parseReceipt, receiptSigningBytes, serializeReceipt, verifyReceipt } from './receipt.js'
import { parseRecord, receiptHashOf, resolveStatus, serializeRecord, signSettlement, validateAssurance } from './settlement.js'
import { CLASS_WEB, f32, out } from './test-fixtures.js'
import { toBase64 } from './util.js'
import { signVote } from './vote.js'
import type { Receipt } from './receipt.js'
import type { Assurance, SettlementRecord } from './settlement.js'
import type { JobSpec, SignatureVerifier, Signer } from './types.js'

const T0 = 1_700_000_000_000
const verifier: SignatureVerifier = libp2pVerifier
let requester: Signer
let other: Signer
let alice: Signer

beforeAll(async () => {
  const key = async (n: number): Promise<Signer> => signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(n)))
  ;[requester, other, alice] = await Promise.all([key(20), key(21), key(22)])
})

async function soleReceipt (assurance?: Assurance, nonce = '0123456789abcdef'): Promise<{ spec: JobSpec, receipt: Receipt, text: string }> {
  const spec = createJobSpec({ modelHash: 'ab'.repeat(32), inputHash: 'cd'.repeat(32), policy: { kind: 'exact' }, replicas: 1, quorum: 1, requester: requester.peerId, nonce, createdAt: T0, expiresAt: T0 + 60_000 })
  const output = out(f32([1, 2, 3]))
  const outputHash = hashTensors(output)
  const vote = await signVote(alice, { jobId: jobIdOf(spec), modelHash: spec.modelHash, inputHash: spec.inputHash, outputHash, numericClass: CLASS_WEB, signedAt: T0 + 1000 })
  const receipt = await buildReceipt({ spec, accepted: { output, outputHash, numericClass: CLASS_WEB }, ballots: [{ vote, output }], agreeingPeers: [alice.peerId], signer: requester, ...(assurance !== undefined ? { assurance } : {}) })
  return { spec, receipt, text: serializeReceipt(receipt) }
}

describe('receipt assurance', () => {
  it('is signed into the receipt: provisional until a time, replicated by default', async () => {
    const until = T0 + 3_600_000
    const p = await soleReceipt({ kind: 'provisional', until })
    expect(parseReceipt(p.text).assurance).toEqual({ kind: 'provisional', until })
    const v = await verifyReceipt(p.text, verifier, { now: T0 + 2000 })
    expect(v.ok).toBe(true)
    expect(v.status).toEqual({ kind: 'provisional', until })
    expect(v.statusText).toMatch(/^provisional until 2023-/)
    // after the window a provisional receipt is final without any record
    expect((await verifyReceipt(p.text, verifier, { now: until })).status).toEqual({ kind: 'final', by: 'window' })

    const r = await soleReceipt()
    expect(r.receipt.assurance).toEqual({ kind: 'replicated' })
    expect((await verifyReceipt(r.text, verifier)).status).toEqual({ kind: 'final', by: 'replicated' })
  })

  it('cannot be upgraded without the requester signing again', async () => {
    const p = await soleReceipt({ kind: 'provisional', until: T0 + 3_600_000 })
    const forged = p.text.replace(/"assurance": \{\n\s+"kind": "provisional",\n\s+"until": \d+\n\s+\}/, '"assurance": {\n    "kind": "replicated"\n  }')
    expect(forged).not.toBe(p.text)
    const v = await verifyReceipt(forged, verifier)
    expect(v.ok).toBe(false)
    expect(v.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['requester'])
    expect(v.status).toBeUndefined()
  })

  it('old receipts without the field still verify, and read as replicated', async () => {
    const r = await soleReceipt()
    const old: Receipt = { ...r.receipt }
    delete old.assurance
    const text = serializeReceipt({ ...old, signature: toBase64(await requester.sign(receiptSigningBytes(old))) })
    expect(text).not.toContain('assurance')
    const v = await verifyReceipt(text, verifier)
    expect(v.ok).toBe(true)
    expect(v.status).toEqual({ kind: 'final', by: 'replicated' })
  })

  it('rejects malformed assurance values', () => {
    expect(() => validateAssurance({ kind: 'provisional' })).toThrow(/until/)
    expect(() => validateAssurance({ kind: 'replicated', until: 1 })).toThrow(/unknown field/)
    expect(() => validateAssurance({ kind: 'eventually' })).toThrow(/kind/)
    expect(() => validateAssurance({ kind: 'provisional', until: -1 })).toThrow(/until/)
  })
})

describe('settlement and retraction records', () => {
  it('a final record settles a provisional receipt early; a retraction wins and says why', async () => {
    const p = await soleReceipt({ kind: 'provisional', until: T0 + 3_600_000 })
    const final = serializeRecord(await signSettlement({ jobId: p.receipt.jobId, receiptText: p.text, status: 'final', at: T0 + 5000, signer: requester }))
    const settled = await verifyReceipt(p.text, verifier, { now: T0 + 6000, records: [final] })
    expect(settled.ok).toBe(true)
    expect(settled.status).toEqual({ kind: 'final', by: 'record' })

    const retraction = serializeRecord(await signSettlement({ jobId: p.receipt.jobId, receiptText: p.text, status: 'retracted', reason: 'recheck disagreed', at: T0 + 9000, signer: requester }))
    const v = await verifyReceipt(p.text, verifier, { now: T0 + 10_000, records: [final, retraction] })
    expect(v.ok).toBe(true)
    expect(v.checks.filter((c) => c.name === 'record').map((c) => c.detail)).toEqual(['final', 'retracted'])
    expect(v.status).toEqual({ kind: 'retracted', reason: 'recheck disagreed', at: T0 + 9000 })
    expect(v.statusText).toContain('recheck disagreed')
    // a replicated receipt can be retracted too
    const r = await soleReceipt(undefined, 'fedcba9876543210')
    const rr = serializeRecord(await signSettlement({ jobId: r.receipt.jobId, receiptText: r.text, status: 'retracted', reason: 'r', at: T0, signer: requester }))
    expect((await verifyReceipt(r.text, verifier, { records: [rr] })).status?.kind).toBe('retracted')
  })

  it('round-trips canonically and binds the receipt text', async () => {
    const p = await soleReceipt({ kind: 'provisional', until: T0 + 1 })
    const rec = await signSettlement({ jobId: p.receipt.jobId, receiptText: p.text, status: 'retracted', reason: 'x', at: T0, signer: requester })
    const text = serializeRecord(rec)
    expect(parseRecord(text)).toEqual(rec)
    expect(rec.receiptHash).toBe(receiptHashOf(p.text))
    expect(() => parseRecord(text.replace('{"v":1', '{ "v":1'))).toThrow(/canonical/)
    expect(() => parseRecord(text.replace(',"reason":"x"', ''))).toThrow(/say why/)
    expect(() => parseRecord(text.replace('"retracted"', '"maybe"'))).toThrow(/status/)
    expect(() => parseRecord(text.slice(0, -1) + ',"extra":1}')).toThrow(/unknown field/)
    expect(() => parseRecord('x'.repeat(5000))).toThrow(/larger/)
    expect(() => parseRecord('[]')).toThrow(/object/)
  })

  it('fails the record check (never the status) for a forged, foreign or tampered record', async () => {
    const p = await soleReceipt({ kind: 'provisional', until: T0 + 3_600_000 })
    const q = await soleReceipt({ kind: 'provisional', until: T0 + 3_600_000 }, 'aaaaaaaaaaaaaaaa')
    const status = async (records: string[]): Promise<{ ok: boolean, details: Array<string | undefined>, kind?: string }> => {
      const v = await verifyReceipt(p.text, verifier, { now: T0, records })
      return { ok: v.ok, details: v.checks.filter((c) => c.name === 'record' && !c.ok).map((c) => c.detail), kind: v.status?.kind }
    }
    // signed by someone else
    const byOther: SettlementRecord = await signSettlement({ jobId: p.receipt.jobId, receiptText: p.text, status: 'retracted', reason: 'spite', at: T0, signer: other })
    expect(await status([serializeRecord(byOther)])).toEqual({ ok: false, details: ['retracted: record is not signed by the receipt\'s requester'], kind: 'provisional' })
    // for another receipt of the same requester
    const foreign = await signSettlement({ jobId: q.receipt.jobId, receiptText: q.text, status: 'retracted', reason: 'other job', at: T0, signer: requester })
    expect(await status([serializeRecord(foreign)])).toEqual({ ok: false, details: ['retracted: record is for another job'], kind: 'provisional' })
    // reason edited after signing
    const real = await signSettlement({ jobId: p.receipt.jobId, receiptText: p.text, status: 'final', at: T0, signer: requester })
    const edited = serializeRecord({ ...real, status: 'retracted', reason: 'edited' })
    expect(await status([edited])).toEqual({ ok: false, details: ['retracted: bad signature'], kind: 'provisional' })
    // not JSON
    expect((await status(['nope'])).details).toEqual(['record is not JSON'])
  })

  it('resolveStatus: earliest retraction wins; a final record does not outrank one', () => {
    const base = { v: 1 as const, type: 'crosscheck/settlement' as const, jobId: 'a'.repeat(64), receiptHash: 'b'.repeat(64), requesterPublicKey: '', signature: '' }
    const fin: SettlementRecord = { ...base, status: 'final', at: 5 }
    const r1: SettlementRecord = { ...base, status: 'retracted', reason: 'late', at: 9 }
    const r2: SettlementRecord = { ...base, status: 'retracted', reason: 'early', at: 7 }
    expect(resolveStatus({ kind: 'provisional', until: 100 }, [fin, r1, r2], 200)).toEqual({ kind: 'retracted', reason: 'early', at: 7 })
    expect(resolveStatus({ kind: 'provisional', until: 100 }, [], 50)).toEqual({ kind: 'provisional', until: 100 })
    expect(resolveStatus({ kind: 'provisional', until: 100 }, [])).toEqual({ kind: 'provisional', until: 100 })
    expect(resolveStatus(undefined, [])).toEqual({ kind: 'final', by: 'replicated' })
  })

  it('signSettlement refuses a retraction without a reason', async () => {
    const p = await soleReceipt()
    await expect(signSettlement({ jobId: p.receipt.jobId, receiptText: p.text, status: 'retracted', at: T0, signer: requester })).rejects.toThrow(/say why/)
  })
})
