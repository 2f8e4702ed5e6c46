/** Serving side of the model protocol: header, then the bytes in chunks, with upload progress. */
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import type { Logger } from '../../../logger.js'
import { decodeModelRequest, encodeModelHeader } from '../../codec.js'
import { MAX_MODEL_CONTROL_BYTES, MODEL_CHUNK_BYTES } from './constants.js'

export type ModelProvider = (sha256: string) => Promise<Uint8Array | undefined>

export interface ModelUploadProgress {
  /** Peer the model is going to. */
  peerId: string
  sha256: string
  /** Bytes written to the stream so far. */
  sent: number
  total: number
}

export interface ServeModelOptions {
  signal: AbortSignal
  /** Report progress at most once per this many bytes; the last chunk always reports. */
  progressBytes: number
  onProgress: (p: ModelUploadProgress) => void
  log: Logger
}

/**
 * Answers one model request: a header (or a typed error when the model is
 * not held here), then `chunks` length-prefixed chunks. `lp.write` waits for
 * the stream to drain, so `sent` counts bytes the transport has taken, not
 * bytes queued in memory.
 */
export async function serveModelStream (stream: Stream, from: string, provider: ModelProvider | undefined, options: ServeModelOptions): Promise<void> {
  const { signal } = options
  const lp = lpStream(stream, { maxDataLength: MAX_MODEL_CONTROL_BYTES })
  try {
    const req = decodeModelRequest((await lp.read({ signal })).subarray(), MAX_MODEL_CONTROL_BYTES)
    const bytes = await provider?.(req.sha256)
    if (bytes == null) {
      await lp.write(encodeModelHeader({ type: 'error', error: { name: 'ModelNotFoundError', message: 'not held here' } }), { signal })
    } else {
      const total = bytes.byteLength
      const chunks = Math.ceil(total / MODEL_CHUNK_BYTES)
      await lp.write(encodeModelHeader({ type: 'model', sha256: req.sha256, size: total, chunks }), { signal })
      let reported = 0
      for (let i = 0; i < chunks; i++) {
        await lp.write(bytes.subarray(i * MODEL_CHUNK_BYTES, (i + 1) * MODEL_CHUNK_BYTES), { signal })
        const sent = Math.min(total, (i + 1) * MODEL_CHUNK_BYTES)
        if (sent === total || sent - reported >= options.progressBytes) {
          reported = sent
          options.onProgress({ peerId: from, sha256: req.sha256, sent, total })
        }
      }
    }
    await stream.close({ signal })
  } catch (err) {
    options.log('model stream from %s failed: %s', from, (err as Error).message)
    stream.abort(err as Error)
  }
}
