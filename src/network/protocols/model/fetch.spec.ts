/**
 * Model transfer between real libp2p nodes (a relay, a fetcher and three
 * holders on loopback, direct WebRTC links): one model from several holders
 * at once, a holder whose chunks do not match its manifest dropped and its
 * chunks fetched elsewhere, a manifest that lies caught by the whole-model
 * hash, oversize refused before allocation, abort and not-found as typed
 * errors.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startRelay } from '../../relay.js'
import type { Relay } from '../../relay.js'
import { Network } from '../../network.js'
import type { ModelUploadProgress } from '../../network.js'
import { generateIdentity } from '../../keys.js'
import { sha256Hex } from '../../../tensor/index.js'

const KiB = 1024
const CHUNK = 256 * KiB
const model = new Uint8Array(8 * 1024 * KiB + 777).map((_, i) => (i * 2654435761) >>> 24)
const sha = sha256Hex(model)
/** The same length, one byte off in every 64 KiB: no chunk of any size matches. */
const corrupt = model.map((b, i) => (i % (64 * KiB) === 5 ? b ^ 0xff : b))

let relay: Relay
let fetcher: Network
const holders: Network[] = []
/** What each holder serves now (tests swap in corrupted bytes). */
const serving = new Map<Network, Uint8Array>()
const uploads = new Map<Network, ModelUploadProgress[]>()

beforeAll(async () => {
  relay = await startRelay({ port: 0, privateKey: await generateIdentity() })
  const addr = relay.multiaddrs[0]
  fetcher = new Network({ privateKey: await generateIdentity(), relays: [addr] })
  for (let i = 0; i < 3; i++) {
    const h = new Network({ privateKey: await generateIdentity(), relays: [addr], model: { uploadProgressBytes: CHUNK } })
    serving.set(h, model)
    uploads.set(h, [])
    h.serveModels(async (s) => (s === sha ? serving.get(h) : undefined))
    h.addEventListener('model:upload', (evt) => { uploads.get(h)?.push(evt.detail) })
    holders.push(h)
  }
  await Promise.all([fetcher, ...holders].map(async n => { await n.start() }))
  // links first, so that every holder is there when a fetch starts
  for (const h of holders) await fetcher.ensureDirect(h.peerId)
}, 90_000)

afterAll(async () => {
  await Promise.all([fetcher, ...holders].map(async n => { await n?.stop() }))
  await relay?.stop()
})

function sentBy (h: Network): number {
  return (uploads.get(h) ?? []).filter(u => u.sha256 === sha).reduce((a, u) => Math.max(a, u.sent), 0)
}

describe('model transfer from several holders', () => {
  it('fetches one model from three holders at once, each chunk checked, progress to the end', async () => {
    for (const list of uploads.values()) list.length = 0
    const progress: number[] = []
    const bytes = await fetcher.fetchModelFrom(holders.map(h => h.peerId), sha, { chunkBytes: CHUNK, onProgress: (p) => progress.push(p.loaded) })
    expect(sha256Hex(bytes)).toBe(sha)
    expect(bytes.byteLength).toBe(bytes.buffer.byteLength)
    expect(progress.at(-1)).toBe(model.length)
    expect(progress).toEqual([...progress].sort((a, b) => a - b))
    // uploads end once the fetcher closes its streams
    await expect.poll(() => holders.reduce((a, h) => a + sentBy(h), 0), { timeout: 5_000 }).toBe(model.length)
    expect(holders.filter(h => sentBy(h) > 0).length).toBeGreaterThanOrEqual(2)
  }, 60_000)

  it('also works with one stream per request', async () => {
    const bytes = await fetcher.fetchModelFrom(holders.map(h => h.peerId), sha, { chunkBytes: CHUNK, reuseStreams: false })
    expect(sha256Hex(bytes)).toBe(sha)
  }, 60_000)

  it('drops a holder whose chunk does not match its manifest and fetches that chunk from another', async () => {
    const [liar, honest] = holders
    // the liar's manifest was computed from good bytes (cached by the first test); its bytes went bad since
    serving.set(liar, corrupt)
    try {
      const dropped: Array<[string, string]> = []
      const bytes = await fetcher.fetchModelFrom([liar.peerId, honest.peerId], sha, { chunkBytes: CHUNK, maxHolders: 1, onHolderDropped: (p, e) => dropped.push([p, e.name]) })
      expect(sha256Hex(bytes)).toBe(sha)
      expect(dropped).toEqual([[liar.peerId, 'HashMismatchError']])
    } finally {
      serving.set(liar, model)
    }
  }, 60_000)

  it('catches a manifest that lies (chunks match it, the whole does not) and starts over with an honest holder', async () => {
    const [, honest, liar] = holders
    serving.set(liar, corrupt)
    try {
      // a chunk size no test used yet: the liar hashes its corrupted bytes into a manifest of its own
      const chunkBytes = 128 * KiB
      const dropped: Array<[string, string]> = []
      const bytes = await fetcher.fetchModelFrom([liar.peerId, honest.peerId], sha, { chunkBytes, maxHolders: 1, onHolderDropped: (p, e) => dropped.push([p, e.name]) })
      expect(sha256Hex(bytes)).toBe(sha)
      expect(dropped).toEqual([[liar.peerId, 'HashMismatchError']])
      // both asked at once: whichever manifest comes first, the answer is right
      expect(sha256Hex(await fetcher.fetchModelFrom([liar.peerId, honest.peerId], sha, { chunkBytes: 64 * KiB }))).toBe(sha)
      // the liar alone: a typed error, not bytes
      await expect(fetcher.fetchModelFrom([liar.peerId], sha, { chunkBytes })).rejects.toMatchObject({ name: 'HashMismatchError' })
    } finally {
      serving.set(liar, model)
    }
  }, 60_000)

  it('refuses a model over its limit from the manifest, before any chunk is asked', async () => {
    for (const list of uploads.values()) list.length = 0
    await expect(fetcher.fetchModelFrom(holders.map(h => h.peerId), sha, { maxBytes: 1024 * KiB })).rejects.toMatchObject({ name: 'ModelTooLargeError' })
    expect(holders.map(sentBy)).toEqual([0, 0, 0])
  }, 60_000)

  it('stops on abort with AbortError, and names a model nobody holds ModelNotFoundError', async () => {
    const ac = new AbortController()
    await expect(fetcher.fetchModelFrom(holders.map(h => h.peerId), sha, { chunkBytes: 64 * KiB, signal: ac.signal, onProgress: () => { ac.abort() } })).rejects.toMatchObject({ name: 'AbortError' })
    await expect(fetcher.fetchModelFrom(holders.map(h => h.peerId), sha, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' })
    await expect(fetcher.fetchModelFrom(holders.map(h => h.peerId), 'f'.repeat(64))).rejects.toMatchObject({ name: 'ModelNotFoundError' })
    // and the holders still serve
    expect(sha256Hex(await fetcher.fetchModelFrom(holders.map(h => h.peerId), sha))).toBe(sha)
  }, 60_000)
})
