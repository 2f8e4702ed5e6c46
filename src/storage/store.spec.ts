import 'fake-indexeddb/auto'
import { openDB } from 'idb'
import { afterEach, describe, expect, it } from 'vitest'
import { sha256Hex } from '../tensor/index.js'
import { openStore } from './index.js'
import type { Store } from './index.js'

let n = 0
const open: Store[] = []
async function fresh (name = `test-${++n}`, now = () => 1000): Promise<Store> {
  const s = await openStore(name, { now })
  open.push(s)
  return s
}
afterEach(() => { for (const s of open.splice(0)) s.close() })

const modelBytes = (): Uint8Array => Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 255)

describe('storage', () => {
  it('stores a model under its sha256 and reads it back verified', async () => {
    const store = await fresh()
    const bytes = modelBytes()
    const summary = await store.putModel(bytes, { name: 'mlp' })
    expect(summary).toEqual({ sha256: sha256Hex(bytes), size: 1000, name: 'mlp', addedAt: 1000, lastUsedAt: 1000 })
    expect(await store.hasModel(summary.sha256)).toBe(true)
    const rec = await store.getModel(summary.sha256)
    expect(new Uint8Array(rec!.bytes)).toEqual(bytes)
    expect(await store.listModels()).toEqual([summary])
    expect(await store.getModel('0'.repeat(64))).toBeUndefined()
  })

  it('stores only the viewed bytes of a Uint8Array', async () => {
    const store = await fresh()
    const big = modelBytes()
    const view = big.subarray(10, 20)
    const { sha256, size } = await store.putModel(view)
    expect(size).toBe(10)
    expect(sha256).toBe(sha256Hex(view))
  })

  it('refuses bytes that do not match the expected hash, storing nothing', async () => {
    const store = await fresh()
    const err = await store.putModel(modelBytes(), { sha256: 'f'.repeat(64) }).catch((e: Error) => e)
    expect(err).toHaveProperty('name', 'HashMismatchError')
    expect(await store.listModels()).toEqual([])
  })

  it('purges a corrupted model on read and throws HashMismatchError', async () => {
    const name = `test-${++n}`
    const store = await fresh(name)
    const { sha256 } = await store.putModel(modelBytes())
    // Corrupt the record behind the store's back, as disk damage or tampering would.
    const raw = await openDB(name)
    const rec = await raw.get('models', sha256)
    new Uint8Array(rec.bytes)[0] ^= 0xff
    await raw.put('models', rec)
    raw.close()

    const err = await store.getModel(sha256).catch((e: Error) => e)
    expect(err).toHaveProperty('name', 'HashMismatchError')
    expect(await store.hasModel(sha256)).toBe(false)
    expect(await store.getModel(sha256)).toBeUndefined()
  })

  it('persists across reopening (a page reload)', async () => {
    const name = `test-${++n}`
    const a = await openStore(name)
    const { sha256 } = await a.putModel(modelBytes())
    await a.putIdentity({ privateKey: new Uint8Array([8, 1, 18, 64, 1, 2, 3]), createdAt: 5 })
    await a.putReputation({ peerId: 'peerA', valid: 3, invalid: 1, consecutiveValid: 2, flagged: false, updatedAt: 9 })
    await a.putSetting('replicas', 3)
    a.close()

    const b = await fresh(name)
    expect(new Uint8Array((await b.getModel(sha256))!.bytes)).toEqual(modelBytes())
    const id = await b.getIdentity()
    expect(id?.privateKey).toBeInstanceOf(Uint8Array)
    expect(Array.from(id!.privateKey)).toEqual([8, 1, 18, 64, 1, 2, 3])
    expect(await b.getReputation('peerA')).toMatchObject({ valid: 3, invalid: 1 })
    expect(await b.listReputation()).toHaveLength(1)
    expect(await b.getSetting('replicas')).toBe(3)
  })

  it('lists receipts and jobs newest first', async () => {
    const store = await fresh()
    for (const [jobId, t] of [['a', 1], ['c', 3], ['b', 2]] as const) {
      await store.putReceipt({ jobId, createdAt: t, modelHash: 'm', text: `{"jobId":"${jobId}"}`, status: 'accepted' })
      await store.putJob({ jobId, role: t === 2 ? 'worker' : 'requester', modelHash: 'm', inputHash: 'i', startedAt: t, status: 'accepted', peers: ['p'] })
    }
    expect((await store.listReceipts()).map((r) => r.jobId)).toEqual(['c', 'b', 'a'])
    expect((await store.listReceipts({ limit: 1 })).map((r) => r.jobId)).toEqual(['c'])
    expect((await store.getReceipt('b'))?.text).toBe('{"jobId":"b"}')
    expect((await store.listJobs({ role: 'requester' })).map((j) => j.jobId)).toEqual(['c', 'a'])
    expect((await store.listJobs({ role: 'requester', limit: 1 })).map((j) => j.jobId)).toEqual(['c'])
    expect(await store.getJob('b')).toMatchObject({ role: 'worker' })
  })

  it('deletes models', async () => {
    const store = await fresh()
    const { sha256 } = await store.putModel(modelBytes())
    expect(await store.deleteModel(sha256)).toBe(true)
    expect(await store.deleteModel(sha256)).toBe(false)
  })
})
