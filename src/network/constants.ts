/**
 * Gossip topics, network-wide defaults and limits. Each protocol keeps its own
 * id and wire limits in `protocols/<name>/constants.ts`; they are re-exported
 * here for callers that only want one import.
 */

export { JOB_PROTOCOL, MAX_JOB_REQUEST_BYTES, MAX_JOB_RESPONSE_BYTES, DEFAULT_JOB_TIMEOUT_MS } from './protocols/job/constants.js'
export { MODEL_PROTOCOL, MAX_MODEL_CONTROL_BYTES, MODEL_CHUNK_BYTES, MAX_MODEL_BYTES } from './protocols/model/constants.js'

export { DIRECTORY_PROTOCOL, MAX_DIRECTORY_MESSAGE_BYTES } from './protocols/directory/constants.js'

export const OBSERVATION_TOPIC = 'crosscheck/observations/1.0.0'
/** Signed retraction records (src/consensus/settlement.ts), so any holder of the receipt learns of them. */
export const RETRACTION_TOPIC = 'crosscheck/retractions/1.0.0'
/** Largest retraction message accepted or sent (bytes); the record text itself is at most MAX_RECORD_CHARS. */
export const MAX_RETRACTION_BYTES = 8 * 1024

/** Largest shared reputation observation (with its evidence). */
export const MAX_OBSERVATION_BYTES = 512 * 1024
/** Most model hashes one announcement may list. */
export const MAX_ANNOUNCED_MODELS = 128
/** Longest `runtime` name in an announcement ('ort-web', 'ort-node', …). */
export const MAX_RUNTIME_NAME = 32

/**
 * Relays' backbone topic: leases and their drops, gossiped among relays only
 * (browsers never subscribe). Cost: one message per lease renewal or change,
 * to every relay; nothing to peers.
 */
export const LEASE_TOPIC = 'crosscheck/leases/1.0.0'
/** Most `/p2p-circuit/webrtc` addresses one lease may list. */
export const MAX_LEASE_ADDRS = 4
/** Largest signed lease (body + signature). */
export const MAX_LEASE_BYTES = 8 * 1024

/**
 * @default 45 s: a contributor renews its lease this often when nothing
 * changed (a change is pushed at once). Periodic cost: one small stream to
 * each home relay (at most 2) per interval, flat in the size of the network.
 */
export const DEFAULT_LEASE_RENEW_MS = 45_000
/** @default 2 renewals (90 s): how long a lease counts after it was issued, unless renewed. */
export const DEFAULT_LEASE_TTL_MS = 2 * DEFAULT_LEASE_RENEW_MS
/**
 * A lease issued longer ago than its TTL plus this much, by the reader's
 * clock, is refused (clocks of browsers and relays differ by seconds).
 */
export const LEASE_CLOCK_SKEW_MS = 60_000

/** @default 2: relays a peer joins at once (its home and one spare), picked by rendezvous hash of its id. */
export const DEFAULT_RELAY_FANOUT = 2
/** @default 16: contributors a requester asks each relay for in one sample. */
export const DEFAULT_SAMPLE_SIZE = 16
/** @default 16: direct WebRTC links a peer keeps at once, at any crowd size. */
export const DEFAULT_MAX_LINKS = 16
/** @default 60 s: a direct link that carried no job or model for this long is closed. */
export const DEFAULT_LINK_IDLE_MS = 60_000
/**
 * @default 450: RTCPeerConnections a browser peer creates over its lifetime
 * at most. Chromium refuses the ~500th of a tab's life even when the others
 * were closed (chromium issue 825576, js-libp2p #2591); a peer that spent its
 * budget keeps its open links and says so rather than failing mysteriously.
 */
export const DEFAULT_BROWSER_LINK_BUDGET = 450
/** @default 20 s: one direct WebRTC dial attempt, and joining a relay at start. */
export const DEFAULT_DIAL_TIMEOUT_MS = 20_000
/** @default 1 s: first wait before redialling a relay whose connection dropped. */
export const DEFAULT_RELAY_BACKOFF_INITIAL_MS = 1_000
/** @default 30 s: longest wait between relay redials. */
export const DEFAULT_RELAY_BACKOFF_MAX_MS = 30_000
/** @default 1 s: first wait before redialling a peer whose direct dial failed. */
export const DEFAULT_LINK_BACKOFF_INITIAL_MS = 1_000
/** @default 30 s: longest wait between direct redials to one peer. */
export const DEFAULT_LINK_BACKOFF_MAX_MS = 30_000
/**
 * 256 KiB: the largest message put on a WebRTC data channel (libp2p's default
 * is 16 KiB, for go and rust peers; every peer here is js, on Chromium or
 * node-datachannel, and both take 256 KiB messages). Fewer, larger messages
 * cut the per-message cost of moving outputs and models.
 */
export const WEBRTC_MAX_MESSAGE_BYTES = 256 * 1024
