/** Requesting side of the job protocol: idle streams kept per connection and reused, job after job. */
import type { Connection } from '@libp2p/interface'
import { AbortError, InvalidMessageError, TimeoutError } from '../../../errors.js'
import type { AbortOptions } from '../../../abort.js'
import type { Logger } from '../../../logger.js'
import { decodeJobResponse, encodeJobRequest } from '../../codec.js'
import type { JobStreamRequest, JobResponse } from '../../codec.js'
import { asError, withTimeout, wrapAbort } from '../../signals.js'
import type { LinkDialer } from '../../links.js'
import { JOB_PROTOCOL, JOB_STREAM_CLOSE_GRACE_MS, MAX_JOB_RESPONSE_BYTES } from './constants.js'
import { JobFrames, idleJobStreams, namedFramingError } from './framing.js'

export interface RequestJobOptions extends AbortOptions {
  /** Whole request, dial included (ms). */
  timeout: number
  /** Opening a stream on an established link (ms). */
  streamOpenTimeout: number
  log: Logger
}

interface IdleStream {
  frames: JobFrames
  /** Takes the stream out of the pool: its timer and listeners go. */
  unpool: () => void
}

interface ConnectionStreams {
  idle: IdleStream[]
  onClose: () => void
}

/**
 * A requester's idle job streams, per connection. A stream is pooled only
 * after a whole exchange, with nothing unread; it leaves the pool (and is
 * closed) when it idles `idleMs`, when the worker closes its end, or when its
 * connection closes, and is aborted at the first byte that arrives while it
 * is idle (no exchange is in progress, so nothing may come).
 *
 * Cost: one timer per idle stream, at most `maxOutboundPerPeer` per linked
 * peer; no traffic while idle.
 */
export class JobStreamPool {
  private readonly byConnection = new Map<Connection, ConnectionStreams>()

  constructor (private readonly idleMs: number, private readonly log: Logger) {}

  /** The most recently used idle stream on `conn`, out of the pool, or undefined if there is none. */
  take (conn: Connection): JobFrames | undefined {
    for (;;) {
      const entry = this.byConnection.get(conn)?.idle.at(-1)
      if (entry == null) return undefined
      entry.unpool()
      // (the pool's listeners drop a stream as it closes: this is a second look)
      if (!reusable(entry.frames)) { closeStream(entry.frames.stream); continue }
      entry.frames.allow()
      return entry.frames
    }
  }

  /** Pools `frames` after a whole exchange on `conn`; a stream that cannot carry another (or has data unread) is closed or aborted instead. */
  put (conn: Connection, frames: JobFrames): void {
    const { stream } = frames
    if (frames.unread() > 0) { stream.abort(new InvalidMessageError('data after the job response')); return }
    if (conn.status !== 'open' || !reusable(frames)) { closeStream(stream); return }
    let streams = this.byConnection.get(conn)
    if (streams == null) {
      const s: ConnectionStreams = { idle: [], onClose: () => { this.dropConnection(conn) } }
      conn.addEventListener('close', s.onClose)
      this.byConnection.set(conn, s)
      streams = s
    }
    const entry: IdleStream = {
      frames,
      unpool: () => {
        idleJobStreams.delete(stream)
        clearTimeout(timer)
        stream.removeEventListener('close', onClose)
        stream.removeEventListener('remoteCloseWrite', onRemoteClose)
        const s = this.byConnection.get(conn)
        if (s == null) return
        const i = s.idle.indexOf(entry)
        if (i >= 0) s.idle.splice(i, 1)
        if (s.idle.length === 0) {
          conn.removeEventListener('close', s.onClose)
          this.byConnection.delete(conn)
        }
      }
    }
    // reset, or aborted here for data while idle
    const onClose = (): void => { entry.unpool() }
    // the worker closed it (its idle timeout): close this end too, so the stream ends at both
    const onRemoteClose = (): void => { entry.unpool(); closeStream(stream) }
    const timer = setTimeout(() => {
      entry.unpool()
      this.log('closing a job stream to %s: idle %d ms', conn.remotePeer.toString(), this.idleMs)
      closeStream(stream)
    }, this.idleMs)
    stream.addEventListener('close', onClose)
    stream.addEventListener('remoteCloseWrite', onRemoteClose)
    frames.forbid('on an idle job stream')
    streams.idle.push(entry)
    idleJobStreams.add(stream)
  }

  /** Closes every idle stream (the protocol stopped). */
  clear (): void {
    for (const conn of [...this.byConnection.keys()]) this.dropConnection(conn, true)
  }

  private dropConnection (conn: Connection, close = false): void {
    const idle = [...(this.byConnection.get(conn)?.idle ?? [])]
    for (const entry of idle) {
      entry.unpool()
      if (close) closeStream(entry.frames.stream)
      else entry.frames.stream.abort(new AbortError('the job stream\'s connection closed'))
    }
  }
}

/**
 * Sends a job over a direct link and waits for its response, on an idle
 * stream of that link if there is one, else on a fresh stream; the stream
 * goes back to `pool` once answered. A request that cannot be written on a
 * reused stream goes once more on a fresh one. A link that fails before the
 * request is written on a fresh stream (typically a peer that reloaded: its
 * old WebRTC connection is not yet known to be dead) is closed and the job is
 * sent once more over a fresh link. After the request is out it is never
 * resent. Any failure resets the job's stream, and only that stream. A
 * response announced above MAX_JOB_RESPONSE_BYTES fails at once with
 * MessageTooLargeError, without reading its body; one not complete within the
 * timeout fails with TimeoutError.
 */
export async function requestJob (links: LinkDialer, pool: JobStreamPool, peerId: string, req: JobStreamRequest, options: RequestJobOptions): Promise<JobResponse> {
  const signal = withTimeout(options.signal, options.timeout)
  let reuse = true
  let redialled = false
  for (;;) {
    let conn: Connection | undefined
    let frames: JobFrames | undefined
    let reused = false
    let written = false
    let res: JobResponse
    try {
      conn = await links.ensureDirect(peerId, { signal })
      frames = reuse ? pool.take(conn) : undefined
      reused = frames != null
      if (frames == null) {
        const stream = await conn.newStream(JOB_PROTOCOL, { signal: withTimeout(signal, options.streamOpenTimeout) })
        frames = new JobFrames(stream, MAX_JOB_RESPONSE_BYTES)
      }
      await frames.write(encodeJobRequest(req), { signal })
      written = true
      // a worker that trickles its answer (or never sends one) is bounded by the request's timeout
      const bytes = await frames.read({ signal })
      res = decodeJobResponse(bytes.subarray(), MAX_JOB_RESPONSE_BYTES)
      if (res.jobId !== req.jobId) throw new InvalidMessageError(`response names job ${res.jobId}, expected ${req.jobId}`)
    } catch (err) {
      frames?.stream.abort(asError(err))
      if (!signal.aborted && !written && conn != null) {
        if (reused) {
          options.log('idle job stream to %s failed (%s), sending on a fresh one', peerId, (err as Error)?.message)
          reuse = false
          continue
        }
        if (!redialled) {
          options.log('link to %s failed (%s), redialling', peerId, (err as Error)?.message)
          redialled = true
          reuse = false
          conn.abort(asError(err))
          continue
        }
      }
      const what = `job ${req.jobId.slice(0, 8)} on ${peerId}`
      throw namedFramingError(wrapAbort(err, signal, what), `${what}: response`)
    }
    // answered: the stream waits for the next job (or is dropped if it cannot carry one)
    pool.put(conn, frames)
    return res
  }
}

/** Open at both ends and writable: it can carry another exchange. */
function reusable (frames: JobFrames): boolean {
  const { stream } = frames
  return stream.status === 'open' && stream.writeStatus === 'writable' && stream.remoteWriteStatus === 'writable'
}

/** Closes this end, and resets the stream if the worker has not closed its own within the grace. */
function closeStream (stream: JobFrames['stream']): void {
  if (stream.status !== 'open') return
  const timer = setTimeout(() => { stream.abort(new TimeoutError(`worker kept the job stream open ${JOB_STREAM_CLOSE_GRACE_MS} ms after it was closed`)) }, JOB_STREAM_CLOSE_GRACE_MS)
  stream.addEventListener('close', () => { clearTimeout(timer) }, { once: true })
  stream.close({ signal: AbortSignal.timeout(JOB_STREAM_CLOSE_GRACE_MS) }).catch((err: unknown) => { stream.abort(asError(err)) })
}
