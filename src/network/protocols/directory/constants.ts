/** Protocol id, limits and defaults of the directory protocol. */

/**
 * Peer ⇄ its relays, request/response over the relay's WebSocket connection
 * (never over a circuit, never between browsers): a contributor puts its
 * signed lease; a requester asks for a random sample of live contributors.
 */
export const DIRECTORY_PROTOCOL = '/crosscheck/directory/1.0.0'
/** Largest directory message either way (a sample of 64 leases fits). */
export const MAX_DIRECTORY_MESSAGE_BYTES = 256 * 1024
/** Most leases one sample may ask for or carry. */
export const MAX_SAMPLE_SIZE = 64
/** Most peer ids a sample request may exclude. */
export const MAX_SAMPLE_EXCLUDE = 64
/** @default 10 s: one directory request, stream open to response. */
export const DEFAULT_DIRECTORY_TIMEOUT_MS = 10_000
/** Directory streams a relay serves at once per connection (a peer needs 1–2). */
export const DIRECTORY_MAX_INBOUND_STREAMS = 4
