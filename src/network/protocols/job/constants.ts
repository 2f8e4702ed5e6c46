/** Protocol id, limits and defaults of the job protocol. */

/** Request/response: one length-prefixed JobRequest, one JobResponse. */
export const JOB_PROTOCOL = '/crosscheck/job/1.0.0'
/** Largest job request (spec + input tensors). */
export const MAX_JOB_REQUEST_BYTES = 16 * 1024 * 1024
/** Largest job response (vote + output tensors). */
export const MAX_JOB_RESPONSE_BYTES = 32 * 1024 * 1024
/** @default 30 s: how long a worker may take to answer one job. */
export const DEFAULT_JOB_TIMEOUT_MS = 30_000
/** @default 4 × the job timeout: longest a served job stream may stay open. */
export const DEFAULT_JOB_HANDLER_TIMEOUT_MS = 4 * DEFAULT_JOB_TIMEOUT_MS
/**
 * @default the job timeout (30 s): how long a requester may take to deliver its
 * request to a worker, and to close its end once answered. A requester's own
 * timeout covers its whole job, so a request still arriving after that long is
 * of no use to it; a slower stream (slow-loris) is reset so that it frees its
 * inbound stream slot long before the handler timeout.
 */
export const DEFAULT_JOB_REQUEST_READ_TIMEOUT_MS = DEFAULT_JOB_TIMEOUT_MS
/** @default 10 s: opening a job stream on an established link. */
export const DEFAULT_JOB_STREAM_OPEN_TIMEOUT_MS = 10_000
/** @default 8: concurrent inbound job streams per connection. */
export const DEFAULT_JOB_MAX_INBOUND_STREAMS = 8
/**
 * @default 4: job requests in flight to one peer at once (more wait their
 * turn). Half the default inbound limit, because a finished stream may still
 * count on the worker's side when the next one opens (each WebRTC stream is
 * its own data channel, so a close and the next open are not ordered).
 */
export const DEFAULT_JOB_MAX_OUTBOUND_PER_PEER = 4
