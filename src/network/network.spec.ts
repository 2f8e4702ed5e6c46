/**
 * Two Node peers and a relay on loopback: jobs and models cross a direct
 * WebRTC link, malformed requests get typed errors without hurting the peer,
 * the relayed connection is closed once the link is up, contributors are
 * found by their signed leases on the relay (paused ones are not), and when the relay goes away and comes back the
 * link keeps working and the peers take a new reservation.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { lpStream } from '@libp2p/utils'
import { encode } from 'cborg'
import { startRelay } from './relay.js'
import type { Relay } from './relay.js'
import { Network } from './network.js'
import type { ModelUploadProgress, RelayChange } from './network.js'
import { generateIdentity } from './keys.js'
import type { PrivateKey } from './keys.js'
import { decodeJobResponse } from './codec.js'
import type { JobRequest } from './codec.js'
import { JOB_PROTOCOL } from './constants.js'
import { createTensor, hashTensors, sha256Hex } from '../tensor/index.js'

let relay: Relay
let relayKey: PrivateKey
let a: Network
let b: Network
const model = new Uint8Array(700_000).map((_, i) => (i * 7) & 0xff)
/** Chunks of 256 KiB, one request at a time: three chunks, fetch progress in order. */
const CHUNK = 256 * 1024
const uploads: ModelUploadProgress[] = []
const relayChanges: RelayChange[] = []
const capabilities = { models: [], numericClass: 'ort-node/cpu/t1/linux', backend: 'cpu', threads: 1, jobsDone: 0, runtime: 'ort-node' }

function job (requester: string): JobRequest {
  const inputs = { x: createTensor('float32', [1], new Float32Array([1])) }
  return {
    type: 'job',
    jobId: 'a'.repeat(64),
    spec: { v: 1, modelHash: sha256Hex(model), inputHash: hashTensors(inputs), policy: { kind: 'exact' }, replicas: 1, quorum: 1, requester, nonce: '0123456789abcdef', createdAt: 1, expiresAt: 2 },
    inputs
  }
}

beforeAll(async () => {
  relayKey = await generateIdentity()
  relay = await startRelay({ port: 0, privateKey: relayKey })
  const addr = relay.multiaddrs[0]
  // `relay` (one string) is still accepted next to `relays`
  a = new Network({ privateKey: await generateIdentity(), relays: [addr], relayBackoffInitial: 200, relayBackoffMax: 1000 })
  b = new Network({ privateKey: await generateIdentity(), relay: addr, model: { uploadProgressBytes: CHUNK } })
  b.serveModels(async (sha) => (sha === sha256Hex(model) ? model : undefined))
  b.onJob(async (req) => ({ type: 'error', jobId: req.jobId, error: { name: 'JobRejectedError', message: 'test peer takes no jobs' } }))
  b.addEventListener('model:upload', (evt) => { uploads.push(evt.detail) })
  a.addEventListener('network:relay', (evt) => { relayChanges.push(evt.detail) })
  await a.start()
  await b.start()
}, 60_000)

afterAll(async () => {
  await a?.stop()
  await b?.stop()
  await relay?.stop()
})

describe('network over a real relay', () => {
  it('joins the relay: reachable, with a reservation', () => {
    expect(a.reachable()).toBe(true)
    expect(a.relayConnected()).toBe(true)
    expect(a.relayStatus()).toEqual([{ addr: relay.multiaddrs[0], connected: true, reserved: true }])
    expect(a.getMultiaddrs().some(m => m.includes('/p2p-circuit/webrtc'))).toBe(true)
    expect(relayChanges.at(-1)).toMatchObject({ connected: true, reachable: true })
  })

  it('opens a direct WebRTC link (unlimited, webrtc multiplexer)', async () => {
    const conn = await a.ensureDirect(b.peerId)
    expect(conn.limits).toBeUndefined()
    expect(conn.multiplexer).toBe('/webrtc')
    expect(a.getConnections().some(c => c.peerId === b.peerId && c.direct)).toBe(true)
  }, 60_000)

  it('closes the relayed connection that carried the signalling once the link is up', async () => {
    const relayed = (n: Network, peer: string): number => n.getConnections().filter(c => c.peerId === peer && !c.direct && c.remoteAddr.includes('/p2p-circuit')).length
    await expect.poll(() => relayed(a, b.peerId) + relayed(b, a.peerId), { timeout: 15_000 }).toBe(0)
    expect(a.getPeers().find(p => p.peerId === b.peerId)).toMatchObject({ direct: true, relayed: false })
  }, 20_000)

  it('moves a model in chunks, checks its hash, and the server reports upload progress', async () => {
    const progress: number[] = []
    const bytes = await a.fetchModel(b.peerId, sha256Hex(model), { chunkBytes: CHUNK, requestsPerHolder: 1, onProgress: (p) => progress.push(p.loaded) })
    expect(sha256Hex(bytes)).toBe(sha256Hex(model))
    expect(progress.length).toBeGreaterThan(1)
    expect(progress.at(-1)).toBe(model.length)
    // one request carries up to 1 MiB of chunks: the server reports per request, the fetcher per checked chunk
    expect(uploads.map(u => u.sent)).toEqual([model.length])
    expect(uploads.every(u => u.peerId === a.peerId && u.sha256 === sha256Hex(model) && u.total === model.length)).toBe(true)
    await expect(a.fetchModel(b.peerId, 'f'.repeat(64))).rejects.toMatchObject({ name: 'ModelNotFoundError' })
  }, 60_000)

  it('answers garbage on the job protocol with a typed error and keeps serving', async () => {
    const conn = await a.ensureDirect(b.peerId)
    const stream = await conn.newStream(JOB_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(encode({ v: 1, type: 'job', jobId: 'nonsense' }))
    const res = decodeJobResponse((await lp.read()).subarray(), 1 << 20)
    expect(res.type).toBe('error')
    if (res.type === 'error') expect(res.error.name).toBe('InvalidMessageError')
    await stream.close()

    // the peer is unharmed: a well-formed (if refused) exchange still works
    expect(await a.requestJob(b.peerId, job(a.peerId))).toMatchObject({ type: 'error', error: { name: 'JobRejectedError' } })
  }, 60_000)

  it('a contributor leases itself to the relay; a requester samples it from there, and not while it is paused', async () => {
    const sampled = async (): Promise<boolean> => {
      await a.waitForContributors()
      return a.getContributors().some(p => p.peerId === b.peerId)
    }
    expect(b.leaseState().held).toBe(false)
    await b.announce(capabilities)
    expect(b.leaseState()).toMatchObject({ held: true, relays: [relay.peerId] })
    // the relay holds what b signed, and a checked it: nobody else could have made it
    expect(relay.book.get(b.peerId)).toMatchObject({ peerId: b.peerId, paused: false, runtime: 'ort-node' })
    await expect.poll(sampled, { timeout: 10_000 }).toBe(true)
    expect(a.getContributors().find(p => p.peerId === b.peerId)?.announcement).toMatchObject({ paused: false, runtime: 'ort-node' })
    expect(a.sampleStats()).toMatchObject({ got: 1, small: false, skewed: false })
    // a pause is leased at once, and the requester's pool drops b at its next sample
    await b.announce({ ...capabilities, paused: true })
    expect(relay.book.get(b.peerId)?.paused).toBe(true)
    await expect.poll(sampled, { timeout: 10_000 }).toBe(false)
    await b.announce(capabilities)
    await expect.poll(sampled, { timeout: 10_000 }).toBe(true)
  }, 40_000)

  it('keeps the direct link while the relay is down, then reconnects and takes a new reservation', async () => {
    await a.ensureDirect(b.peerId)
    const port = Number(relay.multiaddrs[0].split('/tcp/')[1].split('/')[0])
    await relay.stop()
    await expect.poll(() => a.reachable(), { timeout: 10_000 }).toBe(false)
    expect(a.relayStatus()[0]).toMatchObject({ connected: false, reserved: false })
    expect(relayChanges.at(-1)).toMatchObject({ reachable: false })

    // jobs still cross the direct link: it never went through the relay
    expect(await a.requestJob(b.peerId, job(a.peerId))).toMatchObject({ type: 'error', error: { name: 'JobRejectedError' } })

    relay = await startRelay({ port, privateKey: relayKey })
    await expect.poll(() => a.reachable() && b.reachable(), { timeout: 20_000 }).toBe(true)
    expect(a.relayStatus()[0]).toMatchObject({ connected: true, reserved: true })
    await expect.poll(() => relayChanges.at(-1)?.reachable, { timeout: 5_000 }).toBe(true)
    expect(relay.stats().reservations).toBe(2)
    // the new relay process knew nothing: b leases itself again as soon as it is back
    await expect.poll(() => relay.book.get(b.peerId) != null, { timeout: 10_000 }).toBe(true)
    // the relay holds the lease before its ack reaches b
    await expect.poll(() => b.leaseState().held, { timeout: 5_000 }).toBe(true)
  }, 40_000)

  it('refuses a relay address without a peer id, by name', async () => {
    expect(() => new Network({ privateKey: relayKey, relays: ['/ip4/127.0.0.1/tcp/1/ws'] })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
    expect(() => new Network({ privateKey: relayKey, relays: [] })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
  })
})
