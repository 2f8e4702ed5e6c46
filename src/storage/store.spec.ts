import 'fake-indexeddb/auto'
import { openDB } from 'idb'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { sha256Hex } from '../tensor/index.js'
import { openStore } from './index.js'
import type { PendingJobRecord, Store, StoreInit } from './index.js'
import type { StorageFullError } from '../errors.js'
import { rejection } from '../testing/async.js'

let n = 0
const open: Store[] = []
async function fresh (name = `test-${++n}`, init: StoreInit = { now: () => 1000 }): Promise<Store> {
  const s = await openStore(name, init)
  open.push(s)
  return s
}
afterEach(() => {
  vi.restoreAllMocks()
  for (const s of open.splice(0)) s.close()
})

const modelBytes = (seed = 7, length = 1000): Uint8Array => Uint8Array.from({ length }, (_, i) => (i * seed + seed) & 255)


/** A clock that ticks once per reading, so every put/get gets a distinct time. */
function ticking (start = 1): () => number {
  let t = start
  return () => t++
}

/**
 * Makes the fake IndexedDB enforce a quota on model bytes the way a browser
 * does: a put that would exceed it fails with a QuotaExceededError DOMException.
 * `rewriteNeedsRoom`: replacing a record needs room for both copies meanwhile.
 */
function quota (limit: number, opts: { rewriteNeedsRoom?: boolean } = {}): { used: () => number } {
  const sizes = new Map<string, number>()
  const proto = IDBObjectStore.prototype
  const put = proto.put
  const del = proto.delete
  vi.spyOn(proto, 'put').mockImplementation(function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
    if (this.name === 'modelBytes') {
      const rec = value as { sha256: string, bytes: ArrayBuffer }
      let used = 0
      for (const [k, s] of sizes) if (opts.rewriteNeedsRoom === true || k !== rec.sha256) used += s
      if (used + rec.bytes.byteLength > limit) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
      sizes.set(rec.sha256, rec.bytes.byteLength)
    }
    return put.call(this, value, key)
  })
  vi.spyOn(proto, 'delete').mockImplementation(function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
    if (this.name === 'modelBytes') sizes.delete(String(key))
    return del.call(this, key)
  })
  return { used: () => [...sizes.values()].reduce((a, b) => a + b, 0) }
}

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
    // Corrupt the bytes behind the store's back, as disk damage or tampering would.
    const raw = await openDB(name)
    const rec = await raw.get('modelBytes', sha256)
    new Uint8Array(rec.bytes)[0] ^= 0xff
    await raw.put('modelBytes', rec)
    raw.close()

    const err = await store.getModel(sha256).catch((e: Error) => e)
    expect(err).toHaveProperty('name', 'HashMismatchError')
    expect(await store.hasModel(sha256)).toBe(false)
    expect(await store.getModel(sha256)).toBeUndefined()
  })

  it('treats metadata whose bytes are gone as corrupt: purged, HashMismatchError', async () => {
    const name = `test-${++n}`
    const store = await fresh(name)
    const { sha256 } = await store.putModel(modelBytes())
    const raw = await openDB(name)
    await raw.delete('modelBytes', sha256)
    raw.close()
    await expect(store.getModel(sha256)).rejects.toHaveProperty('name', 'HashMismatchError')
    expect(await store.listModels()).toEqual([])
  })

  it('keeps metadata apart from bytes: listing reads no model bytes', async () => {
    const store = await fresh()
    await store.putModel(modelBytes(1), { name: 'a' })
    await store.putModel(modelBytes(3), { name: 'b' })
    const touched: string[] = []
    for (const m of ['get', 'getAll', 'openCursor'] as const) {
      const orig = IDBObjectStore.prototype[m] as (...a: unknown[]) => unknown
      vi.spyOn(IDBObjectStore.prototype, m).mockImplementation(function (this: IDBObjectStore, ...a: unknown[]) { touched.push(this.name); return orig.apply(this, a) } as never)
      const origIdx = IDBIndex.prototype[m] as (...a: unknown[]) => unknown
      vi.spyOn(IDBIndex.prototype, m).mockImplementation(function (this: IDBIndex, ...a: unknown[]) { touched.push(this.objectStore.name); return origIdx.apply(this, a) } as never)
    }
    expect((await store.listModels()).map((m) => m.name).sort()).toEqual(['a', 'b'])
    expect(touched.length).toBeGreaterThan(0)
    expect(touched).not.toContain('modelBytes')
  })

  it('getModel marks the model as used; listModels is most recently used first', async () => {
    const store = await fresh(undefined, { now: ticking(), estimate: null })
    const a = await store.putModel(modelBytes(1), { name: 'a' })
    await store.putModel(modelBytes(3), { name: 'b' })
    expect((await store.listModels()).map((m) => m.name)).toEqual(['b', 'a'])
    const got = await store.getModel(a.sha256)
    expect(got!.lastUsedAt).toBeGreaterThan(a.lastUsedAt)
    expect(got!.addedAt).toBe(a.addedAt)
    expect((await store.listModels()).map((m) => m.name)).toEqual(['a', 'b'])
  })

  it('putting a stored model again keeps its addedAt and name', async () => {
    const store = await fresh(undefined, { now: ticking(), estimate: null })
    const first = await store.putModel(modelBytes(), { name: 'mlp' })
    const again = await store.putModel(modelBytes())
    expect(again).toMatchObject({ sha256: first.sha256, name: 'mlp', addedAt: first.addedAt })
    expect(again.lastUsedAt).toBeGreaterThan(first.lastUsedAt)
  })

  it('persists across reopening (a page reload)', async () => {
    const name = `test-${++n}`
    const a = await openStore(name)
    const { sha256 } = await a.putModel(modelBytes())
    await a.putIdentity({ privateKey: new Uint8Array([8, 1, 18, 64, 1, 2, 3]), createdAt: 5 })
    await a.putReputation({ peerId: 'peerA', valid: 3, invalid: 1, consecutiveValid: 2, flagged: false, updatedAt: 9 })
    a.close()

    const b = await fresh(name)
    expect(new Uint8Array((await b.getModel(sha256))!.bytes)).toEqual(modelBytes())
    const id = await b.getIdentity()
    expect(id?.privateKey).toBeInstanceOf(Uint8Array)
    expect(Array.from(id!.privateKey)).toEqual([8, 1, 18, 64, 1, 2, 3])
    expect(await b.listReputation()).toEqual([{ peerId: 'peerA', valid: 3, invalid: 1, consecutiveValid: 2, flagged: false, updatedAt: 9 }])
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
    expect((await store.listJobs({ role: 'worker' })).map((j) => j.jobId)).toEqual(['b'])
    expect(await store.getJob('b')).toMatchObject({ jobId: 'b', role: 'worker', status: 'accepted' })
    expect(await store.getJob('nope')).toBeUndefined()
  })

  it('deletes models, metadata and bytes together', async () => {
    const name = `test-${++n}`
    const store = await fresh(name)
    const { sha256 } = await store.putModel(modelBytes())
    expect(await store.deleteModel(sha256)).toBe(true)
    expect(await store.deleteModel(sha256)).toBe(false)
    const raw = await openDB(name)
    expect(await raw.count('modelBytes')).toBe(0)
    raw.close()
  })
})

describe('pending requester jobs', () => {
  it('puts, lists oldest first, and deletes; survives a reopen', async () => {
    const name = `test-${++n}`
    const a = await fresh(name)
    const jobs: PendingJobRecord[] = [
      { jobId: 'j2', modelHash: 'a'.repeat(64), inputHash: 'b'.repeat(64), startedAt: 20 },
      { jobId: 'j1', modelHash: 'c'.repeat(64), inputHash: 'd'.repeat(64), startedAt: 10 }
    ]
    for (const j of jobs) await a.putPendingJob(j)
    a.close()

    const b = await fresh(name)
    const listed = await b.listPendingJobs()
    expect(listed.map((j) => j.jobId)).toEqual(['j1', 'j2'])
    expect(listed[1]).toEqual(jobs[0])
    await b.deletePendingJob('j1')
    await b.deletePendingJob('absent')
    expect((await b.listPendingJobs()).map((j) => j.jobId)).toEqual(['j2'])
  })

  it('finishJob writes receipt and job and drops the pending record in one transaction, all or nothing', async () => {
    const name = `test-${++n}`
    const a = await fresh(name)
    await a.putPendingJob({ jobId: 'local-1', modelHash: 'a'.repeat(64), inputHash: 'b'.repeat(64), startedAt: 10 })
    await a.putPendingJob({ jobId: 'local-2', modelHash: 'a'.repeat(64), inputHash: 'b'.repeat(64), startedAt: 11 })
    const receipt = { jobId: 'j1', createdAt: 30, modelHash: 'a'.repeat(64), text: '{"v":2}', status: 'accepted' as const }
    const job = { jobId: 'j1', role: 'requester' as const, modelHash: 'a'.repeat(64), inputHash: 'b'.repeat(64), startedAt: 10, finishedAt: 30, status: 'accepted' as const, peers: ['p1', 'p2'], ms: 20 }
    await a.finishJob({ receipt, job, pendingJobId: 'local-1' })
    // a write that fails (a job record without its key) takes nothing with it: local-2 stays pending, no receipt lands
    const bad = { ...job, jobId: undefined as unknown as string }
    await expect(a.finishJob({ receipt: { ...receipt, jobId: 'j2' }, job: bad, pendingJobId: 'local-2' })).rejects.toThrow()
    a.close()

    const b = await fresh(name)
    expect(await b.getReceipt('j1')).toEqual(receipt)
    expect(await b.getJob('j1')).toEqual(job)
    expect(await b.getReceipt('j2')).toBeUndefined()
    expect((await b.listPendingJobs()).map((j) => j.jobId)).toEqual(['local-2'])
  })
})

describe('storage limits', () => {
  it('on QuotaExceededError evicts least-recently-used models (not recently read ones) and retries', async () => {
    const store = await fresh(undefined, { now: ticking(), estimate: null })
    quota(3000)
    const a = await store.putModel(modelBytes(1), { name: 'a' })
    const b = await store.putModel(modelBytes(3), { name: 'b' })
    await store.putModel(modelBytes(5), { name: 'c' })
    await store.getModel(a.sha256) // a is now the most recently used
    await store.putModel(modelBytes(9), { name: 'd' })
    expect((await store.listModels()).map((m) => m.name)).toEqual(['d', 'a', 'c'])
    expect(await store.hasModel(b.sha256)).toBe(false)
    // a 2000-byte model: c, then a (least recently used first) have to go
    await store.putModel(modelBytes(11, 2000), { name: 'big' })
    expect((await store.listModels()).map((m) => m.name)).toEqual(['big', 'd'])
    expect(await store.getModel(a.sha256)).toBeUndefined()
  })

  it('fails with StorageFullError naming the bytes needed and what it evicted', async () => {
    const store = await fresh(undefined, { now: ticking(), estimate: null })
    quota(2500)
    const a = await store.putModel(modelBytes(1), { name: 'a' })
    const b = await store.putModel(modelBytes(3), { name: 'b' })
    const err = await rejection<StorageFullError>(store.putModel(modelBytes(5, 3000), { name: 'huge' }))
    expect(err).toHaveProperty('name', 'StorageFullError')
    expect(err.needed).toBe(3000)
    expect(err.evicted).toEqual([a.sha256, b.sha256])
    expect((err.cause as Error).name).toBe('QuotaExceededError')
    expect(err.message).toMatch(/3000 bytes/)
    expect(await store.listModels()).toEqual([])
  })

  it('never evicts the model being written', async () => {
    const store = await fresh(undefined, { now: ticking(), estimate: null })
    // a browser may need room for both copies while a record is replaced
    const q = quota(2000, { rewriteNeedsRoom: true })
    const a = await store.putModel(modelBytes(1), { name: 'a' })
    await store.putModel(modelBytes(3), { name: 'b' })
    // rewrite a (the least recently used): b has to go, a must not
    await store.putModel(modelBytes(1))
    expect((await store.listModels()).map((m) => m.name)).toEqual(['a'])
    expect(new Uint8Array((await store.getModel(a.sha256))!.bytes)).toEqual(modelBytes(1))
    expect(q.used()).toBe(1000)
  })

  it('rethrows other write failures unchanged, evicting nothing', async () => {
    const store = await fresh(undefined, { now: ticking(), estimate: null })
    await store.putModel(modelBytes(1), { name: 'a' })
    const put = IDBObjectStore.prototype.put
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, v: unknown, k?: IDBValidKey) {
      if (this.name === 'modelBytes') throw new DOMException('disk on fire', 'UnknownError')
      return put.call(this, v, k)
    })
    await expect(store.putModel(modelBytes(3))).rejects.toHaveProperty('name', 'UnknownError')
    expect((await store.listModels()).map((m) => m.name)).toEqual(['a'])
  })

  it('asks navigator.storage.estimate before a large write and evicts up front', async () => {
    const MB = 1024 * 1024
    let usage = 0
    const estimate = vi.fn(async () => ({ usage, quota: 5 * MB }))
    const store = await fresh(undefined, { now: ticking(), estimate })
    const a = await store.putModel(modelBytes(1, 2 * MB), { name: 'a' }); usage += 2 * MB
    const b = await store.putModel(modelBytes(3, 2 * MB), { name: 'b' }); usage += 2 * MB
    expect(estimate).toHaveBeenCalledTimes(2)
    // 1 MB free, 2 MB wanted: the oldest (a) goes before the write is even tried
    const put = vi.spyOn(IDBObjectStore.prototype, 'put')
    await store.putModel(modelBytes(5, 2 * MB), { name: 'c' })
    expect(put.mock.contexts.filter((s) => (s as IDBObjectStore).name === 'modelBytes')).toHaveLength(1)
    expect(await store.hasModel(a.sha256)).toBe(false)
    expect(await store.hasModel(b.sha256)).toBe(true)
    // small models do not ask
    await store.putModel(modelBytes(7, 100))
    expect(estimate).toHaveBeenCalledTimes(3)
  })

  it('fails at once, evicting nothing, when even an empty cache could not hold the model', async () => {
    const MB = 1024 * 1024
    const store = await fresh(undefined, { now: ticking(), estimate: async () => ({ usage: 3 * MB, quota: 4 * MB }) })
    quota(1e9)
    const a = await store.putModel(modelBytes(1, 1000), { name: 'a' })
    const err = await rejection<StorageFullError>(store.putModel(modelBytes(3, 3 * MB)))
    expect(err).toHaveProperty('name', 'StorageFullError')
    expect(err.needed).toBe(3 * MB)
    expect(err.evicted).toEqual([])
    expect(await store.hasModel(a.sha256)).toBe(true)
  })

  it('writes anyway when the estimate is unavailable or throws', async () => {
    const store = await fresh(undefined, { now: ticking(), estimate: async () => { throw new Error('no estimate') } })
    await store.putModel(modelBytes(1, 2 * 1024 * 1024))
    const other = await fresh(undefined, { now: ticking(), estimate: async () => ({}) })
    await other.putModel(modelBytes(1, 2 * 1024 * 1024))
    expect(await store.listModels()).toHaveLength(1)
    expect(await other.listModels()).toHaveLength(1)
  })
})
