import 'fake-indexeddb/auto'
import * as Comlink from 'comlink'
import { afterEach, describe, expect, it } from 'vitest'
import { createStoreWorkerApi, openWorkerStore, RemoteStore } from './remote.js'
import type { StoreWorkerEndpoint } from './remote.js'
import { openStore, Store } from './store.js'
import type { StorageFullError } from '../errors.js'

let n = 0
const closers: Array<() => void> = []
afterEach(() => { for (const c of closers.splice(0)) c() })

/** The worker's API over a MessageChannel in this process: what workers/store.worker.ts exposes. */
function channel (open?: Parameters<typeof createStoreWorkerApi>[0]): () => StoreWorkerEndpoint {
  return () => {
    const { port1, port2 } = new MessageChannel()
    Comlink.expose(createStoreWorkerApi(open), port1 as unknown as Comlink.Endpoint)
    const terminate = (): void => { port1.close(); port2.close() }
    closers.push(terminate)
    return { endpoint: port2 as unknown as Comlink.Endpoint, terminate }
  }
}

const bytes = (seed: number, length = 1000): Uint8Array => Uint8Array.from({ length }, (_, i) => (i * seed + seed) & 255)

describe('store in a worker', () => {
  it('does what the store does: models, finished jobs, reputation, identity; and a reopen finds them', async () => {
    const name = `remote-${++n}`
    const store = await openWorkerStore(name, channel())
    expect(store).toBeInstanceOf(RemoteStore)
    const model = bytes(3)
    const { sha256 } = await store.putModel(model, { name: 'm' })
    // the caller's bytes stay its own (copied across, not transferred)
    expect(model.byteLength).toBe(1000)
    const got = await store.getModel(sha256)
    expect(new Uint8Array(got?.bytes ?? new ArrayBuffer(0))).toEqual(model)
    await store.putPendingJob({ jobId: 'local-1', modelHash: sha256, inputHash: 'b'.repeat(64), startedAt: 1 })
    const job = { jobId: 'j1', role: 'requester' as const, modelHash: sha256, inputHash: 'b'.repeat(64), startedAt: 1, finishedAt: 2, status: 'accepted' as const, peers: ['p'], ms: 1 }
    await store.finishJob({ receipt: { jobId: 'j1', createdAt: 2, modelHash: sha256, text: '{}', status: 'accepted' }, job, pendingJobId: 'local-1' })
    await store.putReputations([{ peerId: 'p', valid: 1, invalid: 0, consecutiveValid: 1, flagged: false, updatedAt: 2 }])
    store.close()

    const direct = await openStore(name)
    closers.push(() => { direct.close() })
    expect(await direct.getJob('j1')).toEqual(job)
    expect(await direct.listPendingJobs()).toEqual([])
    expect((await direct.listReputation()).map(r => r.peerId)).toEqual(['p'])
    expect((await direct.listModels()).map(m => m.name)).toEqual(['m'])
  })

  it('keeps typed errors by name and fields across the boundary', async () => {
    const store = await openWorkerStore(`remote-${++n}`, channel())
    await expect(store.putModel(bytes(5), { sha256: 'a'.repeat(64) })).rejects.toMatchObject({ name: 'HashMismatchError' })
    // a store that is full: StorageFullError with what it needed and evicted
    const full = await openWorkerStore(`remote-${++n}`, channel(async (name) => {
      const s = await openStore(name)
      s.putModel = async () => { throw Object.assign(new Error('no room'), { name: 'StorageFullError', needed: 1234, evicted: ['e'.repeat(64)] }) }
      return s
    }))
    const err = await full.putModel(bytes(7)).then(() => undefined, (e: StorageFullError) => e)
    expect(err).toMatchObject({ name: 'StorageFullError', needed: 1234, evicted: ['e'.repeat(64)] })
  })

  it('opens IndexedDB on this thread where no worker can be made or opened', async () => {
    const noWorker = await openWorkerStore(`remote-${++n}`, () => { throw new ReferenceError('Worker is not defined') })
    expect(noWorker).toBeInstanceOf(Store)
    noWorker.close()
    const dead = await openWorkerStore(`remote-${++n}`, () => ({ endpoint: new MessageChannel().port2 as unknown as Comlink.Endpoint, terminate: () => {}, failed: Promise.reject(new Error('script did not load')) }))
    expect(dead).toBeInstanceOf(Store)
    dead.close()
  })
})
