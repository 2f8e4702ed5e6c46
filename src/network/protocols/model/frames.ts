/**
 * Reading and writing a model stream: varint-length-prefixed control
 * messages, and raw chunk bytes copied straight from the transport's
 * messages into the fetcher's model buffer (no intermediate copy, no
 * concatenation). Data nobody asked for is bounded by `maxBuffered`: a peer
 * that sends past it has its stream aborted.
 *
 * @example
 * ```ts
 * const reader = new StreamReader(stream, MAX_MODEL_CONTROL_BYTES)
 * await sendFrame(stream, encodeModelRequest(req), { signal })
 * const header = await reader.readFrame(MAX_MODEL_CONTROL_BYTES, { signal })
 * await reader.readInto(model.subarray(start, end), { signal })
 * ```
 */
import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import { InvalidMessageError, MessageTooLargeError } from '../../../errors.js'
import type { AbortOptions } from '../../../abort.js'

interface Deferred { promise: Promise<void>, resolve: () => void }

function deferred (): Deferred {
  let resolve = (): void => {}
  const promise = new Promise<void>((r) => { resolve = r })
  return { promise, resolve }
}

/** Bytes of a varint length prefix at most (lengths below 2^35). */
const MAX_PREFIX_BYTES = 5

/** Received bytes not read yet, as the transport delivered them (no concatenation until a message is taken). */
class ByteQueue {
  private bufs: Uint8Array[] = []
  byteLength = 0

  append (buf: Uint8Array): void {
    this.bufs.push(buf)
    this.byteLength += buf.byteLength
  }

  [Symbol.iterator] (): Iterator<Uint8Array> {
    return this.bufs[Symbol.iterator]()
  }

  get (i: number): number {
    for (const b of this.bufs) {
      if (i < b.byteLength) return b[i]
      i -= b.byteLength
    }
    throw new RangeError('index past the queued bytes')
  }

  /** A copy of bytes [start, end). */
  slice (start: number, end: number): Uint8Array {
    const out = new Uint8Array(end - start)
    let at = 0
    let skip = start
    for (const b of this.bufs) {
      if (at === out.byteLength) break
      if (skip >= b.byteLength) { skip -= b.byteLength; continue }
      const part = b.subarray(skip, skip + out.byteLength - at)
      out.set(part, at)
      at += part.byteLength
      skip = 0
    }
    return out
  }

  consume (n: number): void {
    this.byteLength -= n
    while (n > 0) {
      const b = this.bufs[0]
      if (n >= b.byteLength) { this.bufs.shift(); n -= b.byteLength } else { this.bufs[0] = b.subarray(n); n = 0 }
    }
  }
}

export class StreamReader {
  private readonly stream: Stream
  private readonly maxBuffered: number
  private readonly buffered = new ByteQueue()
  private sink?: { dst: Uint8Array, filled: number }
  private waiting?: Deferred
  private ended = false
  private failure?: Error

  constructor (stream: Stream, maxBuffered: number) {
    this.stream = stream
    this.maxBuffered = maxBuffered
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('close', this.onClose)
    stream.addEventListener('remoteCloseWrite', this.onEnd)
  }

  /** Stops listening (the stream is done with). */
  detach (): void {
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('close', this.onClose)
    this.stream.removeEventListener('remoteCloseWrite', this.onEnd)
  }

  /** Fails every read now and from now on (the stream is being aborted). */
  fail (err: Error): void {
    this.failure ??= err
    this.wake()
  }

  /** Bytes received and not read yet. */
  unread (): number { return this.buffered.byteLength }

  /**
   * The next length-prefixed message, or null when the stream ended cleanly
   * between messages. A length over `maxBytes` is refused before its body is
   * awaited.
   */
  async readFrame (maxBytes: number, options: AbortOptions = {}): Promise<Uint8Array | null> {
    for (;;) {
      const frame = this.takeFrame(maxBytes)
      if (frame !== undefined) return frame
      if (this.failure != null) throw this.failure
      if (this.ended) {
        if (this.buffered.byteLength === 0) return null
        throw new InvalidMessageError('model stream ended inside a message')
      }
      await this.wait(options.signal)
    }
  }

  /** Fills `dst` with the next `dst.byteLength` bytes of the stream. */
  async readInto (dst: Uint8Array, options: AbortOptions = {}): Promise<void> {
    let filled = 0
    for (const buf of this.buffered) {
      if (filled === dst.byteLength) break
      const n = Math.min(buf.byteLength, dst.byteLength - filled)
      dst.set(n === buf.byteLength ? buf : buf.subarray(0, n), filled)
      filled += n
    }
    this.buffered.consume(filled)
    const sink = this.sink = { dst, filled }
    try {
      while (sink.filled < dst.byteLength) {
        if (this.failure != null) throw this.failure
        if (this.ended) throw new InvalidMessageError(`model stream ended after ${sink.filled} of ${dst.byteLength} chunk bytes`)
        await this.wait(options.signal)
      }
    } finally {
      this.sink = undefined
    }
  }

  private takeFrame (maxBytes: number): Uint8Array | undefined {
    const list = this.buffered
    let length = 0
    let i = 0
    for (;; i++) {
      if (i >= list.byteLength) return undefined
      if (i >= MAX_PREFIX_BYTES) throw new MessageTooLargeError('model message length prefix is too long')
      const b = list.get(i)
      length += (b & 0x7f) * 2 ** (7 * i)
      if (length > maxBytes) throw new MessageTooLargeError(`model message of ${length}+ bytes exceeds ${maxBytes}`)
      if ((b & 0x80) === 0) break
    }
    if (list.byteLength < i + 1 + length) return undefined
    const frame = list.slice(i + 1, i + 1 + length)
    list.consume(i + 1 + length)
    return frame
  }

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    if (this.failure != null) return
    const parts = evt.data instanceof Uint8Array ? [evt.data] : [...evt.data]
    for (let part of parts) {
      const sink = this.sink
      if (sink != null && this.buffered.byteLength === 0 && sink.filled < sink.dst.byteLength) {
        const n = Math.min(part.byteLength, sink.dst.byteLength - sink.filled)
        sink.dst.set(n === part.byteLength ? part : part.subarray(0, n), sink.filled)
        sink.filled += n
        part = part.subarray(n)
      }
      if (part.byteLength > 0) this.buffered.append(part)
    }
    if (this.buffered.byteLength > this.maxBuffered) {
      const err = new MessageTooLargeError(`peer sent ${this.buffered.byteLength} bytes nobody asked for (at most ${this.maxBuffered})`)
      this.failure = err
      this.buffered.consume(this.buffered.byteLength)
      queueMicrotask(() => { this.stream.abort(err) })
    }
    this.wake()
  }

  private readonly onClose = (evt: StreamCloseEvent): void => {
    this.ended = true
    if (evt.error != null) this.failure ??= evt.error
    this.wake()
  }

  private readonly onEnd = (): void => {
    this.ended = true
    this.wake()
  }

  private wake (): void {
    const w = this.waiting
    this.waiting = undefined
    w?.resolve()
  }

  private async wait (signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    const w = this.waiting ??= deferred()
    if (signal == null) { await w.promise; return }
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
      void w.promise.then(() => { signal.removeEventListener('abort', onAbort); resolve() })
    })
  }
}

function varint (n: number): Uint8Array {
  const out: number[] = []
  do { out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n = Math.floor(n / 128) } while (n > 0)
  return Uint8Array.from(out)
}

/** Writes `bytes` as they are, waiting while the transport's buffer is full. */
export async function sendBytes (stream: Stream, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
  if (!stream.send(bytes)) await stream.onDrain(options)
}

/** Writes one length-prefixed message. */
export async function sendFrame (stream: Stream, payload: Uint8Array, options: AbortOptions = {}): Promise<void> {
  const prefix = varint(payload.byteLength)
  const out = new Uint8Array(prefix.byteLength + payload.byteLength)
  out.set(prefix)
  out.set(payload, prefix.byteLength)
  await sendBytes(stream, out, options)
}
