/**
 * Two Node peers and a relay on loopback: jobs and models cross a direct
 * WebRTC link, and malformed requests get typed errors without hurting the peer.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { lpStream } from '@libp2p/utils'
import { encode } from 'cborg'
import { startRelay } from './relay.js'
import type { Relay } from './relay.js'
import { Network } from './network.js'
import { generateIdentity } from './keys.js'
import { decodeJobResponse } from './codec.js'
import { JOB_PROTOCOL } from './constants.js'
import { createTensor, hashTensors, sha256Hex } from '../tensor/index.js'

let relay: Relay
let a: Network
let b: Network
const model = new Uint8Array(700_000).map((_, i) => (i * 7) & 0xff)

beforeAll(async () => {
  relay = await startRelay({ port: 0, discoveryInterval: 1000 })
  const addr = relay.multiaddrs[0]
  a = new Network({ privateKey: await generateIdentity(), relay: addr, discoveryInterval: 1000 })
  b = new Network({ privateKey: await generateIdentity(), relay: addr, discoveryInterval: 1000 })
  b.serveModels(async (sha) => (sha === sha256Hex(model) ? model : undefined))
  b.onJob(async (req) => ({ type: 'error', jobId: req.jobId, error: { name: 'JobRejectedError', message: 'test peer takes no jobs' } }))
  await a.start()
  await b.start()
}, 60_000)

afterAll(async () => {
  await a?.stop()
  await b?.stop()
  await relay?.stop()
})

describe('network over a real relay', () => {
  it('opens a direct WebRTC link (unlimited, webrtc multiplexer)', async () => {
    const conn = await a.ensureDirect(b.peerId)
    expect(conn.limits).toBeUndefined()
    expect(conn.multiplexer).toBe('/webrtc')
    expect(a.getConnections().some(c => c.peerId === b.peerId && c.direct)).toBe(true)
  }, 60_000)

  it('moves a model in chunks and checks its hash', async () => {
    const progress: number[] = []
    const bytes = await a.fetchModel(b.peerId, sha256Hex(model), { onProgress: (p) => progress.push(p.loaded) })
    expect(sha256Hex(bytes)).toBe(sha256Hex(model))
    expect(progress.length).toBeGreaterThan(1)
    expect(progress.at(-1)).toBe(model.length)
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
    const inputs = { x: createTensor('float32', [1], new Float32Array([1])) }
    const again = await a.requestJob(b.peerId, {
      type: 'job',
      jobId: 'a'.repeat(64),
      spec: { v: 1, modelHash: sha256Hex(model), inputHash: hashTensors(inputs), policy: { kind: 'exact' }, replicas: 1, quorum: 1, requester: a.peerId, nonce: '0123456789abcdef', createdAt: 1, expiresAt: 2 },
      inputs
    })
    expect(again).toMatchObject({ type: 'error', error: { name: 'JobRejectedError' } })
  }, 60_000)
})
