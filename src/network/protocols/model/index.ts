/**
 * The model transfer protocol, `/crosscheck/model/1.0.0`: the fetcher writes
 * a request naming a sha256; the holder answers with a header (size, chunk
 * count) or a typed error, then the bytes in 256 KiB length-prefixed chunks.
 * The fetcher checks size and hash before using a byte. Only over direct links.
 *
 * The serving side reports progress as `'model:upload'` events
 * `{ peerId, sha256, sent, total }`, at most once per `uploadProgressBytes`
 * plus a final one, so a contributor can show what it is uploading to whom.
 *
 * @example
 * ```ts
 * const models = modelProtocol()({ registrar: node, links })
 * models.serve(async (sha256) => await store.getModelBytes(sha256))
 * models.addEventListener('model:upload', (evt) => drawUpload(evt.detail))
 * await models.start()
 * const bytes = await models.fetch(peerId, sha256, { onProgress, signal })
 * ```
 */
import type { Libp2p } from '@libp2p/interface'
import type { AbortOptions } from '../../../abort.js'
import type { LinkDialer } from '../../links.js'
import type { ModelFetchProgress } from './client.js'
import type { ModelUploadProgress } from './handler.js'
import { ModelProtocol } from './model.js'

export { ModelProtocol }
export type { ModelProvider, ModelUploadProgress } from './handler.js'
export type { ModelFetchProgress } from './client.js'
export { MODEL_PROTOCOL } from './constants.js'

export interface ModelProtocolInit {
  /** Default for a whole transfer, dial included (ms); also bounds a served stream. @default 120000 */
  timeout?: number
  /** Largest model accepted (bytes). @default 536870912 (512 MiB, as the model registry) */
  maxBytes?: number
  /** Emit 'model:upload' at most once per this many bytes sent, plus a final event. @default 1048576 */
  uploadProgressBytes?: number
  /** Concurrent inbound model streams per connection. @default 4 */
  maxInboundStreams?: number
}

export interface ModelProtocolComponents {
  registrar: Pick<Libp2p, 'handle' | 'unhandle'>
  links: LinkDialer
}

export interface ModelProtocolEvents {
  /** Serving side: bytes of a model sent to a peer so far. */
  'model:upload': CustomEvent<ModelUploadProgress>
}

export interface ModelFetchOptions extends AbortOptions {
  onProgress?: (p: ModelFetchProgress) => void
  /** Whole transfer, dial included (ms). @default the protocol's `timeout` */
  timeout?: number
  /** Largest model accepted (bytes). @default the protocol's `maxBytes` */
  maxBytes?: number
}

export function modelProtocol (init: ModelProtocolInit = {}): (components: ModelProtocolComponents) => ModelProtocol {
  return (components) => new ModelProtocol(components, init)
}
