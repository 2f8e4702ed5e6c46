/** Protocol id, limits and defaults of the job protocol. */

/**
 * Pooled request/response: a stream carries one exchange at a time (one
 * length-prefixed JobRequest, then one JobResponse), then waits idle for the
 * next. Replaced 1.0.0 (one stream per job): on WebRTC each new stream is a
 * new data channel, a multistream-select round trip and a FIN/FIN_ACK close,
 * about 20 ms per leg.
 */
export const JOB_PROTOCOL = '/crosscheck/job/2.0.0'
/** Largest job request (spec + input tensors). */
export const MAX_JOB_REQUEST_BYTES = 16 * 1024 * 1024
/** Largest job response (vote + output tensors). */
export const MAX_JOB_RESPONSE_BYTES = 32 * 1024 * 1024
/** @default 30 s: how long a worker may take to answer one job. */
export const DEFAULT_JOB_TIMEOUT_MS = 30_000
/** @default 4 × the job timeout: longest one served exchange (request read, handler, response) may take. */
export const DEFAULT_JOB_HANDLER_TIMEOUT_MS = 4 * DEFAULT_JOB_TIMEOUT_MS
/**
 * @default the job timeout (30 s): how long a requester may take to deliver one
 * request to a worker (from the stream's opening for its first request, from
 * the first byte for a later one), and to close its end once the worker closed
 * the stream. A requester's own timeout covers its whole job, so a request
 * still arriving after that long is of no use to it; a slower stream
 * (slow-loris) is reset so that it frees its inbound stream slot long before
 * the handler timeout.
 */
export const DEFAULT_JOB_REQUEST_READ_TIMEOUT_MS = DEFAULT_JOB_TIMEOUT_MS
/** @default 10 s: opening a job stream on an established link. */
export const DEFAULT_JOB_STREAM_OPEN_TIMEOUT_MS = 10_000
/**
 * @default 8: concurrent inbound job streams per connection. A pooled stream
 * counts while it is open, idle or not.
 */
export const DEFAULT_JOB_MAX_INBOUND_STREAMS = 8
/**
 * @default 4: job requests in flight to one peer at once (more wait their
 * turn), and so job streams open to it at once, each reused job after job.
 * Half the default inbound limit: a stream the requester has just closed may
 * still count on the worker's side when the requester opens another (each
 * WebRTC stream is its own data channel, so a close and the next open are not
 * ordered).
 */
export const DEFAULT_JOB_MAX_OUTBOUND_PER_PEER = 4
/**
 * @default 15 s: a requester closes a job stream that carried no job this
 * long. Keep it below the workers' `serveIdleMs`, so that the requester, not
 * the worker, normally ends a stream (a worker closing a stream just as the
 * requester reuses it fails that job). Periodic cost: none; one timer per
 * idle stream, at most `maxOutboundPerPeer` per linked peer.
 */
export const DEFAULT_JOB_STREAM_IDLE_MS = 15_000
/**
 * @default 45 s: a worker closes a job stream on which no next request began
 * this long (three times the requester's idle close, which normally comes first).
 */
export const DEFAULT_JOB_SERVE_IDLE_MS = 45_000
/**
 * How long one side, having closed its end of a job stream, waits for the
 * other to close its own before resetting the stream. Requester side only;
 * the worker waits `requestReadTimeout`.
 */
export const JOB_STREAM_CLOSE_GRACE_MS = 5_000
