/** Serving side of the job protocol: exchanges one after another on a stream, until it is closed or idle. */
import type { Stream, StreamCloseEvent } from '@libp2p/interface'
import { AbortError, InvalidMessageError, JobRejectedError, TimeoutError } from '../../../errors.js'
import type { Logger } from '../../../logger.js'
import { decodeJobRequest, encodeJobResponse } from '../../codec.js'
import type { JobStreamRequest, JobResponse } from '../../codec.js'
import { MAX_JOB_REQUEST_BYTES } from './constants.js'
import { JobFrames, namedFramingError, idleJobStreams } from './framing.js'
import { asError, withTimeout, wrapAbort } from '../../signals.js'

export interface JobContext {
  /** Peer that sent the job. */
  from: string
  signal: AbortSignal
}

/** Answers one request of a job stream: a job (with a result) or a prepare (with ready). */
export type JobHandler = (req: JobStreamRequest, ctx: JobContext) => Promise<JobResponse>

export interface ServeJobOptions {
  /** Longest one exchange may take: its request read, the handler and its response (ms). */
  timeout: number
  /**
   * Longest a requester may take to deliver one request (from the stream's
   * opening for the first, from its first byte for a later one), and to close
   * its end once this side closed the stream (ms).
   */
  requestReadTimeout: number
  /** Longest a stream waits for the next request to begin before this side closes it (ms). */
  idleTimeout: number
  log: Logger
}

const NO_JOB_ID = '0'.repeat(64)

/**
 * Serves the requests of one stream, one at a time: reads a request, runs
 * `handler`, writes its response, then waits for the next. A stream on which
 * no next request begins within `idleTimeout`, or whose requester closed its
 * end, is closed cleanly; one whose requester then keeps its end open longer
 * than `requestReadTimeout` is reset. Until both ends are closed the stream
 * counts against the connection's inbound stream limit, and libp2p refuses
 * new job streams beyond it.
 *
 * A failing handler, or a request that is framed right but is not a valid
 * JobRequest, is answered with a typed error response (`error.name` is the
 * error class) and the stream serves on. A hostile requester is cut off: a
 * length prefix above MAX_JOB_REQUEST_BYTES is refused before any of the body
 * is read (MessageTooLargeError), a request not delivered within
 * `requestReadTimeout` is given up (TimeoutError), and data after a request,
 * before its answer (pipelining or an endless sender), is answered
 * InvalidMessageError; each then resets this stream, and only this one. Data
 * arriving while a handler runs resets the stream at its first chunk, and a
 * reset or close from the requester stops a handler still running.
 */
export async function serveJobStream (stream: Stream, from: string, handler: JobHandler | undefined, options: ServeJobOptions): Promise<void> {
  const frames = new JobFrames(stream, MAX_JOB_REQUEST_BYTES)
  const closed = new AbortController()
  // a reset by the requester, or one here for misbehaving, stops a handler still running
  const onClose = (evt: Event): void => { closed.abort((evt as StreamCloseEvent).error ?? new AbortError('job stream closed')) }
  stream.addEventListener('close', onClose)
  try {
    for (let exchange = 0; ; exchange++) {
      if (exchange > 0) {
        idleJobStreams.add(stream)
        const next = await frames.next(options.idleTimeout).finally(() => { idleJobStreams.delete(stream) })
        if (next !== 'data') {
          if (next === 'idle') options.log('closing the job stream from %s: idle %d ms', from, options.idleTimeout)
          // no request is taken once this side has closed
          frames.forbid('after the worker closed the job stream')
          await closeStream(stream, options.requestReadTimeout)
          return
        }
      }
      if (!await serveExchange(frames, from, handler, closed.signal, options)) return
    }
  } finally {
    stream.removeEventListener('close', onClose)
    // tells a handler still running (it ignored its signal) to stop
    closed.abort()
  }
}

/** One request and its response. Resolves false when the stream can carry no more (it was reset or closed). */
async function serveExchange (frames: JobFrames, from: string, handler: JobHandler | undefined, closed: AbortSignal, options: ServeJobOptions): Promise<boolean> {
  const { stream } = frames
  const signal = withTimeout(closed, options.timeout)
  const readSignal = withTimeout(signal, options.requestReadTimeout)
  let bytes: Uint8Array
  try {
    bytes = (await frames.read({ signal: readSignal })).subarray()
    if (frames.unread() > 0) throw new InvalidMessageError('data after the job request, before its answer')
  } catch (err) {
    // the stream is out of step with its requester: answer what can be, then reset it
    const unreadable = asError(namedFramingError(wrapAbort(err, readSignal, 'reading the job request'), 'job request'))
    options.log('job request from %s unreadable: %s', from, unreadable.message)
    // the read deadline may have passed already: the answer has a deadline of its own
    await answerThenReset(frames, errorResponse(NO_JOB_ID, unreadable), unreadable, withTimeout(closed, options.requestReadTimeout))
    return false
  }
  // one exchange at a time: a request sent before this one is answered resets the stream
  frames.forbid('before the job response (one job at a time per stream)')
  let jobId = NO_JOB_ID
  let payload: Uint8Array
  try {
    const req = decodeJobRequest(bytes, MAX_JOB_REQUEST_BYTES)
    jobId = req.jobId
    if (handler == null) throw new JobRejectedError('this peer does not take jobs')
    payload = encodeJobResponse(await handler(req, { from, signal }))
  } catch (err: any) {
    options.log('job from %s failed: %s', from, err?.message)
    payload = encodeJobResponse(errorResponse(jobId, err))
  }
  // reset by the requester, or here for data sent while the handler ran: nobody to answer
  if (closed.aborted || stream.status !== 'open') return false
  // data from here on is the next request (the requester may send it as soon as it reads this response)
  frames.allow()
  try {
    // a handler that ran out the exchange's deadline still gets its error answered
    await frames.write(payload, { signal: signal.aborted ? withTimeout(closed, options.requestReadTimeout) : signal })
    return true
  } catch (err) {
    stream.abort(asError(err))
    return false
  }
}

function errorResponse (jobId: string, err: any): JobResponse {
  return { type: 'error', jobId, error: { name: String(err?.name ?? 'Error'), message: String(err?.message ?? err) } }
}

/** Writes `res` and closes this end (so it is flushed before the reset), then resets the stream. */
async function answerThenReset (frames: JobFrames, res: JobResponse, err: Error, signal: AbortSignal): Promise<void> {
  try {
    await frames.write(encodeJobResponse(res), { signal })
    await frames.stream.close({ signal })
  } catch {}
  frames.stream.abort(err)
}

/** Closes this end, then resets the stream if the requester has not closed its end within `ms`. */
async function closeStream (stream: Stream, ms: number): Promise<void> {
  if (stream.status !== 'open') return
  try {
    await stream.close({ signal: AbortSignal.timeout(ms) })
  } catch (err) {
    stream.abort(asError(err))
    return
  }
  if (stream.status !== 'open') return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => { stream.abort(new TimeoutError(`requester kept the job stream open ${ms} ms after the worker closed it`)) }, ms)
    stream.addEventListener('close', () => { clearTimeout(timer); resolve() }, { once: true })
  })
}
