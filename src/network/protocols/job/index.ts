/**
 * The job protocol, `/crosscheck/job/2.0.0`: a requester sends a
 * length-prefixed JobRequest over a direct link and reads one JobResponse (a
 * signed vote with outputs, or a typed error). A stream carries one exchange
 * at a time and then waits, idle, for the next: a requester keeps the idle
 * streams of each link and reuses them (on WebRTC a new stream is a new data
 * channel, ~20 ms per leg), up to `maxOutboundPerPeer` per peer, and closes
 * one that idled `streamIdleMs`; a worker closes one on which no request
 * began for `serveIdleMs`. Never runs on relayed (limited) connections.
 *
 * @example
 * ```ts
 * const jobs = jobProtocol({ timeout: 30_000 })({ registrar: node, links })
 * jobs.onJob(async (req, { from, signal }) => await worker.run(req, { signal }))
 * await jobs.start()
 * const res = await jobs.request(peerId, req, { signal })
 * ```
 */
import type { Libp2p } from '@libp2p/interface'
import type { AbortOptions } from '../../../abort.js'
import { JobProtocol } from './job.js'
import type { LinkDialer } from '../../links.js'

export { JobProtocol }
export type { JobContext, JobHandler } from './handler.js'
export { JOB_PROTOCOL } from './constants.js'

export interface JobProtocolInit {
  /** Default for a whole request, dial included (ms). @default 30000 */
  timeout?: number
  /** Serving side: longest one exchange (request read, handler, response) may take (ms). @default 120000 */
  handlerTimeout?: number
  /**
   * Serving side: longest a requester may take to deliver one request (from
   * the stream's opening for its first, from its first byte for a later one),
   * and to close its end once the worker closed the stream (ms); a slower
   * stream is answered TimeoutError and reset, freeing its inbound slot.
   * @default 30000 (DEFAULT_JOB_TIMEOUT_MS)
   */
  requestReadTimeout?: number
  /** Opening a job stream on an established link (ms). @default 10000 */
  streamOpenTimeout?: number
  /** Concurrent inbound job streams per connection, idle pooled ones included. @default 8 */
  maxInboundStreams?: number
  /** Job requests in flight to one peer at once, and so job streams open to it; more wait their turn (within their timeout). @default 4 */
  maxOutboundPerPeer?: number
  /**
   * Requesting side: an idle job stream is closed after this long without a
   * job (ms). Keep it below the workers' `serveIdleMs`. @default 15000
   */
  streamIdleMs?: number
  /**
   * Serving side: a job stream on which no next request begins within this
   * long is closed (ms). Above the requesters' `streamIdleMs`, so that they
   * normally close first. @default 45000
   */
  serveIdleMs?: number
}

export interface JobProtocolComponents {
  registrar: Pick<Libp2p, 'handle' | 'unhandle'>
  links: LinkDialer
}

export interface JobRequestOptions extends AbortOptions {
  /** Whole request, dial included (ms). @default the protocol's `timeout` */
  timeout?: number
}

export function jobProtocol (init: JobProtocolInit = {}): (components: JobProtocolComponents) => JobProtocol {
  return (components) => new JobProtocol(components, init)
}
