/**
 * Fetching side of the model protocol: one model from several holders at
 * once. The first holder's manifest fixes size and chunk hashes; a buffer of
 * `size` bytes is allocated once (after the size is checked) and every chunk
 * is written into place, straight from the transport. Each holder keeps a few
 * requests in flight, one per stream, and takes the next missing chunks as it
 * finishes (work stealing: a fast holder serves more). A chunk that does not
 * hash to its manifest entry pins its holder as bad and is fetched again from
 * another; a holder that errors is dropped the same way. The whole model is
 * hashed at the end: if the manifest itself lied, every holder that vouched
 * for it is pinned and the fetch starts over with the holders that gave
 * another manifest. Typed errors only once no holder is left.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { HashMismatchError, InvalidMessageError, ModelNotFoundError, ModelTooLargeError } from '../../../errors.js'
import type { AbortOptions } from '../../../abort.js'
import type { Logger } from '../../../logger.js'
import { decodeModelResponse, encodeModelRequest } from '../../codec.js'
import type { ModelChunkManifest, ModelRequest, ModelResponse } from '../../codec.js'
import type { LinkDialer } from '../../links.js'
import { asError, withTimeout, wrapAbort } from '../../signals.js'
import { digest, digestHex, sameBytes, sameManifest } from './chunks.js'
import { StreamReader, sendFrame } from './frames.js'
import { MAX_MODEL_CHUNKS, MAX_MODEL_CONTROL_BYTES, MAX_MODEL_MANIFEST_BYTES, MAX_MODEL_REQUEST_BYTES, MODEL_PROTOCOL } from './constants.js'

export interface ModelFetchProgress { sha256: string, loaded: number, total: number }

export interface FetchModelOptions extends AbortOptions {
  /** Whole transfer, dials included (ms). */
  timeout: number
  /** One request on one holder (ms): a holder slower than this is dropped. */
  requestTimeout: number
  /** Largest model accepted (bytes): a larger manifest is refused before any allocation. */
  maxBytes: number
  /** Chunk size asked of holders (a power of two, 64 KiB … 2 MiB). */
  chunkBytes: number
  /** Holders served from at once. */
  maxHolders: number
  /** Requests in flight per holder, each on its own stream. */
  requestsPerHolder: number
  /** Keep a stream for request after request (else one stream per request). */
  reuseStreams: boolean
  onProgress?: (p: ModelFetchProgress) => void
  /** A holder stopped being asked: its error's name says why (HashMismatchError: it lied). */
  onHolderDropped?: (peerId: string, error: Error) => void
  log: Logger
}

/** Why a holder stopped being asked. */
type Drop = 'lied' | 'failed'

class HolderDropped extends Error {
  readonly why: Drop
  constructor (why: Drop, cause: Error) {
    super(cause.message, { cause })
    this.why = why
  }
}

/** Fetches the model `sha256` from `peers` (in order of preference), checking every chunk and the whole. */
export async function fetchModelFrom (links: LinkDialer, peers: string[], sha256: string, options: FetchModelOptions): Promise<Uint8Array> {
  const signal = withTimeout(options.signal, options.timeout)
  try {
    return await new ModelFetch(links, [...new Set(peers)], sha256, options, signal).run()
  } catch (err) {
    throw wrapAbort(err, signal, `fetching model ${sha256.slice(0, 12)} from ${peers.length} holder${peers.length === 1 ? '' : 's'}`)
  }
}

/** One request/response stream to a holder. */
class Lane {
  readonly stream: Stream
  private readonly reader: StreamReader

  constructor (stream: Stream) {
    this.stream = stream
    this.reader = new StreamReader(stream, MAX_MODEL_REQUEST_BYTES + MAX_MODEL_CONTROL_BYTES)
  }

  async request (req: ModelRequest, maxBytes: number, signal: AbortSignal): Promise<ModelResponse> {
    await sendFrame(this.stream, encodeModelRequest(req), { signal })
    const frame = await this.reader.readFrame(maxBytes, { signal })
    if (frame == null) throw new InvalidMessageError('holder closed the model stream before answering')
    const res = decodeModelResponse(frame, maxBytes)
    if (res.type === 'error') {
      const message = `holder answered ${res.error.name}: ${res.error.message}`
      throw res.error.name === 'ModelNotFoundError' ? new ModelNotFoundError(message) : new InvalidMessageError(message)
    }
    return res
  }

  async readInto (dst: Uint8Array, signal: AbortSignal): Promise<void> {
    await this.reader.readInto(dst, { signal })
  }

  /** Half-closes (the holder then ends its side); never throws. */
  close (): void {
    this.reader.detach()
    void this.stream.close().catch((err: unknown) => { this.stream.abort(asError(err)) })
  }

  abort (err: Error): void {
    this.reader.fail(err)
    this.stream.abort(err)
    this.reader.detach()
  }
}

interface Round {
  manifest?: ModelChunkManifest
  bytes?: Uint8Array
  /** Chunk indexes not fetched and not in flight, ascending. */
  pending: number[]
  inflight: number
  verified: number
  loaded: number
  /** Holders whose manifest is the round's (they vouch for its bytes). */
  vouched: Set<string>
  /** Holders that gave another manifest: asked again if this one fails. */
  aside: string[]
  /** Holders being asked now (dialling, manifest, or serving chunks). */
  active: number
  lanes: Set<Lane>
  done: boolean
  /** Every chunk arrived and matched the manifest. */
  complete: boolean
  settle?: (err?: Error) => void
  wake: Array<() => void>
}

class ModelFetch {
  private readonly links: LinkDialer
  private readonly sha256: string
  private readonly options: FetchModelOptions
  private readonly signal: AbortSignal
  private pool: string[]
  private readonly failures: Error[] = []
  /** Holders pinned as bad (a chunk or the whole model did not hash). */
  readonly bad = new Set<string>()
  private buffer?: Uint8Array

  constructor (links: LinkDialer, peers: string[], sha256: string, options: FetchModelOptions, signal: AbortSignal) {
    this.links = links
    this.pool = peers
    this.sha256 = sha256
    this.options = options
    this.signal = signal
  }

  async run (): Promise<Uint8Array> {
    if (this.pool.length === 0) throw new ModelNotFoundError(`no holder to fetch model ${this.sha256.slice(0, 12)} from`)
    for (;;) {
      this.signal.throwIfAborted()
      const round = await this.round()
      if (!round.complete) {
        // the round's holders are gone; those that gave another manifest get their turn
        this.pool = [...round.aside, ...this.pool]
        continue
      }
      const bytes = round.bytes as Uint8Array
      if (await digestHex(bytes) === this.sha256) return bytes
      // every chunk matched the manifest and the whole does not: the manifest lied
      const lie = new HashMismatchError(`manifest from ${[...round.vouched].join(', ')} does not add up to ${this.sha256}`)
      for (const p of round.vouched) {
        this.bad.add(p)
        this.options.onHolderDropped?.(p, lie)
      }
      this.failures.push(lie)
      this.options.log('model %s: manifest from %s lied, %d holders left', this.sha256.slice(0, 12), [...round.vouched].join(', '), round.aside.length + this.pool.length)
      this.pool = [...round.aside, ...this.pool]
      if (this.pool.length === 0) throw this.failure()
    }
  }

  /** The error to throw once no holder is left: the most telling one seen. */
  private failure (): Error {
    const f = this.failures
    const summary = `model ${this.sha256.slice(0, 12)}: no holder left (${f.map(e => e.message).join('; ')})`.slice(0, 2000)
    for (const name of ['HashMismatchError', 'ModelTooLargeError', 'InvalidMessageError']) {
      const e = f.find(x => x.name === name)
      if (e == null) continue
      if (name === 'HashMismatchError') return new HashMismatchError(summary, { cause: e })
      return e
    }
    return new ModelNotFoundError(summary, { cause: f.at(-1) })
  }

  private async round (): Promise<Round> {
    const r: Round = { pending: [], inflight: 0, verified: 0, loaded: 0, vouched: new Set(), aside: [], active: 0, lanes: new Set(), done: false, complete: false, wake: [] }
    const finished = new Promise<void>((resolve, reject) => {
      r.settle = (err) => {
        if (r.done) return
        r.done = true
        r.complete = err == null
        for (const w of r.wake.splice(0)) w()
        // no holder left, but some gave another manifest: the caller starts a round with them
        if (err != null && (r.aside.length === 0 || this.signal.aborted)) reject(err); else resolve()
      }
    })
    const onAbort = (): void => {
      r.settle?.(asError(this.signal.reason))
      for (const lane of r.lanes) lane.abort(asError(this.signal.reason))
    }
    this.signal.addEventListener('abort', onAbort, { once: true })
    try {
      this.startHolders(r)
      await finished
      return r
    } finally {
      this.signal.removeEventListener('abort', onAbort)
      r.done = true
      for (const lane of r.lanes) {
        if (r.complete) lane.close(); else lane.abort(new Error('model fetch ended'))
      }
      r.lanes.clear()
    }
  }

  private startHolders (r: Round): void {
    while (!r.done && r.active < this.options.maxHolders && this.pool.length > 0) {
      const peerId = this.pool.shift() as string
      r.active++
      void this.holder(r, peerId).catch((err: unknown) => {
        const e = err instanceof HolderDropped ? err : new HolderDropped('failed', asError(err))
        if (r.done) return
        if (e.why === 'lied') this.bad.add(peerId)
        this.failures.push(e.cause as Error)
        this.options.onHolderDropped?.(peerId, e.cause as Error)
        this.options.log('model %s: holder %s dropped (%s): %s', this.sha256.slice(0, 12), peerId, e.why, e.message)
      }).finally(() => {
        r.active--
        this.startHolders(r)
        if (!r.done && r.active === 0) r.settle?.(this.failure())
      })
    }
  }

  private async holder (r: Round, peerId: string): Promise<void> {
    const conn = await this.links.ensureDirect(peerId, { signal: this.signal })
    const first = await this.openLane(r, conn)
    let manifest: ModelChunkManifest
    try {
      const res = await first.request({ type: 'model-manifest', sha256: this.sha256, chunkBytes: this.options.chunkBytes }, MAX_MODEL_MANIFEST_BYTES, this.requestSignal())
      if (res.type !== 'model-manifest') throw new InvalidMessageError(`expected a manifest, got ${res.type}`)
      manifest = res
    } catch (err) {
      this.closeLane(r, first)
      throw err
    }
    if (r.done) return
    if (r.manifest == null) {
      try {
        this.adopt(r, manifest)
      } catch (err) {
        this.closeLane(r, first)
        throw err
      }
    } else if (!sameManifest(r.manifest, manifest)) {
      this.closeLane(r, first)
      r.aside.push(peerId)
      return
    }
    r.vouched.add(peerId)
    const dropped = { err: undefined as HolderDropped | undefined }
    const mine = new Set<Lane>()
    const lanes = Array.from({ length: Math.max(1, this.options.requestsPerHolder) }, async (_, i) => {
      try {
        await this.lane(r, conn, i === 0 ? first : undefined, mine, dropped)
      } catch (err) {
        dropped.err ??= err instanceof HolderDropped ? err : new HolderDropped('failed', asError(err))
        for (const lane of mine) lane.abort(dropped.err)
      }
    })
    await Promise.all(lanes)
    if (dropped.err != null) throw dropped.err
  }

  /** Checks the first manifest's size before allocating the one buffer of the round. */
  private adopt (r: Round, m: ModelChunkManifest): void {
    if (m.sha256 !== this.sha256) throw new HolderDropped('lied', new InvalidMessageError('manifest names another model'))
    if (m.size > this.options.maxBytes) throw new ModelTooLargeError(`model ${this.sha256.slice(0, 12)} is ${m.size} bytes, over the ${this.options.maxBytes} limit`)
    if (m.chunkBytes !== this.options.chunkBytes) throw new InvalidMessageError(`manifest in chunks of ${m.chunkBytes}, asked for ${this.options.chunkBytes}`)
    if (m.chunkHashes.length > MAX_MODEL_CHUNKS) throw new InvalidMessageError('manifest lists too many chunks')
    r.manifest = m
    // a failed round's buffer is reused when the size is the same: never two at once
    r.bytes = this.buffer?.byteLength === m.size ? this.buffer : new Uint8Array(m.size)
    this.buffer = r.bytes
    r.pending = Array.from({ length: m.chunkHashes.length }, (_, i) => i)
  }

  private async lane (r: Round, conn: Connection, lane: Lane | undefined, mine: Set<Lane>, dropped: { err?: HolderDropped }): Promise<void> {
    const m = r.manifest as ModelChunkManifest
    const bytes = r.bytes as Uint8Array
    const perRequest = Math.max(1, Math.floor(MAX_MODEL_REQUEST_BYTES / 2 / m.chunkBytes))
    if (lane != null) mine.add(lane)
    try {
      for (;;) {
        if (r.done || dropped.err != null) return
        if (r.pending.length === 0) {
          if (r.inflight === 0) return
          // others' chunks in flight may come back if their holder fails
          await new Promise<void>((resolve) => { r.wake.push(resolve) })
          continue
        }
        const first = r.pending[0]
        let count = 1
        while (count < perRequest && r.pending[count] === first + count) count++
        r.pending.splice(0, count)
        r.inflight += count
        let verified = 0
        try {
          if (lane == null) {
            lane = await this.openLane(r, conn)
            mine.add(lane)
          }
          const signal = this.requestSignal()
          const res = await lane.request({ type: 'model-chunks', sha256: this.sha256, chunkBytes: m.chunkBytes, first, count }, MAX_MODEL_CONTROL_BYTES, signal)
          const start = first * m.chunkBytes
          const end = Math.min(m.size, (first + count) * m.chunkBytes)
          if (res.type !== 'model-chunks' || res.first !== first || res.count !== count || res.bytes !== end - start) throw new InvalidMessageError(`asked for chunks ${first}+${count}, holder announced another answer`)
          await lane.readInto(bytes.subarray(start, end), signal)
          if (r.done) return
          for (let i = first; i < first + count; i++) {
            const chunk = bytes.subarray(i * m.chunkBytes, Math.min(m.size, (i + 1) * m.chunkBytes))
            if (!sameBytes(await digest(chunk), m.chunkHashes[i])) {
              throw new HolderDropped('lied', new HashMismatchError(`chunk ${i} of model ${this.sha256.slice(0, 12)} does not hash to its manifest entry`))
            }
            verified++
            r.verified++
            r.loaded += chunk.byteLength
            this.options.onProgress?.({ sha256: this.sha256, loaded: r.loaded, total: m.size })
          }
          if (!this.options.reuseStreams) {
            this.closeLane(r, lane)
            mine.delete(lane)
            lane = undefined
          }
        } catch (err) {
          // what did not arrive checked goes back for another holder
          for (let i = first + verified; i < first + count; i++) r.pending.push(i)
          r.pending.sort((a, b) => a - b)
          throw err
        } finally {
          r.inflight -= count
          for (const w of r.wake.splice(0)) w()
        }
        if (r.verified === m.chunkHashes.length) r.settle?.()
      }
    } finally {
      if (lane != null) {
        mine.delete(lane)
        this.closeLane(r, lane)
      }
    }
  }

  private async openLane (r: Round, conn: Connection): Promise<Lane> {
    // the fetch's abort reaches a lane through the round; this bounds opening one stream
    const lane = new Lane(await conn.newStream(MODEL_PROTOCOL, { signal: this.requestSignal() }))
    r.lanes.add(lane)
    if (r.done) { this.closeLane(r, lane); throw new Error('model fetch ended') }
    return lane
  }

  private closeLane (r: Round, lane: Lane): void {
    if (!r.lanes.delete(lane)) return
    lane.close()
  }

  /**
   * One request's deadline. The fetch's own signal is not joined in: the
   * round aborts every lane's stream when it fires, which fails their reads
   * (one listener per fetch rather than one per request).
   */
  private requestSignal (): AbortSignal {
    return AbortSignal.timeout(this.options.requestTimeout)
  }
}
