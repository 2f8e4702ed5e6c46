/** Versioned protocol ids, gossip topics and wire limits. */

export const JOB_PROTOCOL = '/crosscheck/job/1.0.0'
export const MODEL_PROTOCOL = '/crosscheck/model/1.0.0'
export const ANNOUNCE_TOPIC = 'crosscheck/announce/1.0.0'
export const DISCOVERY_TOPIC = 'crosscheck/discovery/1.0.0'
export const OBSERVATION_TOPIC = 'crosscheck/observations/1.0.0'

/** Largest job request (spec + input tensors). */
export const MAX_JOB_REQUEST_BYTES = 16 * 1024 * 1024
/** Largest job response (vote + output tensors). */
export const MAX_JOB_RESPONSE_BYTES = 32 * 1024 * 1024
/** Largest control message on the model protocol. */
export const MAX_MODEL_CONTROL_BYTES = 4 * 1024
/** Model bytes travel in chunks of this size. */
export const MODEL_CHUNK_BYTES = 256 * 1024
/** Largest model accepted over the wire. */
export const MAX_MODEL_BYTES = 256 * 1024 * 1024
/** Largest capability announcement. */
export const MAX_ANNOUNCE_BYTES = 16 * 1024
/** Largest shared reputation observation (with its evidence). */
export const MAX_OBSERVATION_BYTES = 512 * 1024
/** Most model hashes one announcement may list. */
export const MAX_ANNOUNCED_MODELS = 128

/** @default 30 s: how long a worker may take to answer one job. */
export const DEFAULT_JOB_TIMEOUT_MS = 30_000
/** @default 5 s: how often capabilities are re-announced. */
export const DEFAULT_ANNOUNCE_INTERVAL_MS = 5_000
/** @default 5 s: pubsub peer discovery interval (NOTES: 1 s costs ~90% of a core with 8 tabs). */
export const DEFAULT_DISCOVERY_INTERVAL_MS = 5_000
/** @default 20 s: one direct WebRTC dial attempt. */
export const DEFAULT_DIAL_TIMEOUT_MS = 20_000
