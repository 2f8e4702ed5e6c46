/**
 * Length-prefixed framing shared by the job protocol (and the directory
 * protocol's lpStream): a read buffer as large as the largest message
 * (lpStream's own default, 4 MiB, would reset any honest message above it),
 * libp2p's framing errors renamed to ours, and, for job streams that carry
 * one exchange after another, a count of the bytes received but not yet read
 * as a message: data that belongs to no exchange (while a stream is idle,
 * while its request is handled, after a response) aborts the stream at its
 * first chunk.
 *
 * @example
 * ```ts
 * const frames = new JobFrames(stream, MAX_JOB_REQUEST_BYTES)
 * try { bytes = await frames.read({ signal }) } catch (err) { throw namedFramingError(err, 'job request') }
 * if (frames.unread() > 0) throw new InvalidMessageError('data after the job request')
 * frames.forbid('while the job request is handled')
 * ```
 */
import { byteStream, lpStream } from '@libp2p/utils'
import type { ByteStream, LengthPrefixedStream } from '@libp2p/utils'
import type { Stream, StreamMessageEvent } from '@libp2p/interface'
import { InvalidMessageError, MessageTooLargeError } from '../../../errors.js'
import type { AbortOptions } from '../../../abort.js'

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

/** One message as read (a Uint8ArrayList; `.subarray()` for its bytes). */
export type Frame = Awaited<ReturnType<LengthPrefixedStream['read']>>

/** What `JobFrames.next` saw first. */
export type NextFrame = 'data' | 'ended' | 'idle'

/**
 * One job stream's messages, read and written with an unsigned varint length
 * prefix, with the bytes received counted against the bytes read.
 *
 * It reads the prefix itself rather than through lpStream, which reads a
 * prefix byte by byte for as long as each has its continuation bit set and
 * checks its length only once one ends: an endless run of 0xff would be read,
 * a promise per byte, until the read timed out. Here a prefix longer than
 * `maxBytes` needs is refused at its first byte too many.
 */
export class JobFrames {
  readonly stream: Stream
  private readonly bytes: ByteStream<Stream>
  private readonly maxBytes: number
  private readonly maxPrefixBytes: number
  private received = 0
  private consumed = 0
  private forbidden?: string
  private onArrival?: () => void

  constructor (stream: Stream, maxBytes: number) {
    this.stream = stream
    this.maxBytes = maxBytes
    this.maxPrefixBytes = varintLength(maxBytes)
    // the byte stream's listener comes first: a chunk is in its buffer before ours sees it
    this.bytes = byteStream(stream, { maxBufferSize: maxBytes + MAX_LENGTH_PREFIX_BYTES })
    stream.addEventListener('message', this.onMessage)
  }

  /** Bytes received and not yet read as a message. */
  unread (): number { return this.received - this.consumed }

  /**
   * Reads the next message. A prefix above `maxBytes` is refused before any
   * of the body is read (MessageTooLargeError); libp2p's own errors (a
   * stream that ends mid-message, a read buffer overflow) are thrown as they
   * are (see namedFramingError).
   */
  async read (options: AbortOptions = {}): Promise<Frame> {
    let length = 0
    let prefix = 0
    for (let scale = 1; ; scale *= 0x80) {
      const byte = (await this.bytes.read({ ...options, bytes: 1 })).get(0)
      prefix++
      length += (byte & 0x7f) * scale
      if (byte < 0x80) break
      if (prefix >= this.maxPrefixBytes) throw new MessageTooLargeError(`length prefix longer than the ${this.maxPrefixBytes} bytes of a ${this.maxBytes}-byte message`)
    }
    if (length > this.maxBytes) throw new MessageTooLargeError(`message of ${length} bytes announced, above the ${this.maxBytes} allowed`)
    const body = await this.bytes.read({ ...options, bytes: length })
    this.consumed += prefix + length
    return body
  }

  /** Writes `bytes` as one length-prefixed message (one send, so one chunk on the wire where it fits). */
  async write (bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
    const prefix = varint(bytes.byteLength)
    const message = new Uint8Array(prefix.byteLength + bytes.byteLength)
    message.set(prefix)
    message.set(bytes, prefix.byteLength)
    await this.bytes.write(message, options)
  }

  /**
   * From now until `allow()`, any byte from the other side aborts the stream
   * with InvalidMessageError("data <what>"), at its first chunk rather than
   * after a read buffer's worth.
   */
  forbid (what: string): void { this.forbidden = what }

  allow (): void { this.forbidden = undefined }

  /**
   * Waits for the next message to begin: 'data' once a byte is unread (at
   * once if one is), 'ended' once the other side closed its end or the stream
   * closed, 'idle' when `idleMs` passed with neither.
   */
  async next (idleMs: number): Promise<NextFrame> {
    if (this.unread() > 0) return 'data'
    const { stream } = this
    if (stream.status !== 'open' || stream.remoteWriteStatus !== 'writable') return 'ended'
    return await new Promise<NextFrame>((resolve) => {
      const done = (seen: NextFrame): void => {
        clearTimeout(timer)
        this.onArrival = undefined
        stream.removeEventListener('remoteCloseWrite', onEnd)
        stream.removeEventListener('close', onEnd)
        resolve(seen)
      }
      const onEnd = (): void => { done('ended') }
      const timer = setTimeout(() => { done('idle') }, idleMs)
      this.onArrival = () => { done('data') }
      stream.addEventListener('remoteCloseWrite', onEnd)
      stream.addEventListener('close', onEnd)
    })
  }

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    this.received += evt.data.byteLength
    if (this.forbidden != null) {
      this.stream.abort(new InvalidMessageError(`data ${this.forbidden}`))
      return
    }
    this.onArrival?.()
  }
}

/** Bytes of the unsigned varint for `n`. */
function varintLength (n: number): number {
  let bytes = 1
  while (n >= 0x80) { n = Math.floor(n / 0x80); bytes++ }
  return bytes
}

/** `n` as an unsigned varint (as lpStream writes it). */
function varint (n: number): Uint8Array {
  const out = new Uint8Array(varintLength(n))
  for (let i = 0; i < out.length - 1; i++) { out[i] = (n % 0x80) | 0x80; n = Math.floor(n / 0x80) }
  out[out.length - 1] = n
  return out
}

/**
 * Job streams open but idle: pooled at the requester between exchanges, or
 * waiting at the worker for the next request. The link pool does not count
 * them as work, so a link whose only streams are idle closes as idle (or
 * makes room under the bound); closing the link drops its pooled streams.
 */
export const idleJobStreams = new WeakSet<object>()
