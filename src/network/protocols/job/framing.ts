/**
 * Length-prefixed framing shared by both sides of the job protocol: a read
 * buffer as large as the largest message (lpStream's own default, 4 MiB, would
 * reset any honest message above it), libp2p's framing errors renamed to ours,
 * and a guard against bytes after the one message a side may send.
 *
 * @example
 * ```ts
 * const lp = jobLpStream(stream, MAX_JOB_REQUEST_BYTES)
 * try { bytes = await lp.read({ signal }) } catch (err) { throw namedFramingError(err, 'job request') }
 * rejectTrailingData(stream, 'job request')
 * ```
 */
import { lpStream } from '@libp2p/utils'
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { InvalidMessageError, MessageTooLargeError } from '../../../errors.js'

/** Room for the length prefix in the read buffer (the longest varint; lpStream refuses one longer than `maxBytes` needs). */
const MAX_LENGTH_PREFIX_BYTES = 10

/**
 * An lpStream that refuses a length prefix above `maxBytes` before reading the
 * body, and buffers at most one message (plus its prefix): a peer that keeps
 * sending past that has its stream aborted by lpStream (StreamBufferError).
 */
export function jobLpStream (stream: Stream, maxBytes: number): LengthPrefixedStream<Stream> {
  return lpStream(stream, { maxDataLength: maxBytes, maxBufferSize: maxBytes + MAX_LENGTH_PREFIX_BYTES })
}

/**
 * libp2p's framing errors (from `@libp2p/utils` and `@libp2p/interface`) as
 * our named errors, so callers branch on `err.name` alone; anything else
 * passes through unchanged. Matched by name, not `instanceof`, because two
 * copies of those packages may be installed.
 */
export function namedFramingError (err: unknown, what: string): unknown {
  const name = (err as { name?: unknown } | null)?.name
  const message = String((err as { message?: unknown } | null)?.message ?? err)
  switch (name) {
    case 'InvalidDataLengthError':
    case 'InvalidDataLengthLengthError':
    case 'StreamBufferError':
      return new MessageTooLargeError(`${what}: ${message}`, { cause: err })
    case 'InvalidMessageLengthError':
    case 'UnexpectedEOFError':
      return new InvalidMessageError(`${what}: ${message}`, { cause: err })
    default:
      return err
  }
}

/**
 * Each side sends exactly one message per stream: once it is read, any
 * further byte aborts the stream, so an endless sender is cut off at its first
 * extra chunk instead of filling the read buffer. Returns a function that
 * removes the guard.
 */
export function rejectTrailingData (stream: Stream, what: string): () => void {
  const onMessage = (): void => {
    stream.removeEventListener('message', onMessage)
    stream.abort(new InvalidMessageError(`data after the ${what}`))
  }
  stream.addEventListener('message', onMessage)
  return () => { stream.removeEventListener('message', onMessage) }
}
