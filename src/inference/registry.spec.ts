import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore } from '../storage/index.js'
import type { Store } from '../storage/index.js'
import { sha256Hex } from '../tensor/index.js'
import { ModelRegistry } from './registry.js'
import { HashMismatchError } from '../errors.js'
import { HttpCatalog } from './http-catalog.js'
import type { ModelProgressDetail } from './registry.js'

const MANIFEST_URL = 'http://site.test/models/manifest.json'
const bytesA = Uint8Array.from({ length: 600_000 }, (_, i) => (i * 31) & 255)
const shaA = sha256Hex(bytesA)

function manifestFor (entries: Array<{ id: string, file: string, bytes: Uint8Array, declared?: number }>): string {
  return JSON.stringify({
    v: 1,
    models: entries.map((e) => ({
      id: e.id, name: e.id, file: e.file, sha256: sha256Hex(e.bytes), bytes: e.declared ?? e.bytes.byteLength,
      policy: { kind: 'exact' }, inputs: { x: { dtype: 'float32', dims: [1, 4] } }, outputs: ['y'], description: ''
    })),
    extras: []
  })
}

/** A fetch serving fixed files, streaming bodies in 100 kB chunks. */
function fakeFetch (files: Record<string, Uint8Array | string>): { fetch: typeof fetch, calls: string[] } {
  const calls: string[] = []
  const f = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input instanceof Request ? input.url : input)
    calls.push(url)
    init?.signal?.throwIfAborted()
    const body = files[url]
    if (body == null) return new Response('no', { status: 404 })
    if (typeof body === 'string') return new Response(body)
    let o = 0
    return new Response(new ReadableStream<Uint8Array>({
      pull (c) {
        if (o >= body.length) { c.close(); return }
        c.enqueue(body.slice(o, o + 100_000)); o += 100_000
      }
    }))
  }
  return { fetch: f as typeof fetch, calls }
}

let n = 0
const stores: Store[] = []
async function store (): Promise<Store> {
  const s = await openStore(`registry-${++n}`)
  stores.push(s)
  return s
}
afterEach(() => { for (const s of stores.splice(0)) s.close() })

describe('ModelRegistry', () => {
  it('fetches from the catalog with progress, verifies, stores, then serves from the store', async () => {
    const s = await store()
    const { fetch, calls } = fakeFetch({
      [MANIFEST_URL]: manifestFor([{ id: 'a', file: 'models/a.onnx', bytes: bytesA }]),
      'http://site.test/models/a.onnx': bytesA
    })
    const reg = new ModelRegistry({ store: s, catalog: new HttpCatalog(MANIFEST_URL, { fetch }) })
    const progress: ModelProgressDetail[] = []
    reg.addEventListener('model:progress', (ev) => progress.push(ev.detail))

    const got = await reg.resolve(shaA)
    expect(got.source).toBe('http')
    expect(got.entry?.id).toBe('a')
    expect(new Uint8Array(got.bytes)).toEqual(bytesA)
    expect(progress[0]).toEqual({ sha256: shaA, loaded: 0, total: 600_000, source: 'http' })
    expect(progress.at(-1)).toEqual({ sha256: shaA, loaded: 600_000, total: 600_000, source: 'http' })
    expect(progress.length).toBeGreaterThan(2)
    expect(await s.hasModel(shaA)).toBe(true)

    const again = await reg.resolve(shaA)
    expect(again.source).toBe('store')
    expect(calls.filter((c) => c.endsWith('.onnx'))).toHaveLength(1)
  })

  it('rejects bytes that do not hash to the manifest sha256 and stores nothing', async () => {
    const s = await store()
    const evil = bytesA.slice()
    evil[5] ^= 1
    const { fetch } = fakeFetch({
      [MANIFEST_URL]: manifestFor([{ id: 'a', file: 'models/a.onnx', bytes: bytesA }]),
      'http://site.test/models/a.onnx': evil
    })
    const reg = new ModelRegistry({ store: s, catalog: new HttpCatalog(MANIFEST_URL, { fetch }) })
    const err = await reg.resolve(shaA).catch((e: Error) => e)
    expect(err).toHaveProperty('name', 'HashMismatchError')
    expect(await s.hasModel(shaA)).toBe(false)
  })

  it('rejects a body longer than the manifest says without reading it all', async () => {
    const s = await store()
    const { fetch } = fakeFetch({
      [MANIFEST_URL]: manifestFor([{ id: 'a', file: 'models/a.onnx', bytes: bytesA, declared: 1000 }]),
      'http://site.test/models/a.onnx': bytesA
    })
    const reg = new ModelRegistry({ store: s, catalog: new HttpCatalog(MANIFEST_URL, { fetch }) })
    const err = await reg.resolve(shaA).catch((e: Error) => e)
    expect(err).toHaveProperty('name', 'HashMismatchError')
  })

  it('falls back to peers (verified) when the catalog does not have the model', async () => {
    const s = await store()
    const { fetch } = fakeFetch({ [MANIFEST_URL]: manifestFor([]) })
    const asked: string[] = []
    const reg = new ModelRegistry({
      store: s,
      catalog: new HttpCatalog(MANIFEST_URL, { fetch }),
      fetchFromPeers: async (sha, { onProgress }) => { asked.push(sha); onProgress?.(bytesA.length, bytesA.length); return bytesA }
    })
    const peerProgress: ModelProgressDetail[] = []
    reg.addEventListener('model:progress', (ev) => peerProgress.push(ev.detail))
    const got = await reg.resolve(shaA)
    expect(got.source).toBe('peer')
    expect(asked).toEqual([shaA])
    expect(peerProgress).toEqual([{ sha256: shaA, loaded: 600_000, total: 600_000, source: 'peer' }])
    expect(await s.hasModel(shaA)).toBe(true)
  })

  it('keeps the buffer a peer fetch filled (no second copy of the model), and copies a view into a larger one', async () => {
    const whole = bytesA.slice()
    const reg = new ModelRegistry({ store: await store(), catalog: null, fetchFromPeers: async () => whole })
    expect((await reg.resolve(shaA)).bytes).toBe(whole.buffer)
    const inLarger = new Uint8Array(bytesA.length + 10)
    inLarger.set(bytesA, 10)
    const view = inLarger.subarray(10)
    const reg2 = new ModelRegistry({ store: await store(), catalog: null, fetchFromPeers: async () => view })
    const got = await reg2.resolve(shaA)
    expect(got.bytes).not.toBe(inLarger.buffer)
    expect(new Uint8Array(got.bytes)).toEqual(bytesA)
  })

  it('names the peers\' typed failure when holders were asked and none could serve', async () => {
    const reg = new ModelRegistry({ store: await store(), catalog: null, fetchFromPeers: async () => { throw new HashMismatchError('every holder lied') } })
    await expect(reg.resolve(shaA)).rejects.toMatchObject({ name: 'HashMismatchError' })
  })

  it('refuses wrong bytes from peers', async () => {
    const s = await store()
    const reg = new ModelRegistry({ store: s, catalog: null, fetchFromPeers: async () => new Uint8Array([1, 2, 3]) })
    const err = await reg.resolve(shaA).catch((e: Error) => e)
    expect(err).toHaveProperty('name', 'HashMismatchError')
    expect(await s.hasModel(shaA)).toBe(false)
  })

  it('throws ModelNotFoundError when nobody has it', async () => {
    const s = await store()
    const { fetch } = fakeFetch({ [MANIFEST_URL]: manifestFor([]) })
    const reg = new ModelRegistry({ store: s, catalog: new HttpCatalog(MANIFEST_URL, { fetch }), fetchFromPeers: async () => undefined })
    const err = await reg.resolve(shaA).catch((e: Error) => e)
    expect(err).toHaveProperty('name', 'ModelNotFoundError')
  })

  it('honours an aborted signal', async () => {
    const s = await store()
    const { fetch } = fakeFetch({ [MANIFEST_URL]: manifestFor([{ id: 'a', file: 'models/a.onnx', bytes: bytesA }]) })
    const reg = new ModelRegistry({ store: s, catalog: new HttpCatalog(MANIFEST_URL, { fetch }) })
    const ac = new AbortController()
    ac.abort()
    const err = await reg.resolve(shaA, { signal: ac.signal }).catch((e: Error) => e)
    expect(err).toHaveProperty('name', 'AbortError')
  })

  it('re-fetches a model whose stored copy was corrupted', async () => {
    const s = await store()
    await s.putModel(bytesA)
    const corrupt = { getModel: async (sha: string) => { await s.deleteModel(sha); throw Object.assign(new Error('bad'), { name: 'HashMismatchError' }) }, putModel: s.putModel.bind(s) }
    const { fetch } = fakeFetch({
      [MANIFEST_URL]: manifestFor([{ id: 'a', file: 'models/a.onnx', bytes: bytesA }]),
      'http://site.test/models/a.onnx': bytesA
    })
    const reg = new ModelRegistry({ store: corrupt, catalog: new HttpCatalog(MANIFEST_URL, { fetch }) })
    expect((await reg.resolve(shaA)).source).toBe('http')
    expect(await s.hasModel(shaA)).toBe(true)
  })

  it('resolves model references in one place: catalog id, sha256, bytes', async () => {
    const s = await store()
    const { fetch } = fakeFetch({ [MANIFEST_URL]: manifestFor([{ id: 'a', file: 'models/a.onnx', bytes: bytesA }]) })
    const reg = new ModelRegistry({ store: s, catalog: new HttpCatalog(MANIFEST_URL, { fetch }) })
    expect(await reg.resolveRef('a')).toMatchObject({ sha256: shaA, entry: { id: 'a' } })
    expect(await reg.resolveRef(shaA.toUpperCase())).toMatchObject({ sha256: shaA, entry: { id: 'a' } })
    const other = Uint8Array.from([1, 2, 3])
    expect(await reg.resolveRef(other)).toEqual({ sha256: sha256Hex(other), entry: undefined })
    // bytes given by the caller are kept, so workers lacking them can fetch them from us
    expect(await s.hasModel(sha256Hex(other))).toBe(true)
    await expect(reg.resolveRef('nope')).rejects.toMatchObject({ name: 'ModelNotFoundError' })
    await expect(reg.resolveRef(' ')).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    await expect(new ModelRegistry({ store: s, catalog: null }).resolveRef('a')).rejects.toMatchObject({ name: 'ModelNotFoundError' })
  })

  it('refuses a catalog model over the size limit with ModelTooLargeError', async () => {
    const s = await store()
    const { fetch } = fakeFetch({ [MANIFEST_URL]: manifestFor([{ id: 'a', file: 'models/a.onnx', bytes: bytesA }]) })
    const reg = new ModelRegistry({ store: s, catalog: new HttpCatalog(MANIFEST_URL, { fetch }) }, { maxModelBytes: 1000 })
    await expect(reg.resolve(shaA)).rejects.toMatchObject({ name: 'ModelTooLargeError' })
  })
})
