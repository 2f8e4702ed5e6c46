/**
 * Serving side of the model protocol. One stream carries requests one after
 * another until the fetcher closes it: a manifest (computed once per model
 * and chunk size, then kept in a small LRU), or a run of chunks (a header,
 * then the raw bytes, sent as the transport drains). Streams serving the same
 * model share one read of it from the provider, released when the last one
 * ends. Upload progress is counted per fetcher and model across its streams.
 */
import type { Stream } from '@libp2p/interface'
import type { Logger } from '../../../logger.js'
import { decodeModelRequest, encodeModelResponse } from '../../codec.js'
import type { ModelRequest, ModelResponse } from '../../codec.js'
import { hashChunks } from './chunks.js'
import { StreamReader, sendBytes, sendFrame } from './frames.js'
import { MAX_MODEL_CONTROL_BYTES, MAX_MODEL_REQUEST_BYTES } from './constants.js'

export type ModelProvider = (sha256: string) => Promise<Uint8Array | undefined>

export interface ModelUploadProgress {
  /** Peer the model is going to. */
  peerId: string
  sha256: string
  /** Bytes of this model written to this peer's streams so far (one holder of several sends only its share). */
  sent: number
  total: number
}

export interface ModelServerInit {
  /** Report progress at most once per this many bytes; the end of a fetch always reports. */
  progressBytes: number
  /** Manifests kept (model × chunk size). */
  manifestCache: number
  onProgress: (p: ModelUploadProgress) => void
  log: Logger
}

interface OpenModel { bytes: Promise<Uint8Array | undefined>, streams: number }
interface Upload { sent: number, reported: number, total: number, streams: number }

export class ModelServer {
  private readonly init: ModelServerInit
  /** Insertion order is use order: the first key is the least recently used. */
  private readonly manifests = new Map<string, Promise<Uint8Array[]>>()
  private readonly open = new Map<string, OpenModel>()
  private readonly uploads = new Map<string, Upload>()

  constructor (init: ModelServerInit) {
    this.init = init
  }

  /** Answers requests on `stream` until the fetcher ends it, `signal` fires or a request is malformed. */
  async serve (stream: Stream, from: string, provider: ModelProvider | undefined, signal: AbortSignal): Promise<void> {
    const reader = new StreamReader(stream, MAX_MODEL_CONTROL_BYTES + 8)
    const held = new Set<string>()
    try {
      for (;;) {
        const frame = await reader.readFrame(MAX_MODEL_CONTROL_BYTES, { signal })
        if (frame == null) break
        const req = decodeModelRequest(frame, MAX_MODEL_CONTROL_BYTES)
        if (!held.has(req.sha256)) {
          held.add(req.sha256)
          this.acquire(req.sha256, from, provider)
        }
        const bytes = await this.open.get(req.sha256)?.bytes.catch(() => undefined)
        if (bytes == null) {
          await sendFrame(stream, encodeModelResponse({ type: 'error', error: { name: 'ModelNotFoundError', message: 'not held here' } }), { signal })
          continue
        }
        await this.answer(stream, from, req, bytes, signal)
      }
      await stream.close({ signal })
    } catch (err) {
      this.init.log('model stream from %s failed: %s', from, (err as Error).message)
      stream.abort(err as Error)
    } finally {
      reader.detach()
      for (const sha of held) this.release(sha, from)
    }
  }

  private async answer (stream: Stream, from: string, req: ModelRequest, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
    const count = Math.ceil(bytes.byteLength / req.chunkBytes)
    if (req.type === 'model-manifest') {
      const res: ModelResponse = { type: 'model-manifest', sha256: req.sha256, size: bytes.byteLength, chunkBytes: req.chunkBytes, chunkHashes: await this.manifest(req.sha256, req.chunkBytes, bytes) }
      await sendFrame(stream, encodeModelResponse(res), { signal })
      return
    }
    if (req.first + req.count > count || req.count * req.chunkBytes > MAX_MODEL_REQUEST_BYTES) {
      await sendFrame(stream, encodeModelResponse({ type: 'error', error: { name: 'InvalidMessageError', message: `chunks ${req.first}+${req.count} of ${count}, at most ${MAX_MODEL_REQUEST_BYTES} bytes a request` } }), { signal })
      return
    }
    const body = bytes.subarray(req.first * req.chunkBytes, Math.min(bytes.byteLength, (req.first + req.count) * req.chunkBytes))
    await sendFrame(stream, encodeModelResponse({ type: 'model-chunks', first: req.first, count: req.count, bytes: body.byteLength }), { signal })
    await sendBytes(stream, body, { signal })
    const up = this.uploads.get(`${from} ${req.sha256}`)
    if (up != null) {
      up.sent += body.byteLength
      if (up.sent - up.reported >= this.init.progressBytes || up.sent >= up.total) this.report(from, req.sha256, up)
    }
  }

  private async manifest (sha256: string, chunkBytes: number, bytes: Uint8Array): Promise<Uint8Array[]> {
    const key = `${sha256} ${chunkBytes}`
    let hashes = this.manifests.get(key)
    if (hashes != null) {
      this.manifests.delete(key)
    } else {
      hashes = hashChunks(bytes, chunkBytes)
      hashes.catch(() => { this.manifests.delete(key) })
    }
    this.manifests.set(key, hashes)
    while (this.manifests.size > this.init.manifestCache) this.manifests.delete(this.manifests.keys().next().value as string)
    return await hashes
  }

  private acquire (sha256: string, from: string, provider: ModelProvider | undefined): void {
    const open = this.open.get(sha256) ?? { bytes: provider?.(sha256) ?? Promise.resolve(undefined), streams: 0 }
    open.streams++
    this.open.set(sha256, open)
    const key = `${from} ${sha256}`
    const up = this.uploads.get(key) ?? { sent: 0, reported: 0, total: 0, streams: 0 }
    up.streams++
    this.uploads.set(key, up)
    void open.bytes.then((b) => { up.total = b?.byteLength ?? 0 }, () => {})
  }

  private release (sha256: string, from: string): void {
    const open = this.open.get(sha256)
    if (open != null && --open.streams === 0) this.open.delete(sha256)
    const key = `${from} ${sha256}`
    const up = this.uploads.get(key)
    if (up != null && --up.streams === 0) {
      this.uploads.delete(key)
      if (up.sent > up.reported) this.report(from, sha256, up)
    }
  }

  private report (peerId: string, sha256: string, up: Upload): void {
    up.reported = up.sent
    this.init.onProgress({ peerId, sha256, sent: up.sent, total: up.total })
  }
}
