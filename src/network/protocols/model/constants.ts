/** Protocol id, limits and defaults of the model transfer protocol. */

/**
 * Requests on a stream, one at a time, each answered before the next:
 * a manifest (size, chunk size, one sha256 per chunk) or a run of chunks.
 */
export const MODEL_PROTOCOL = '/crosscheck/model/2.0.0'
/** Largest control message (a request, a chunk header, an error). */
export const MAX_MODEL_CONTROL_BYTES = 4 * 1024
/**
 * @default 1 MiB: the chunk size a fetcher asks for (each chunk is hashed
 * on its own). Measured against 256 KiB in `npm run bench` (README, transfer).
 */
export const MODEL_CHUNK_BYTES = 1024 * 1024
/** Smallest chunk size a holder accepts to hash a model in (a power of two). */
export const MIN_MODEL_CHUNK_BYTES = 64 * 1024
/** Largest chunk size, and the most bytes one chunk request may ask for (below libp2p's 4 MiB stream read buffer). */
export const MAX_MODEL_REQUEST_BYTES = 2 * 1024 * 1024
/**
 * Largest model accepted over the wire by default: the same 512 MiB the
 * inference registry accepts from any source, so a model that may be cached
 * may also be passed on.
 */
export const MAX_MODEL_BYTES = 512 * 1024 * 1024
/** Most chunks a manifest may list (512 MiB in 64 KiB chunks). */
export const MAX_MODEL_CHUNKS = 8192
/** Largest manifest message: the chunk hashes (32 bytes and a 2-byte CBOR head each) and the fields around them. */
export const MAX_MODEL_MANIFEST_BYTES = MAX_MODEL_CHUNKS * 34 + 1024
/** @default 120 s: one whole model transfer, dials included; also bounds one served stream. */
export const DEFAULT_MODEL_TIMEOUT_MS = 120_000
/** @default 20 s: one request (manifest or chunks) on a holder; a holder that takes longer is dropped. */
export const DEFAULT_MODEL_REQUEST_TIMEOUT_MS = 20_000
/** @default 4: holders a fetcher takes chunks from at once (others wait as spares). */
export const DEFAULT_MODEL_MAX_HOLDERS = 4
/** @default 3: requests a fetcher keeps in flight per holder, each on its own stream. */
export const DEFAULT_MODEL_REQUESTS_PER_HOLDER = 3
/** @default true: a fetcher's stream carries one request after another rather than one stream per request. */
export const DEFAULT_MODEL_REUSE_STREAMS = true
/** @default 1 MiB: 'model:upload' is emitted at most once per this many bytes sent (plus a final event). */
export const DEFAULT_UPLOAD_PROGRESS_BYTES = 1024 * 1024
/** @default 8: concurrent inbound model streams per connection (two fetches of a few requests each). */
export const DEFAULT_MODEL_MAX_INBOUND_STREAMS = 8
/** @default 16: models whose chunk-hash lists a holder keeps (per chunk size). */
export const DEFAULT_MODEL_MANIFEST_CACHE = 16
