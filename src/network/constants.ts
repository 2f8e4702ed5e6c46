/**
 * Gossip topics, network-wide defaults and limits. Each protocol keeps its own
 * id and wire limits in `protocols/<name>/constants.ts`; they are re-exported
 * here for callers that only want one import.
 */

export { JOB_PROTOCOL, MAX_JOB_REQUEST_BYTES, MAX_JOB_RESPONSE_BYTES, DEFAULT_JOB_TIMEOUT_MS } from './protocols/job/constants.js'
export { MODEL_PROTOCOL, MAX_MODEL_CONTROL_BYTES, MODEL_CHUNK_BYTES, MAX_MODEL_BYTES } from './protocols/model/constants.js'

export const ANNOUNCE_TOPIC = 'crosscheck/announce/1.0.0'
export const DISCOVERY_TOPIC = 'crosscheck/discovery/1.0.0'
export const OBSERVATION_TOPIC = 'crosscheck/observations/1.0.0'
/** Signed retraction records (src/consensus/settlement.ts), so any holder of the receipt learns of them. */
export const RETRACTION_TOPIC = 'crosscheck/retractions/1.0.0'
/** Largest retraction message accepted or sent (bytes); the record text itself is at most MAX_RECORD_CHARS. */
export const MAX_RETRACTION_BYTES = 8 * 1024

/** Largest capability announcement. */
export const MAX_ANNOUNCE_BYTES = 16 * 1024
/** Largest shared reputation observation (with its evidence). */
export const MAX_OBSERVATION_BYTES = 512 * 1024
/** Most model hashes one announcement may list. */
export const MAX_ANNOUNCED_MODELS = 128
/** Longest `runtime` name in an announcement ('ort-web', 'ort-node', …). */
export const MAX_RUNTIME_NAME = 32

/** @default 5 s: how often capabilities are re-announced. */
export const DEFAULT_ANNOUNCE_INTERVAL_MS = 5_000
/**
 * @default 15 s (3 announce intervals): an announcement, and a directory entry
 * not refreshed by any announcement, discovery or connection event, is dropped
 * after this long. Three intervals ride out one or two lost gossip messages.
 */
export const DEFAULT_ANNOUNCEMENT_TTL_MS = 3 * DEFAULT_ANNOUNCE_INTERVAL_MS
/** @default 5 s: pubsub peer discovery interval (NOTES: 1 s costs ~90% of a core with 8 tabs). */
export const DEFAULT_DISCOVERY_INTERVAL_MS = 5_000
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
