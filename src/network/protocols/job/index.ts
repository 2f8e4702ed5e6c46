/**
 * The job protocol, `/crosscheck/job/1.0.0`: a requester opens a stream over a
 * direct link, writes one length-prefixed JobRequest and reads one
 * JobResponse (a signed vote with outputs, or a typed error). Never runs on
 * relayed (limited) connections.
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
  /** Longest a served job stream stays open (ms). @default 120000 */
  handlerTimeout?: number
  /**
   * Serving side: longest a requester may take to deliver its request, and to
   * close its end once answered (ms); a slower stream is answered TimeoutError
   * and reset, freeing its inbound slot. @default 30000 (DEFAULT_JOB_TIMEOUT_MS)
   */
  requestReadTimeout?: number
  /** Opening a job stream on an established link (ms). @default 10000 */
  streamOpenTimeout?: number
  /** Concurrent inbound job streams per connection. @default 8 */
  maxInboundStreams?: number
  /** Job requests in flight to one peer at once; more wait their turn (within their timeout). @default 4 */
  maxOutboundPerPeer?: number
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
