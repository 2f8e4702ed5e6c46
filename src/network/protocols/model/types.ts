/** Types of the model protocol, shared by its index and its class (so neither imports the other for them). */
import type { Libp2p } from '@libp2p/interface'
import type { AbortOptions } from '../../../abort.js'
import type { LinkDialer } from '../../links.js'
import type { ModelFetchProgress } from './client.js'
import type { ModelUploadProgress } from './handler.js'

/** Options of the model protocol: what a fetch defaults to, and what a holder allows. */
export interface ModelProtocolInit {
  /** Default for a whole transfer, dials included (ms); also bounds a served stream. @default 120000 */
  timeout?: number
  /** One request on one holder (ms); a slower holder is dropped and its chunks go to others. @default 20000 */
  requestTimeout?: number
  /** Largest model accepted (bytes). @default 536870912 (512 MiB, as the model registry) */
  maxBytes?: number
  /** Chunk size a fetch asks for (a power of two, 64 KiB … 2 MiB). @default 1048576 */
  chunkBytes?: number
  /** Holders one fetch takes chunks from at once. @default 4 */
  maxHolders?: number
  /** Requests a fetch keeps in flight per holder, each on its own stream. @default 3 */
  requestsPerHolder?: number
  /** A fetch reuses each stream for request after request (false: one stream per request). @default true */
  reuseStreams?: boolean
  /** Emit 'model:upload' at most once per this many bytes sent, plus a final event. @default 1048576 */
  uploadProgressBytes?: number
  /** Concurrent inbound model streams per connection. @default 8 */
  maxInboundStreams?: number
  /** Models whose chunk-hash lists a holder keeps (per chunk size). @default 16 */
  manifestCache?: number
}

export interface ModelProtocolComponents {
  registrar: Pick<Libp2p, 'handle' | 'unhandle'>
  links: LinkDialer
}

export interface ModelProtocolEvents {
  /** Serving side: bytes of a model sent to a peer so far. */
  'model:upload': CustomEvent<ModelUploadProgress>
}

/** Per-fetch options; each defaults to the protocol's own. */
export interface ModelFetchOptions extends AbortOptions, Pick<ModelProtocolInit, 'timeout' | 'requestTimeout' | 'maxBytes' | 'chunkBytes' | 'maxHolders' | 'requestsPerHolder' | 'reuseStreams'> {
  /** Verified bytes so far (chunks are checked before they count). */
  onProgress?: (p: ModelFetchProgress) => void
  /** A holder stopped being asked (diagnostics, reputation): `error.name` says why, HashMismatchError when it lied. */
  onHolderDropped?: (peerId: string, error: Error) => void
}
