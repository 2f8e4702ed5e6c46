import { describe, expect, it } from 'vitest'
import { backendOf, ReputationBook, trustKey } from './reputation.js'
import { CLASS_NODE, CLASS_WEB, HASH_A, HASH_B } from './test-fixtures.js'

const P = '12D3KooWpeer'
const ctx = (at: number, over: Partial<{ modelHash: string, numericClass: string, jobId: string, sole: boolean }> = {}) =>
  ({ modelHash: HASH_A, numericClass: CLASS_WEB, at, ...over })

describe('ReputationBook', () => {
  it('keys trust by model and runtime/backend, not threads or engine', () => {
    expect(backendOf('ort-web/wasm/t2/chromium')).toBe('ort-web/wasm')
    expect(trustKey(HASH_A, 'ort-web/wasm/t1/firefox')).toBe(trustKey(HASH_A, 'ort-web/wasm/t4/chromium'))
    expect(trustKey(HASH_A, 'ort-web/webgpu/t1/chromium')).not.toBe(trustKey(HASH_A, 'ort-web/wasm/t1/chromium'))
  })

  it('establishes a peer per model/backend after `establishedAfter` consecutive valid votes', () => {
    const book = new ReputationBook({ establishedAfter: 3 })
    for (let i = 0; i < 2; i++) book.record(P, 'agreed', ctx(i))
    expect(book.isEstablished(P, HASH_A, CLASS_WEB)).toBe(false)
    book.record(P, 'canary-passed', ctx(3))
    expect(book.isEstablished(P, HASH_A, CLASS_WEB)).toBe(true)
    expect(book.isEstablished(P, HASH_B, CLASS_WEB)).toBe(false)
    expect(book.isEstablished(P, HASH_A, CLASS_NODE)).toBe(false)
  })

  it('isEstablishedAnywhere: established for some model and backend, and not once flagged', () => {
    const book = new ReputationBook({ establishedAfter: 2, maxInvalid: 1 })
    expect(book.isEstablishedAnywhere(P)).toBe(false)
    book.record(P, 'agreed', ctx(1, { modelHash: HASH_B }))
    expect(book.isEstablishedAnywhere(P)).toBe(false)
    book.record(P, 'agreed', ctx(2, { modelHash: HASH_B }))
    expect(book.isEstablishedAnywhere(P)).toBe(true)
    book.record(P, 'dissented', ctx(3))
    expect(book.isEstablishedAnywhere(P)).toBe(false)
  })

  it('one invalid vote resets trust for every model; the second flags', () => {
    const book = new ReputationBook({ establishedAfter: 2, maxInvalid: 2 })
    for (let i = 0; i < 3; i++) book.record(P, 'agreed', ctx(i))
    book.record(P, 'agreed', ctx(4, { modelHash: HASH_B }))
    expect(book.record(P, 'dissented', ctx(5))).toBe(false)
    expect(book.streak(P, HASH_A, CLASS_WEB)).toBe(0)
    expect(book.streak(P, HASH_B, CLASS_WEB)).toBe(0)
    expect(book.isSelectable(P, 5)).toBe(true)
    expect(book.record(P, 'dissented', ctx(6))).toBe(true)
    expect(book.isFlagged(P)).toBe(true)
    expect(book.isSelectable(P, 6)).toBe(false)
    expect(book.score(P)).toBe(0)
  })

  it('a failed canary flags at once and hands back recent accepted votes, sole ones first', () => {
    const book = new ReputationBook()
    book.record(P, 'agreed', ctx(1, { jobId: 'j1', sole: false }))
    book.record(P, 'agreed', ctx(2, { jobId: 'j2', sole: true }))
    book.record(P, 'agreed', ctx(3, { jobId: 'j3', sole: false }))
    expect(book.record(P, 'canary-failed', ctx(4, { jobId: 'c' }))).toBe(true)
    expect(book.get(P)?.flaggedReason).toBe('canary-failed')
    expect(book.recentAccepted(P).map((a) => a.jobId)).toEqual(['j2', 'j3', 'j1'])
  })

  it('near misses are not invalid; failures to answer are not cheating but bench the peer', () => {
    const book = new ReputationBook({ maxConsecutiveFailures: 3, failureCooldownMs: 1000 })
    book.record(P, 'near-miss', ctx(1))
    expect(book.get(P)?.invalid).toBe(0)
    book.record(P, 'failed-to-answer', ctx(10))
    expect(book.weight(P, 10)).toBe(0.5)
    book.record(P, 'failed-to-answer', ctx(11))
    book.record(P, 'failed-to-answer', ctx(12))
    expect(book.isSelectable(P, 13)).toBe(false)
    expect(book.isSelectable(P, 1013)).toBe(true)
    expect(book.isFlagged(P)).toBe(false)
    expect(book.get(P)?.invalid).toBe(0)
    book.record(P, 'agreed', ctx(2000))
    expect(book.weight(P, 2000)).toBe(1)
  })

  it('bounds recent accepted votes', () => {
    const book = new ReputationBook({ recentLimit: 2 })
    for (let i = 0; i < 5; i++) book.record(P, 'agreed', ctx(i, { jobId: `j${i}` }))
    expect(book.recentAccepted(P).map((a) => a.jobId)).toEqual(['j4', 'j3'])
  })

  it('round-trips through records shaped like storage ReputationRecord, and accepts old rows', () => {
    const book = new ReputationBook({ establishedAfter: 1 })
    book.record(P, 'agreed', ctx(1, { jobId: 'j1' }))
    book.record('12D3KooWother', 'canary-failed', ctx(2))
    const records = book.toRecords()
    expect(structuredClone(records)).toEqual(records)
    expect(records.find((r) => r.peerId === P)).toMatchObject({ peerId: P, valid: 1, invalid: 0, consecutiveValid: 1, flagged: false, updatedAt: 1 })
    const again = ReputationBook.fromRecords(records, { establishedAfter: 1 })
    expect(again.toRecords()).toEqual(records)
    expect(again.isEstablished(P, HASH_A, CLASS_WEB)).toBe(true)
    const old = ReputationBook.fromRecords([{ peerId: P, valid: 3, invalid: 0, consecutiveValid: 3, flagged: false, updatedAt: 5 }])
    expect(old.score(P)).toBeCloseTo(4 / 5)
    old.record(P, 'agreed', ctx(6, { jobId: 'x' }))
    expect(old.get(P)?.valid).toBe(4)
  })
})

describe('canary verdicts in the record (what backend verdicts are rebuilt from)', () => {
  it('keeps the latest canary verdict per model and backend, survives a round trip, and keeps at most MAX_CANARY_VERDICTS', async () => {
    const { MAX_CANARY_VERDICTS } = await import('./reputation.js')
    const book = new ReputationBook()
    book.record(P, 'canary-passed', { modelHash: HASH_A, numericClass: CLASS_WEB, at: 1 })
    book.record(P, 'canary-failed', { modelHash: HASH_B, numericClass: CLASS_WEB, at: 2 })
    book.record(P, 'canary-passed', { modelHash: HASH_B, numericClass: CLASS_WEB, at: 3 })
    // a canary without a class says nothing about a backend
    book.record(P, 'canary-failed', { modelHash: HASH_A, at: 4 })
    expect(book.get(P)!.canaryVerdicts).toEqual({ [trustKey(HASH_A, CLASS_WEB)]: true, [trustKey(HASH_B, CLASS_WEB)]: true })
    const again = ReputationBook.fromRecords(book.toRecords())
    expect(again.get(P)!.canaryVerdicts).toEqual(book.get(P)!.canaryVerdicts)
    // records are copies: changing one does not change the book
    book.toRecords()[0].canaryVerdicts![trustKey(HASH_A, CLASS_WEB)] = false
    expect(book.get(P)!.canaryVerdicts![trustKey(HASH_A, CLASS_WEB)]).toBe(true)
    for (let i = 0; i < MAX_CANARY_VERDICTS + 5; i++) book.record(P, 'canary-passed', { modelHash: i.toString(16).padStart(64, '0'), numericClass: CLASS_NODE, at: 10 + i })
    const keys = Object.keys(book.get(P)!.canaryVerdicts!)
    expect(keys).toHaveLength(MAX_CANARY_VERDICTS)
    expect(keys.at(-1)).toBe(trustKey((MAX_CANARY_VERDICTS + 4).toString(16).padStart(64, '0'), CLASS_NODE))
  })
})
