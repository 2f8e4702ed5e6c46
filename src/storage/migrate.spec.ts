/**
 * An IndexedDB upgrade from the shipped schema keeps identity, receipts,
 * reputation and jobs, and models still read back with their hash.
 */
import 'fake-indexeddb/auto'
import { openDB } from 'idb'
import type { IDBPDatabase } from 'idb'
import { afterEach, describe, expect, it } from 'vitest'
import { sha256Hex } from '../tensor/index.js'
import { DB_VERSION, openStore } from './index.js'
import type { Store } from './index.js'

/** Version 1 of the schema exactly as it shipped (src/storage/schema.ts, `oldVersion < 1`): a fixture, never edit it. */
async function createV1 (name: string): Promise<IDBPDatabase> {
  return await openDB(name, 1, {
    upgrade (db) {
      db.createObjectStore('models', { keyPath: 'sha256' }).createIndex('by-lastUsedAt', 'lastUsedAt')
      db.createObjectStore('receipts', { keyPath: 'jobId' }).createIndex('by-createdAt', 'createdAt')
      db.createObjectStore('jobs', { keyPath: 'jobId' }).createIndex('by-startedAt', 'startedAt')
      db.createObjectStore('identity')
      db.createObjectStore('reputation', { keyPath: 'peerId' })
      db.createObjectStore('settings')
    }
  })
}

const bytesOf = (seed: number, length: number): ArrayBuffer => Uint8Array.from({ length }, (_, i) => (i * seed + 3) & 255).buffer
const modelA = bytesOf(7, 5000)
const modelB = bytesOf(13, 300)
const shaA = sha256Hex(new Uint8Array(modelA))
const shaB = sha256Hex(new Uint8Array(modelB))
const identity = { privateKey: new Uint8Array([8, 1, 18, 64, ...Array.from({ length: 64 }, (_, i) => i)]), createdAt: 111 }
const receipts = [
  { jobId: 'job-1', createdAt: 10, modelHash: shaA, text: '{"v":1,"jobId":"job-1","sig":"AAEC"}', status: 'accepted' },
  { jobId: 'job-2', createdAt: 20, modelHash: shaB, text: '{"v":1,"jobId":"job-2"}', status: 'invalid' }
]
const jobs = [
  { jobId: 'job-1', role: 'requester', modelHash: shaA, inputHash: 'i1', startedAt: 9, finishedAt: 10, status: 'accepted', peers: ['p1', 'p2'], ms: 42 },
  { jobId: 'job-3', role: 'worker', modelHash: shaB, inputHash: 'i3', startedAt: 30, status: 'voted', peers: ['p9'] }
]
const reputation = [
  { peerId: 'peerA', valid: 3, invalid: 1, consecutiveValid: 2, flagged: false, updatedAt: 9, streaks: { [`${shaA}|ort-web/wasm`]: 2 } },
  { peerId: 'peerB', valid: 0, invalid: 4, consecutiveValid: 0, flagged: true, flaggedReason: 'wrong output', flaggedAt: 50, updatedAt: 50 }
]

async function fillV1 (db: IDBPDatabase): Promise<void> {
  const tx = db.transaction(['models', 'receipts', 'jobs', 'identity', 'reputation', 'settings'], 'readwrite')
  await tx.objectStore('models').put({ sha256: shaA, bytes: modelA, size: modelA.byteLength, name: 'mlp', addedAt: 1, lastUsedAt: 5 })
  await tx.objectStore('models').put({ sha256: shaB, bytes: modelB, size: modelB.byteLength, addedAt: 2, lastUsedAt: 3 })
  for (const r of receipts) await tx.objectStore('receipts').put(r)
  for (const j of jobs) await tx.objectStore('jobs').put(j)
  await tx.objectStore('identity').put(identity, 'self')
  for (const r of reputation) await tx.objectStore('reputation').put(r)
  await tx.objectStore('settings').put(3, 'replicas')
  await tx.done
}

let n = 0
const open: Array<{ close: () => void }> = []
afterEach(() => { for (const s of open.splice(0)) s.close() })

async function upgraded (name: string): Promise<Store> {
  const store = await openStore(name, { now: () => 1000, estimate: null })
  open.push(store)
  return store
}

describe('IndexedDB migration from version 1', () => {
  it('keeps identity, receipts, reputation and jobs; models read back with the right hash', async () => {
    const name = `migrate-${++n}`
    const v1 = await createV1(name)
    await fillV1(v1)
    v1.close()

    const store = await upgraded(name)
    const id = await store.getIdentity()
    expect(id?.privateKey).toBeInstanceOf(Uint8Array)
    expect(id).toEqual(identity)
    expect(await store.listReceipts()).toEqual([...receipts].reverse())
    expect(await store.getReceipt('job-1')).toEqual(receipts[0])
    expect(await store.listJobs()).toEqual([...jobs].reverse())
    expect((await store.listReputation()).sort((a, b) => a.peerId.localeCompare(b.peerId))).toEqual(reputation)

    // metadata kept as it was, most recently used first
    expect(await store.listModels()).toEqual([
      { sha256: shaA, size: 5000, name: 'mlp', addedAt: 1, lastUsedAt: 5 },
      { sha256: shaB, size: 300, addedAt: 2, lastUsedAt: 3 }
    ])
    const a = await store.getModel(shaA)
    expect(sha256Hex(new Uint8Array(a!.bytes))).toBe(shaA)
    expect(a).toMatchObject({ size: 5000, name: 'mlp', addedAt: 1, lastUsedAt: 1000 })
    expect(sha256Hex(new Uint8Array((await store.getModel(shaB))!.bytes))).toBe(shaB)
    expect(await store.listPendingJobs()).toEqual([])
  })

  it('moves model bytes out of the metadata records and drops the unused settings store', async () => {
    const name = `migrate-${++n}`
    const v1 = await createV1(name)
    await fillV1(v1)
    v1.close()
    ;(await upgraded(name)).close()

    const raw = await openDB(name)
    open.push(raw)
    expect(raw.version).toBe(DB_VERSION)
    expect([...raw.objectStoreNames].sort()).toEqual(['identity', 'jobs', 'modelBytes', 'models', 'pendingJobs', 'receipts', 'reputation'])
    for (const meta of await raw.getAll('models')) expect(meta).not.toHaveProperty('bytes')
    expect(await raw.getAllKeys('modelBytes')).toEqual([shaA, shaB].sort())
    expect(new Uint8Array((await raw.get('modelBytes', shaB)).bytes)).toEqual(new Uint8Array(modelB))
    expect([...raw.transaction('models').store.indexNames]).toEqual(['by-lastUsedAt'])
  })

  it('a model corrupted before the upgrade is purged on first read after it', async () => {
    const name = `migrate-${++n}`
    const v1 = await createV1(name)
    await fillV1(v1)
    const rec = await v1.get('models', shaB)
    new Uint8Array(rec.bytes)[0] ^= 1
    await v1.put('models', rec)
    v1.close()

    const store = await upgraded(name)
    await expect(store.getModel(shaB)).rejects.toHaveProperty('name', 'HashMismatchError')
    expect((await store.listModels()).map((m) => m.sha256)).toEqual([shaA])
    expect(await store.getIdentity()).toEqual(identity)
  })

  it('opens an empty version 1 database and a fresh one alike', async () => {
    const name = `migrate-${++n}`
    ;(await createV1(name)).close()
    const migrated = await upgraded(name)
    const fresh = await upgraded(`migrate-${++n}`)
    for (const s of [migrated, fresh]) {
      expect(await s.listModels()).toEqual([])
      expect(await s.getIdentity()).toBeUndefined()
      const { sha256 } = await s.putModel(new Uint8Array(modelB))
      expect(sha256).toBe(shaB)
    }
  })
})
