/** Serving side of the job protocol: one request, one response, per stream. */
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { JobRejectedError } from '../../../errors.js'
import type { Logger } from '../../../logger.js'
import { decodeJobRequest, encodeJobResponse } from '../../codec.js'
import type { JobRequest, JobResponse } from '../../codec.js'
import { MAX_JOB_REQUEST_BYTES } from './constants.js'
import { withTimeout } from '../../signals.js'

export interface JobContext {
  /** Peer that sent the job. */
  from: string
  signal: AbortSignal
}

export type JobHandler = (req: JobRequest, ctx: JobContext) => Promise<JobResponse>

const NO_JOB_ID = '0'.repeat(64)

/**
 * Reads one request, runs `handler` and writes its response. Every failure,
 * malformed requests included, is answered with a typed error response
 * (`error.name` is the error class) rather than a dropped stream.
 */
export async function serveJobStream (stream: Stream, from: string, handler: JobHandler | undefined, options: { timeout: number, log: Logger }): Promise<void> {
  const controller = new AbortController()
  const signal = withTimeout(controller.signal, options.timeout)
  const lp = lpStream(stream, { maxDataLength: MAX_JOB_REQUEST_BYTES })
  let jobId = NO_JOB_ID
  try {
    const req = decodeJobRequest((await lp.read({ signal })).subarray(), MAX_JOB_REQUEST_BYTES)
    jobId = req.jobId
    if (handler == null) throw new JobRejectedError('this peer does not take jobs')
    const res = await handler(req, { from, signal })
    await lp.write(encodeJobResponse(res), { signal })
    await stream.close({ signal })
  } catch (err: any) {
    options.log('job from %s failed: %s', from, err?.message)
    try {
      await lp.write(encodeJobResponse({ type: 'error', jobId, error: { name: String(err?.name ?? 'Error'), message: String(err?.message ?? err) } }), { signal })
      await stream.close({ signal })
    } catch {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  } finally {
    // tells a handler still running (the requester went away, or the timeout passed) to stop
    controller.abort()
  }
}
