/** Serving side of the job protocol: one request, one response, per stream. */
import type { Stream, StreamCloseEvent } from '@libp2p/interface'
import { AbortError, JobRejectedError, TimeoutError } from '../../../errors.js'
import type { Logger } from '../../../logger.js'
import { decodeJobRequest, encodeJobResponse } from '../../codec.js'
import type { JobRequest, JobResponse } from '../../codec.js'
import { MAX_JOB_REQUEST_BYTES } from './constants.js'
import { jobLpStream, namedFramingError, rejectTrailingData } from './framing.js'
import { asError, withTimeout, wrapAbort } from '../../signals.js'

export interface JobContext {
  /** Peer that sent the job. */
  from: string
  signal: AbortSignal
}

export type JobHandler = (req: JobRequest, ctx: JobContext) => Promise<JobResponse>

export interface ServeJobOptions {
  /** Longest a served stream stays open, handler included (ms). */
  timeout: number
  /** Longest a requester may take to deliver its request, and to close its end once answered (ms). */
  requestReadTimeout: number
  log: Logger
}

const NO_JOB_ID = '0'.repeat(64)

/**
 * Reads one request, runs `handler` and writes its response. Every failure,
 * malformed requests included, is answered with a typed error response
 * (`error.name` is the error class) rather than a dropped stream.
 *
 * A hostile requester is bounded: a length prefix above MAX_JOB_REQUEST_BYTES
 * is refused before any of the body is read (MessageTooLargeError), a request
 * not delivered within `requestReadTimeout` is given up (TimeoutError), and a
 * byte after the request resets the stream and stops the handler. Each of these
 * ends in a reset, and an answered requester that keeps its end open is reset
 * after `requestReadTimeout`: until both ends are closed the stream counts
 * against the connection's inbound stream limit, and libp2p refuses new job
 * streams beyond it.
 */
export async function serveJobStream (stream: Stream, from: string, handler: JobHandler | undefined, options: ServeJobOptions): Promise<void> {
  const controller = new AbortController()
  const signal = withTimeout(controller.signal, options.timeout)
  // a reset by the requester, or one here for misbehaving, stops a handler still running
  const onClose = (evt: Event): void => { controller.abort((evt as StreamCloseEvent).error ?? new AbortError('job stream closed')) }
  stream.addEventListener('close', onClose)
  const lp = jobLpStream(stream, MAX_JOB_REQUEST_BYTES)
  let jobId = NO_JOB_ID
  // set when the request could not be read whole: what the requester sends next
  // cannot be told apart from the rest of it, so the stream is reset once answered
  let unreadable: Error | undefined
  try {
    const readSignal = withTimeout(signal, options.requestReadTimeout)
    const bytes = await lp.read({ signal: readSignal }).catch((err: unknown) => {
      unreadable = asError(namedFramingError(wrapAbort(err, readSignal, 'reading the job request'), 'job request'))
      throw unreadable
    })
    rejectTrailingData(stream, 'job request')
    const req = decodeJobRequest(bytes.subarray(), MAX_JOB_REQUEST_BYTES)
    jobId = req.jobId
    if (handler == null) throw new JobRejectedError('this peer does not take jobs')
    const res = await handler(req, { from, signal })
    await lp.write(encodeJobResponse(res), { signal })
    await stream.close({ signal })
  } catch (err: any) {
    options.log('job from %s failed: %s', from, err?.message)
    try {
      // the read deadline has passed already: give the answer a deadline of its own
      const replySignal = unreadable != null ? withTimeout(signal, options.requestReadTimeout) : signal
      await lp.write(encodeJobResponse({ type: 'error', jobId, error: { name: String(err?.name ?? 'Error'), message: String(err?.message ?? err) } }), { signal: replySignal })
      await stream.close({ signal: replySignal })
    } catch {
      stream.abort(asError(err))
    }
  }
  try {
    if (unreadable != null) stream.abort(unreadable)
    else await awaitRequesterClose(stream, options.requestReadTimeout)
  } finally {
    stream.removeEventListener('close', onClose)
    // tells a handler still running (the timeout passed) to stop
    controller.abort()
  }
}

/** Waits until the stream is closed at both ends, resetting it if the requester has not closed its end within `ms`. */
async function awaitRequesterClose (stream: Stream, ms: number): Promise<void> {
  if (stream.status !== 'open' && stream.status !== 'closing') return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => { stream.abort(new TimeoutError(`requester kept the job stream open ${ms} ms after its answer`)) }, ms)
    stream.addEventListener('close', () => { clearTimeout(timer); resolve() }, { once: true })
  })
}
