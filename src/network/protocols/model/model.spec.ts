/**
 * The model protocol over in-memory stream pairs (one per stream the fetcher
 * opens): the fetcher gets checked bytes, and the serving side reports upload
 * progress, throttled, with a final event. Real libp2p nodes: fetch.spec.ts.
 */
import { describe, it, expect } from 'vitest'
import { streamPair } from '@libp2p/utils'
import type { Connection, Stream } from '@libp2p/interface'
import { modelProtocol } from './index.js'
import type { ModelUploadProgress } from './index.js'
import { MODEL_CHUNK_BYTES } from './constants.js'
import { sha256Hex } from '../../../tensor/index.js'

const model = new Uint8Array(5 * MODEL_CHUNK_BYTES + 1234).map((_, i) => (i * 31) & 0xff)
const sha = sha256Hex(model)
const registrar = { handle: async () => {}, unhandle: async () => {} }

/** A fetcher and a server joined by one stream pair, as a direct link would. */
async function setup (uploadProgressBytes?: number): Promise<{ fetch: (sha256: string) => Promise<Uint8Array>, uploads: ModelUploadProgress[] }> {
  const uploads: ModelUploadProgress[] = []
  const served: Array<Promise<void>> = []
  const server = modelProtocol({ uploadProgressBytes })({ registrar, links: { ensureDirect: async () => { throw new Error('server does not dial') } } })
  server.serve(async (s) => (s === sha ? model : undefined))
  server.addEventListener('model:upload', (evt) => { uploads.push(evt.detail) })
  const links = {
    ensureDirect: async (): Promise<Connection> => ({
      newStream: async (): Promise<Stream> => {
        const [outbound, inbound] = await streamPair()
        served.push(server.serveStream(inbound, 'fetcher-peer'))
        return outbound
      }
    }) as unknown as Connection
  }
  const client = modelProtocol()({ registrar, links })
  return {
    uploads,
    fetch: async (s) => {
      try {
        // one request at a time: the bytes sent grow chunk by chunk, in order
        return await client.fetch('server-peer', s, { timeout: 10_000, requestsPerHolder: 1 })
      } finally {
        await Promise.all(served)
      }
    }
  }
}

describe('model protocol', () => {
  it('moves a model and reports upload progress at most once per step, plus a final event', async () => {
    const { fetch, uploads } = await setup(2 * MODEL_CHUNK_BYTES)
    const bytes = await fetch(sha)
    expect(sha256Hex(bytes)).toBe(sha)
    expect(uploads).toEqual([
      { peerId: 'fetcher-peer', sha256: sha, sent: 2 * MODEL_CHUNK_BYTES, total: model.length },
      { peerId: 'fetcher-peer', sha256: sha, sent: 4 * MODEL_CHUNK_BYTES, total: model.length },
      { peerId: 'fetcher-peer', sha256: sha, sent: model.length, total: model.length }
    ])
  })

  it('sends only the final event when the whole model is smaller than one step', async () => {
    const { fetch, uploads } = await setup(8 * MODEL_CHUNK_BYTES)
    await fetch(sha)
    expect(uploads).toEqual([{ peerId: 'fetcher-peer', sha256: sha, sent: model.length, total: model.length }])
  })

  it('reports no upload for a model it does not hold, and the fetcher gets ModelNotFoundError', async () => {
    const { fetch, uploads } = await setup()
    await expect(fetch('f'.repeat(64))).rejects.toMatchObject({ name: 'ModelNotFoundError' })
    expect(uploads).toEqual([])
  })
})
