import { beforeAll, describe, expect, it } from 'vitest'
import { identityFromSeed, signerFromPrivateKey } from '../network/keys.js'
import { serializeRecord, signSettlement } from '../consensus/settlement.js'
import { createTensor, hashTensors } from '../tensor/index.js'
import { tolerantReceipt } from '../testing/receipts.js'
import { MemoryStore } from './memory-store.js'
import { ReceiptBook } from './receipts.js'
import type { RetractedDetail } from './receipts.js'
import type { Signer } from '../consensus/types.js'
import type { NamedTensors } from '../tensor/index.js'
import type { ReceiptOutputs } from '../consensus/receipt.js'

let requester: Signer
let other: Signer
let text: string
let outputs: ReceiptOutputs
let jobId: string
let A: NamedTensors
let B: NamedTensors

beforeAll(async () => {
  // two votes within the tolerance with other bytes: re-checking that agreement needs both outputs
  const r = await tolerantReceipt(60)
  ;({ requester, text, outputs, jobId, accepted: A, near: B } = r)
  other = signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(63)))
})

function book (): { book: ReceiptBook, store: MemoryStore, retracted: RetractedDetail[] } {
  const store = new MemoryStore()
  const retracted: RetractedDetail[] = []
  return { book: new ReceiptBook(() => store, (d) => { retracted.push(d) }), store, retracted }
}

const record = async (signer: Signer, reason: string): Promise<string> => serializeRecord(await signSettlement({ jobId, receiptText: text, status: 'retracted', reason, at: 1_700_000_100_000, signer }))

describe('ReceiptBook', () => {
  it('imports a v2 receipt with the outputs it commits to, and refuses it without them where a vote agreed with other bytes', async () => {
    const { book: b, store } = book()
    await expect(b.importReceipt(text)).rejects.toMatchObject({ name: 'ReceiptInvalidError', check: 'agreement' })
    await expect(b.importReceipt(text, { outputs: { [hashTensors(A)]: B, [hashTensors(B)]: B } })).rejects.toMatchObject({ name: 'ReceiptInvalidError', check: 'outputs' })
    // extra entries (hashing to their keys) are not kept: only what the receipt commits to
    const C = { y: createTensor('float32', [1], new Float32Array([7])) }
    const stored = await b.importReceipt(text, { outputs: { ...outputs, [hashTensors(C)]: C } })
    expect(stored).toMatchObject({ jobId, status: 'accepted' })
    expect(Object.keys(stored.outputs ?? {}).sort()).toEqual([hashTensors(A), hashTensors(B)].sort())
    expect((await store.getReceipt(jobId))?.text).toBe(text)
    await expect(b.importReceipt(text.replace('"v": 2', '"v": 9'))).rejects.toMatchObject({ name: 'ReceiptVersionError' })
  })

  it('a retraction signed by the requester marks the held receipt invalid; a forged one does nothing', async () => {
    const { book: b, store, retracted } = book()
    await b.importReceipt(text, { outputs })
    await store.putJob({ jobId, role: 'requester', modelHash: 'a'.repeat(64), inputHash: 'b'.repeat(64), startedAt: 1, finishedAt: 2, status: 'accepted', peers: [] })
    expect(await b.applyRecord(await record(other, 'forged'))).toBe(false)
    expect(await b.applyRecord('not a record')).toBe(false)
    expect((await store.getReceipt(jobId))?.status).toBe('accepted')
    const real = await record(requester, 'recheck disagreed')
    expect(await b.applyRecord(real)).toBe(true)
    expect(retracted).toEqual([{ jobId, reason: 'recheck disagreed', record: real }])
    expect((await store.getReceipt(jobId))?.status).toBe('invalid')
    expect((await store.getJob(jobId))?.status).toBe('retracted')
    // applied once
    expect(await b.applyRecord(real)).toBe(false)
  })

  it('a retraction heard before its receipt applies when the receipt is imported, a forged one never', async () => {
    const { book: b, retracted } = book()
    expect(await b.applyRecord(await record(other, 'forged'))).toBe(false)
    expect(await b.importReceipt(text, { outputs })).toMatchObject({ status: 'accepted' })
    const { book: c } = book()
    const real = await record(requester, 'recheck disagreed')
    expect(await c.applyRecord(real)).toBe(false)
    expect(await c.importReceipt(text, { outputs })).toMatchObject({ status: 'invalid' })
    expect(retracted).toEqual([])
  })
})
