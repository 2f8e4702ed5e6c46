/** Fetching side of the model protocol. */
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { HashMismatchError, InvalidMessageError, ModelNotFoundError } from '../../../errors.js'
import type { AbortOptions } from '../../../abort.js'
import { sha256Hex } from '../../../tensor/index.js'
import { decodeModelHeader, encodeModelRequest } from '../../codec.js'
import type { LinkDialer } from '../../links.js'
import { asError, withTimeout, wrapAbort } from '../../signals.js'
import { MAX_MODEL_CONTROL_BYTES, MODEL_CHUNK_BYTES, MODEL_PROTOCOL } from './constants.js'

export interface ModelFetchProgress { sha256: string, loaded: number, total: number }

export interface FetchModelOptions extends AbortOptions {
  /** Whole transfer, dial included (ms). */
  timeout: number
  /** Largest model accepted (bytes): a larger header is refused before any allocation. */
  maxBytes: number
  onProgress?: (p: ModelFetchProgress) => void
}

/** Fetches model bytes from a peer in chunks, checking size and sha256. */
export async function fetchModel (links: LinkDialer, peerId: string, sha256: string, options: FetchModelOptions): Promise<Uint8Array> {
  const signal = withTimeout(options.signal, options.timeout)
  let stream: Stream | undefined
  try {
    const conn = await links.ensureDirect(peerId, { signal })
    stream = await conn.newStream(MODEL_PROTOCOL, { signal })
    const lp = lpStream(stream, { maxDataLength: MODEL_CHUNK_BYTES + MAX_MODEL_CONTROL_BYTES })
    await lp.write(encodeModelRequest(sha256), { signal })
    const header = decodeModelHeader((await lp.read({ signal })).subarray(), MAX_MODEL_CONTROL_BYTES, options.maxBytes)
    if (header.type === 'error') throw new ModelNotFoundError(`${peerId} cannot serve model ${sha256.slice(0, 12)}: ${header.error.message}`)
    if (header.sha256 !== sha256) throw new InvalidMessageError('model header names another model')
    const bytes = new Uint8Array(header.size)
    let loaded = 0
    for (let i = 0; i < header.chunks; i++) {
      const chunk = (await lp.read({ signal })).subarray()
      if (loaded + chunk.byteLength > header.size) throw new InvalidMessageError('model stream is longer than announced')
      bytes.set(chunk, loaded)
      loaded += chunk.byteLength
      options.onProgress?.({ sha256, loaded, total: header.size })
    }
    if (loaded !== header.size) throw new InvalidMessageError(`model stream ended at ${loaded} of ${header.size} bytes`)
    if (sha256Hex(bytes) !== sha256) throw new HashMismatchError(`model from ${peerId} does not hash to ${sha256}`)
    await stream.close({ signal }).catch(() => {})
    return bytes
  } catch (err) {
    stream?.abort(asError(err))
    throw wrapAbort(err, signal, `fetching model ${sha256.slice(0, 12)} from ${peerId}`)
  }
}
