/** Protocol id, limits and defaults of the model transfer protocol. */

/** Request, header, then `chunks` length-prefixed chunks of model bytes. */
export const MODEL_PROTOCOL = '/crosscheck/model/1.0.0'
/** Largest control message (request, header). */
export const MAX_MODEL_CONTROL_BYTES = 4 * 1024
/** Model bytes travel in chunks of this size. */
export const MODEL_CHUNK_BYTES = 256 * 1024
/**
 * Largest model accepted over the wire by default: the same 512 MiB the
 * inference registry accepts from any source, so a model that may be cached
 * may also be passed on.
 */
export const MAX_MODEL_BYTES = 512 * 1024 * 1024
/** @default 120 s: one whole model transfer. */
export const DEFAULT_MODEL_TIMEOUT_MS = 120_000
/** @default 1 MiB: 'model:upload' is emitted at most once per this many bytes sent (plus a final event). */
export const DEFAULT_UPLOAD_PROGRESS_BYTES = 1024 * 1024
/** @default 4: concurrent inbound model streams per connection. */
export const DEFAULT_MODEL_MAX_INBOUND_STREAMS = 4
