/** Requesting side of the job protocol. */
import type { Connection, Stream } from '@libp2p/interface'
import { InvalidMessageError } from '../../../errors.js'
import type { AbortOptions } from '../../../abort.js'
import type { Logger } from '../../../logger.js'
import { decodeJobResponse, encodeJobRequest } from '../../codec.js'
import type { JobRequest, JobResponse } from '../../codec.js'
import { asError, withTimeout, wrapAbort } from '../../signals.js'
import type { LinkDialer } from '../../links.js'
import { JOB_PROTOCOL, MAX_JOB_RESPONSE_BYTES } from './constants.js'
import { jobLpStream, namedFramingError, rejectTrailingData } from './framing.js'

export interface RequestJobOptions extends AbortOptions {
  /** Whole request, dial included (ms). */
  timeout: number
  /** Opening the stream on an established link (ms). */
  streamOpenTimeout: number
  log: Logger
}

/**
 * Sends a job over a direct link and waits for its response. A link that
 * fails before the request is written (typically a peer that reloaded: its old
 * WebRTC connection is not yet known to be dead) is closed and the job is sent
 * once more over a fresh link; after the request is out it is never resent.
 * A response announced above MAX_JOB_RESPONSE_BYTES fails at once with
 * MessageTooLargeError, without reading its body; one not complete within the
 * timeout fails with TimeoutError.
 */
export async function requestJob (links: LinkDialer, peerId: string, req: JobRequest, options: RequestJobOptions): Promise<JobResponse> {
  const signal = withTimeout(options.signal, options.timeout)
  for (let attempt = 0; ; attempt++) {
    let stream: Stream | undefined
    let conn: Connection | undefined
    let written = false
    try {
      conn = await links.ensureDirect(peerId, { signal })
      stream = await conn.newStream(JOB_PROTOCOL, { signal: withTimeout(signal, options.streamOpenTimeout) })
      const lp = jobLpStream(stream, MAX_JOB_RESPONSE_BYTES)
      await lp.write(encodeJobRequest(req), { signal })
      written = true
      // a worker that trickles its answer (or never sends one) is bounded by the request's timeout
      const bytes = await lp.read({ signal })
      rejectTrailingData(stream, 'job response')
      const res = decodeJobResponse(bytes.subarray(), MAX_JOB_RESPONSE_BYTES)
      if (res.jobId !== req.jobId) throw new InvalidMessageError(`response names job ${res.jobId}, expected ${req.jobId}`)
      await stream.close({ signal }).catch(() => {})
      return res
    } catch (err) {
      stream?.abort(asError(err))
      if (!signal.aborted && !written && conn != null && attempt === 0) {
        options.log('link to %s failed (%s), redialling', peerId, (err as Error)?.message)
        conn.abort(asError(err))
        continue
      }
      const what = `job ${req.jobId.slice(0, 8)} on ${peerId}`
      throw namedFramingError(wrapAbort(err, signal, what), `${what}: response`)
    }
  }
}
