/**
 * The job protocol (2.0.0, pooled streams) against hostile peers, over
 * in-memory stream pairs: a requester (or worker) that announces an oversized
 * message, trickles one slowly, keeps sending after it or sends while a stream
 * is idle, is cut off with one of our named errors within its deadline, its
 * stream (and only that stream) is reset, which frees its inbound slot, and
 * honest peers and streams are served meanwhile. Then the pooling itself:
 * one stream per concurrent job, reused job after job, closed when idle.
 */
import { describe, it, expect } from 'vitest'
import { lpStream, streamPair } from '@libp2p/utils'
import type { Connection, Stream, StreamHandler } from '@libp2p/interface'
import { jobProtocol } from './index.js'
import type { JobHandler, JobProtocol, JobProtocolInit } from './index.js'
import { MAX_JOB_REQUEST_BYTES, MAX_JOB_RESPONSE_BYTES } from './constants.js'
import { decodeJobRequest, decodeJobResponse, encodeJobRequest, encodeJobResponse } from '../../codec.js'
import type { JobRequest, JobResponse, JobStreamRequest } from '../../codec.js'
import { createTensor, hashTensors } from '../../../tensor/index.js'
import type { NamedTensors } from '../../../tensor/index.js'
import { jobIdOf } from '../../../consensus/job.js'
import { testJobSpec } from '../../../testing/jobs.js'
import { signVote } from '../../../consensus/vote.js'
import { generateIdentity, signerFromPrivateKey } from '../../keys.js'

const TEST_TIMEOUT = 5_000
const CHUNK = 64 * 1024
/**
 * What a flooding peer gets out before the reset reaches it (one chunk, as
 * measured here; room left for a loaded machine), against the megabytes it
 * would get out if anyone buffered its stream.
 */
const FEW_CHUNKS = 16 * CHUNK
const signer = signerFromPrivateKey(await generateIdentity())
const registrar = { handle: async () => {}, unhandle: async () => {} }
const noDial = { ensureDirect: async (): Promise<Connection> => { throw new Error('a worker does not dial') } }

let nonce = 0
function jobRequest (inputs: NamedTensors = { x: createTensor('float32', [1, 4], new Float32Array([1, 2, 3, 4])) }): JobRequest {
  const spec = testJobSpec(signer.peerId, inputs, (nonce++).toString(16).padStart(32, '0'))
  return { type: 'job', jobId: jobIdOf(spec), spec, inputs }
}

async function resultFor (req: JobStreamRequest, outputs: NamedTensors = { y: createTensor('float32', [1, 2], new Float32Array([0.5, -0.5])) }): Promise<JobResponse> {
  if (req.type === 'prepare') return { type: 'ready', jobId: req.jobId, ms: 3 }
  if (req.type === 'output') return { type: 'output', jobId: req.jobId, outputs }
  const { spec, jobId } = req
  const vote = await signVote(signer, { jobId, modelHash: spec.modelHash, inputHash: spec.inputHash, outputHash: hashTensors(outputs), numericClass: 'test/cpu/t1/node', signedAt: spec.createdAt + 5 })
  return { type: 'result', jobId, vote, outputs, ms: 1 }
}

/** A length prefix as lpStream writes it (unsigned varint). */
function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80) }
  out.push(n)
  return Uint8Array.from(out)
}

const delay = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/**
 * Sends `chunk` every `everyMs` (0: as fast as timers allow), ignoring
 * backpressure as a hostile peer would, until the stream is no longer open or
 * `cap` bytes have gone. Resolves with the bytes sent.
 */
async function flood (stream: Stream, chunk: Uint8Array, everyMs = 0, cap = 4 * MAX_JOB_RESPONSE_BYTES): Promise<number> {
  let sent = 0
  while (stream.status === 'open' && sent < cap) {
    try { stream.send(chunk) } catch { break }
    sent += chunk.byteLength
    await delay(everyMs)
  }
  return sent
}

/** Settles-or-not flag for a promise, to show what was still pending when something else finished. */
function track<T> (p: Promise<T>): { promise: Promise<T>, settled: () => boolean } {
  let done = false
  p.then(() => { done = true }, () => { done = true })
  return { promise: p, settled: () => done }
}

/** A worker's JobProtocol, fed streams as libp2p would feed its registered handler. */
interface Worker {
  jobs: JobProtocol
  /** Serves one inbound stream, as libp2p does for each stream of the protocol. */
  serve: (inbound: Stream) => Promise<void>
  /** A stream pair whose inbound end is being served: `stream` is the requester's end. */
  open: () => Promise<{ stream: Stream, inbound: Stream, served: Promise<void> }>
}

async function worker (init: JobProtocolInit, handler: JobHandler): Promise<Worker> {
  let onStream: StreamHandler | undefined
  const jobs = jobProtocol(init)({ registrar: { handle: async (_protocol: string | string[], h: StreamHandler) => { onStream = h }, unhandle: async () => {} }, links: noDial })
  jobs.onJob(handler)
  await jobs.start()
  const from = { remotePeer: { toString: () => 'requester-peer' } } as unknown as Connection
  const serve = async (inbound: Stream): Promise<void> => {
    if (onStream == null) throw new Error('job protocol not registered')
    await onStream(inbound, from)
  }
  return {
    jobs,
    serve,
    open: async () => {
      const [stream, inbound] = await streamPair()
      return { stream, inbound, served: serve(inbound) }
    }
  }
}

/** Serves the inbound end of the `index`-th stream opened to a peer (counted over all its connections). */
type Serve = (inbound: Stream, index: number) => Promise<void>

/**
 * A link to one peer, as much of a libp2p Connection as the job protocol
 * uses: each `newStream` is a fresh in-memory stream pair whose inbound end is
 * served by the peer; `abort`/`close` record themselves and close the link.
 */
class FakeConnection extends EventTarget {
  status: 'open' | 'closed' = 'open'
  readonly remotePeer: { toString: () => string }
  /** The requester's ends of the streams opened on this link, in order. */
  readonly outbound: Stream[] = []
  /** The peer's ends. */
  readonly inbound: Stream[] = []
  /** Each stream's serving, in order. */
  readonly served: Array<Promise<void>> = []
  aborted?: Error
  /** `newStream` fails this many more times (a data channel that will not open). */
  failStreams = 0

  constructor (peerId: string, private readonly serve: Serve, private readonly next: () => number) {
    super()
    this.remotePeer = { toString: () => peerId }
  }

  async newStream (): Promise<Stream> {
    if (this.status !== 'open') throw new Error('connection closed')
    if (this.failStreams > 0) { this.failStreams--; throw new Error('data channel did not open') }
    const index = this.next()
    const [outbound, inbound] = await streamPair()
    this.outbound.push(outbound)
    this.inbound.push(inbound)
    this.served.push(this.serve(inbound, index).catch(() => {}))
    return outbound
  }

  abort (err: Error): void {
    this.aborted = err
    this.shut()
  }

  async close (): Promise<void> { this.shut() }

  private shut (): void {
    if (this.status !== 'open') return
    this.status = 'closed'
    this.dispatchEvent(new Event('close'))
  }
}

interface Requester {
  jobs: JobProtocol
  /** Streams opened to each peer, over all its connections. */
  opened: Record<string, number>
  /** The open link to `peerId` (made now if there is none), as ensureDirect gives it. */
  link: (peerId: string) => FakeConnection
  /** Every link made to `peerId`, oldest first. */
  links: (peerId: string) => FakeConnection[]
}

/** A requester whose link to each named peer is one FakeConnection (a fresh one once it closed), served by `peers[peerId]`. */
function requester (init: JobProtocolInit, peers: Record<string, Serve>): Requester {
  const opened: Record<string, number> = {}
  const made: Record<string, FakeConnection[]> = {}
  const link = (peerId: string): FakeConnection => {
    const serve = peers[peerId]
    if (serve == null) throw new Error(`no route to ${peerId}`)
    const list = made[peerId] ?? (made[peerId] = [])
    const last = list.at(-1)
    if (last != null && last.status === 'open') return last
    const conn = new FakeConnection(peerId, serve, () => { const n = opened[peerId] ?? 0; opened[peerId] = n + 1; return n })
    list.push(conn)
    return conn
  }
  const links = { ensureDirect: async (peerId: string): Promise<Connection> => link(peerId) as unknown as Connection }
  return { jobs: jobProtocol(init)({ registrar, links }), opened, link, links: (peerId) => made[peerId] ?? [] }
}

/** Resolves once `stream` is closed at both ends, reset or aborted (at once if it is). */
async function ended (stream: Stream): Promise<void> {
  if (stream.status !== 'open') return
  await new Promise((resolve) => { stream.addEventListener('close', resolve, { once: true }) })
}

/** Resolves once the other side closed its end of `stream` (at once if it has). */
async function remoteClosed (stream: Stream): Promise<void> {
  if (stream.remoteWriteStatus !== 'writable') return
  await new Promise((resolve) => { stream.addEventListener('remoteCloseWrite', resolve, { once: true }) })
}

/** Sends requests on `stream` one at a time and reads their responses, as a bare requester would. */
function asker (stream: Stream): (req?: JobRequest) => Promise<JobResponse> {
  const lp = lpStream(stream)
  return async (req = jobRequest()) => {
    await lp.write(encodeJobRequest(req))
    return decodeJobResponse((await lp.read()).subarray(), MAX_JOB_RESPONSE_BYTES)
  }
}

/** Reads the one error response a worker sends back to a hostile requester. */
async function readErrorResponse (stream: Stream): Promise<{ name: string, message: string }> {
  const res = decodeJobResponse((await lpStream(stream).read()).subarray(), MAX_JOB_RESPONSE_BYTES)
  if (res.type !== 'error') throw new Error(`expected an error response, got ${res.type}`)
  return res.error
}

describe('job protocol, serving side, against hostile requesters', () => {
  it('refuses a length prefix above MAX_JOB_REQUEST_BYTES before reading the body, and never calls the handler', async () => {
    let calls = 0
    const { open } = await worker({ requestReadTimeout: 2_000 }, async (req) => { calls++; return await resultFor(req) })
    const { stream, inbound, served } = await open()
    stream.send(varint(MAX_JOB_REQUEST_BYTES + 1))
    // the announced body, endless: never read, and cut off by a reset
    const sent = flood(stream, new Uint8Array(CHUNK))
    const error = await readErrorResponse(stream)
    expect(error.name).toBe('MessageTooLargeError')
    await served
    expect(inbound.status).toBe('aborted')
    // reset within a few chunks: the worker did not wait for (nor hold) the 16 MiB it was promised
    expect(await sent).toBeLessThanOrEqual(FEW_CHUNKS)
    expect(stream.status).toBe('reset')
    expect(calls).toBe(0)
  }, TEST_TIMEOUT)

  it('gives up a request trickled in slowly at requestReadTimeout and resets it, while an honest request on another stream is served', async () => {
    const served: string[] = []
    const { open, serve } = await worker({ requestReadTimeout: 300 }, async (req) => { served.push(req.jobId); return await resultFor(req) })
    const slow = await open()
    const bytes = encodeJobRequest(jobRequest())
    const frame = Uint8Array.from([...varint(bytes.byteLength), ...bytes])
    // 4 bytes every 50 ms: the ~300-byte request would take ~4 s to arrive
    const trickle = track((async () => {
      let at = 0
      while (slow.stream.status === 'open' && at < frame.byteLength) {
        try { slow.stream.send(frame.subarray(at, at + 4)) } catch { break }
        at += 4
        await delay(50)
      }
      return at
    })())
    const slowAnswer = track(readErrorResponse(slow.stream))

    // an honest requester, meanwhile, through the real requesting side
    const req = jobRequest()
    const honest = requester({}, { worker: serve })
    const res = await honest.jobs.request('worker', req, { timeout: 2_000 })
    expect(res).toMatchObject({ type: 'result', jobId: req.jobId })
    // served while the slow stream was still trickling and not yet answered
    expect(slowAnswer.settled()).toBe(false)
    expect(trickle.settled()).toBe(false)

    expect(await slowAnswer.promise).toMatchObject({ name: 'TimeoutError' })
    await slow.served
    expect(slow.inbound.status).toBe('aborted')
    // reset long before the whole request could have arrived
    expect(await trickle.promise).toBeLessThan(frame.byteLength)
    expect(served).toEqual([req.jobId])
    // the honest stream, pooled meanwhile, was not touched
    expect(honest.link('worker').outbound[0].status).toBe('open')
    await honest.jobs.stop()
  }, TEST_TIMEOUT)

  it('cuts off a valid request followed by endless data at its first extra chunk, and stops the handler', async () => {
    let started: (signal: AbortSignal) => void = () => {}
    const handlerSignal = new Promise<AbortSignal>((resolve) => { started = resolve })
    const { open } = await worker({ requestReadTimeout: 2_000, handlerTimeout: 4_000 }, async (req, { signal }) => {
      started(signal)
      // a long job: runs until told to stop
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
      return await resultFor(req)
    })
    const { stream, inbound, served } = await open()
    const bytes = encodeJobRequest(jobRequest())
    stream.send(Uint8Array.from([...varint(bytes.byteLength), ...bytes]))
    const signal = await handlerSignal
    const sent = flood(stream, new Uint8Array(CHUNK))
    await served
    expect(signal.aborted).toBe(true)
    expect(inbound.status).toBe('aborted')
    expect(stream.status).toBe('reset')
    // reset within a few chunks, not after a read buffer's worth (MAX_JOB_REQUEST_BYTES)
    expect(await sent).toBeLessThanOrEqual(FEW_CHUNKS)
  }, TEST_TIMEOUT)

  it('holds at most MAX_JOB_REQUEST_BYTES of an endless body under the largest allowed prefix, then resets it', async () => {
    let calls = 0
    const { open } = await worker({ requestReadTimeout: 3_000 }, async (req) => { calls++; return await resultFor(req) })
    const { stream, inbound, served } = await open()
    stream.send(varint(MAX_JOB_REQUEST_BYTES))
    const sent = flood(stream, new Uint8Array(CHUNK).fill(0xff))
    const error = await readErrorResponse(stream).catch((err: Error) => ({ name: `no answer (${err.name})`, message: err.message }))
    await served
    // junk that fills the whole announced body is not CBOR, or overflows the read buffer first
    expect(['InvalidMessageError', 'MessageTooLargeError']).toContain(error.name)
    expect(inbound.status).toBe('aborted')
    // (the reset reaches the flooding end behind the answer)
    await ended(stream)
    expect(stream.status).toBe('reset')
    const total = await sent
    expect(total).toBeGreaterThanOrEqual(MAX_JOB_REQUEST_BYTES)
    expect(total).toBeLessThanOrEqual(MAX_JOB_REQUEST_BYTES + FEW_CHUNKS)
    expect(calls).toBe(0)
  }, TEST_TIMEOUT)

  it('closes a stream idle for serveIdleMs, resets it if the requester keeps its end open requestReadTimeout longer (its inbound slot is freed), and ends cleanly with one that closes', async () => {
    const { open } = await worker({ requestReadTimeout: 300, serveIdleMs: 300 }, async (req) => await resultFor(req))
    const lingering = await open()
    const lingered = track(lingering.served)
    const polite = await open()
    const askLingering = asker(lingering.stream)
    expect(await askLingering()).toMatchObject({ type: 'result' })
    // a stream carries one job after another
    expect(await askLingering()).toMatchObject({ type: 'result' })
    expect(await asker(polite.stream)()).toMatchObject({ type: 'result' })
    await polite.stream.close()
    await polite.served
    expect(polite.inbound.status).toBe('closed')
    // answered and idle, but not yet for serveIdleMs
    expect(lingered.settled()).toBe(false)
    expect(lingering.stream.remoteWriteStatus).toBe('writable')
    // the worker closes its end at serveIdleMs; the requester never closes its own
    await remoteClosed(lingering.stream)
    expect(lingering.inbound.status).toBe('open')
    await lingered.promise
    expect(lingering.inbound.status).toBe('aborted')
    expect(lingering.stream.status).toBe('reset')
  }, TEST_TIMEOUT)

  it('answers two requests sent at once (pipelined) with InvalidMessageError and resets the stream, without running either', async () => {
    let calls = 0
    const { open } = await worker({ requestReadTimeout: 2_000 }, async (req) => { calls++; return await resultFor(req) })
    const { stream, inbound, served } = await open()
    const frame = (req: JobRequest): number[] => { const bytes = encodeJobRequest(req); return [...varint(bytes.byteLength), ...bytes] }
    stream.send(Uint8Array.from([...frame(jobRequest()), ...frame(jobRequest())]))
    expect(await readErrorResponse(stream)).toMatchObject({ name: 'InvalidMessageError' })
    await served
    expect(inbound.status).toBe('aborted')
    expect(calls).toBe(0)
  }, TEST_TIMEOUT)

  it('resets only the stream that sent a bad frame: another stream of the same requester is served before and after', async () => {
    const { open } = await worker({ requestReadTimeout: 2_000 }, async (req) => await resultFor(req))
    const good = await open()
    const bad = await open()
    const ask = asker(good.stream)
    expect(await ask()).toMatchObject({ type: 'result' })
    bad.stream.send(varint(MAX_JOB_REQUEST_BYTES + 1))
    expect(await readErrorResponse(bad.stream)).toMatchObject({ name: 'MessageTooLargeError' })
    await bad.served
    expect(bad.inbound.status).toBe('aborted')
    expect(await ask()).toMatchObject({ type: 'result' })
    expect(good.inbound.status).toBe('open')
    await good.stream.close()
    await good.served
    expect(good.inbound.status).toBe('closed')
  }, TEST_TIMEOUT)

  it('serves an honest request and response larger than lpStream\'s default 4 MiB buffer', async () => {
    const big = (n: number): NamedTensors => ({ x: createTensor('float32', [1, n], new Float32Array(n).map((_, i) => i)) })
    const req = jobRequest(big((5 << 20) / 4))
    const outputs = big((6 << 20) / 4)
    const seen: string[] = []
    const { serve } = await worker({ requestReadTimeout: 3_000 }, async (r) => { if (r.type === 'job') seen.push(hashTensors(r.inputs)); return await resultFor(r, outputs) })
    const { jobs } = requester({}, { worker: serve })
    const res = await jobs.request('worker', req, { timeout: 4_000 })
    await jobs.stop()
    expect(seen).toEqual([hashTensors(req.inputs)])
    expect(res.type).toBe('result')
    if (res.type === 'result') expect(hashTensors(res.outputs ?? {})).toBe(hashTensors(outputs))
  }, TEST_TIMEOUT)
})

describe('job protocol, requesting side, against hostile workers', () => {
  it('fails with MessageTooLargeError on a response announced above MAX_JOB_RESPONSE_BYTES, without reading its body, while another peer answers', async () => {
    const floods: Array<Promise<number>> = []
    const evil = async (inbound: Stream): Promise<void> => {
      await lpStream(inbound).read()
      inbound.send(varint(MAX_JOB_RESPONSE_BYTES + 1))
      floods.push(flood(inbound, new Uint8Array(CHUNK)))
    }
    const { serve } = await worker({}, async (req) => await resultFor(req))
    const { jobs } = requester({}, { evil, honest: serve })
    const req = jobRequest()
    const [bad, good] = await Promise.allSettled([
      jobs.request('evil', jobRequest(), { timeout: 2_000 }),
      jobs.request('honest', req, { timeout: 2_000 })
    ])
    expect(bad).toMatchObject({ status: 'rejected', reason: { name: 'MessageTooLargeError' } })
    expect(good).toMatchObject({ status: 'fulfilled', value: { type: 'result', jobId: req.jobId } })
    // the requester reset the stream instead of reading the 32 MiB it was promised
    expect(floods).toHaveLength(1)
    expect(await floods[0]).toBeLessThanOrEqual(FEW_CHUNKS)
    await jobs.stop()
  }, TEST_TIMEOUT)

  it('fails with TimeoutError on responses trickled in forever; the slow peer holds only its own slots and another peer answers meanwhile', async () => {
    const trickles: Array<Promise<number>> = []
    const slow = async (inbound: Stream): Promise<void> => {
      await lpStream(inbound).read()
      inbound.send(varint(4096))
      // 3 bytes every 50 ms of a 4 KiB response: ~70 s to arrive
      trickles.push(flood(inbound, new Uint8Array(3), 50))
    }
    const { serve } = await worker({}, async (req) => await resultFor(req))
    const { jobs, opened } = requester({ timeout: 600, maxOutboundPerPeer: 4 }, { slow, honest: serve })
    const slowJobs = Array.from({ length: 5 }, () => track(jobs.request('slow', jobRequest())))
    const req = jobRequest()
    const res = await jobs.request('honest', req)
    expect(res).toMatchObject({ type: 'result', jobId: req.jobId })
    // answered while every slow job was pending: 4 streams open to the slow peer, the fifth job waiting its turn there
    expect(slowJobs.map(j => j.settled())).toEqual([false, false, false, false, false])
    expect(opened).toMatchObject({ slow: 4, honest: 1 })

    const names = await Promise.all(slowJobs.map(async (j) => await j.promise.then(() => 'answered', (err: Error) => err.name)))
    expect(names).toEqual(Array(5).fill('TimeoutError'))
    // each trickling stream was reset by the requester, which ends the trickle
    const trickled = await Promise.all(trickles)
    expect(trickled.every(n => n < 4096)).toBe(true)
    await jobs.stop()
  }, TEST_TIMEOUT)
})

describe('job protocol, pooled streams (one stream per exchange at a time, reused)', () => {
  it('sends 10 sequential jobs to one peer over 1 stream, and 8 concurrent jobs over at most 4', async () => {
    let running = 0
    let most = 0
    const { serve } = await worker({}, async (req) => {
      most = Math.max(most, ++running)
      await delay(5)
      running--
      return await resultFor(req)
    })
    const sequential = requester({}, { worker: serve })
    for (let i = 0; i < 10; i++) {
      const req = jobRequest()
      expect(await sequential.jobs.request('worker', req, { timeout: 2_000 })).toMatchObject({ type: 'result', jobId: req.jobId })
    }
    expect(sequential.opened).toEqual({ worker: 1 })
    expect(sequential.link('worker').inbound[0].status).toBe('open')
    await sequential.jobs.stop()

    const concurrent = requester({ maxOutboundPerPeer: 4 }, { worker: serve })
    const reqs = Array.from({ length: 8 }, () => jobRequest())
    const results = await Promise.all(reqs.map(async (req) => await concurrent.jobs.request('worker', req, { timeout: 2_000 })))
    expect(results.map(r => r.jobId)).toEqual(reqs.map(r => r.jobId))
    expect(results.every(r => r.type === 'result')).toBe(true)
    expect(concurrent.opened.worker).toBeGreaterThanOrEqual(1)
    expect(concurrent.opened.worker).toBeLessThanOrEqual(4)
    expect(most).toBeLessThanOrEqual(4)
    await concurrent.jobs.stop()
  }, TEST_TIMEOUT)

  it('resets only the stream that got a bad frame: a concurrent job on another stream to the same peer succeeds, and the link stays open', async () => {
    let honestStarted: () => void = () => {}
    const honestRunning = new Promise<void>((resolve) => { honestStarted = resolve })
    let release: () => void = () => {}
    const finish = new Promise<void>((resolve) => { release = resolve })
    const floods: Array<Promise<number>> = []
    const { serve } = await worker({}, async (req) => { honestStarted(); await finish; return await resultFor(req) })
    const { jobs, link, opened } = requester({}, {
      worker: async (inbound, index) => {
        if (index > 0) { await serve(inbound); return }
        await lpStream(inbound).read()
        // only once the other job is being handled on its own stream
        await honestRunning
        inbound.send(varint(MAX_JOB_RESPONSE_BYTES + 1))
        floods.push(flood(inbound, new Uint8Array(CHUNK)))
      }
    })
    const conn = link('worker')
    const bad = track(jobs.request('worker', jobRequest(), { timeout: 2_000 }))
    // the bad job has its stream (index 0) before the good one asks for one
    await expect.poll(() => conn.outbound.length).toBe(1)
    const req = jobRequest()
    const good = jobs.request('worker', req, { timeout: 2_000 })
    await expect(bad.promise).rejects.toMatchObject({ name: 'MessageTooLargeError' })
    release()
    expect(await good).toMatchObject({ type: 'result', jobId: req.jobId })
    expect(conn.outbound[0].status).toBe('aborted')
    expect(await floods[0]).toBeLessThanOrEqual(FEW_CHUNKS)
    expect(conn.outbound[1].status).toBe('open')
    expect(conn.status).toBe('open')
    expect(conn.aborted).toBeUndefined()
    // the good stream is reused
    expect(await jobs.request('worker', jobRequest(), { timeout: 2_000 })).toMatchObject({ type: 'result' })
    expect(opened).toEqual({ worker: 2 })
    await jobs.stop()
  }, TEST_TIMEOUT)

  it('answers a failing handler with a typed error and keeps the stream: the next job on it succeeds', async () => {
    let calls = 0
    const { serve } = await worker({}, async (req) => {
      if (calls++ === 0) throw Object.assign(new Error('the model blew up'), { name: 'InferenceError' })
      return await resultFor(req)
    })
    const { jobs, opened, link } = requester({}, { worker: serve })
    expect(await jobs.request('worker', jobRequest(), { timeout: 2_000 })).toMatchObject({ type: 'error', error: { name: 'InferenceError', message: 'the model blew up' } })
    const req = jobRequest()
    expect(await jobs.request('worker', req, { timeout: 2_000 })).toMatchObject({ type: 'result', jobId: req.jobId })
    expect(opened).toEqual({ worker: 1 })
    expect(link('worker').inbound[0].status).toBe('open')
    await jobs.stop()
  }, TEST_TIMEOUT)

  it('closes a stream idle for streamIdleMs (cleanly, at both ends), and the next job opens a fresh one', async () => {
    const { serve } = await worker({ serveIdleMs: 10_000 }, async (req) => await resultFor(req))
    const { jobs, opened, link } = requester({ streamIdleMs: 100 }, { worker: serve })
    await jobs.request('worker', jobRequest(), { timeout: 2_000 })
    const conn = link('worker')
    const first = conn.outbound[0]
    // pooled, not closed after its job
    expect(first.status).toBe('open')
    await ended(first)
    expect(first.status).toBe('closed')
    // the worker's end closed with it: its inbound slot is free
    await conn.served[0]
    expect(conn.inbound[0].status).toBe('closed')
    expect(await jobs.request('worker', jobRequest(), { timeout: 2_000 })).toMatchObject({ type: 'result' })
    expect(opened).toEqual({ worker: 2 })
    expect(conn.outbound[1].status).toBe('open')
    await jobs.stop()
  }, TEST_TIMEOUT)

  it('aborts a pooled stream on which data arrives while it is idle, and the next job uses a fresh stream', async () => {
    let poke: () => void = () => {}
    const poked = new Promise<void>((resolve) => { poke = resolve })
    const { serve } = await worker({}, async (req) => await resultFor(req))
    const { jobs, opened, link } = requester({}, {
      worker: async (inbound, index) => {
        if (index > 0) { await serve(inbound); return }
        const lp = lpStream(inbound)
        const req = decodeJobRequest((await lp.read()).subarray(), MAX_JOB_REQUEST_BYTES)
        await lp.write(encodeJobResponse(await resultFor(req)))
        // a byte nobody asked for, once the stream sits idle in the pool
        await poked
        inbound.send(Uint8Array.of(0))
      }
    })
    const req = jobRequest()
    expect(await jobs.request('worker', req, { timeout: 2_000 })).toMatchObject({ type: 'result', jobId: req.jobId })
    const conn = link('worker')
    expect(conn.outbound[0].status).toBe('open')
    poke()
    await ended(conn.outbound[0])
    expect(conn.outbound[0].status).toBe('aborted')
    expect(await jobs.request('worker', jobRequest(), { timeout: 2_000 })).toMatchObject({ type: 'result' })
    expect(opened).toEqual({ worker: 2 })
    expect(conn.aborted).toBeUndefined()
    await jobs.stop()
  }, TEST_TIMEOUT)

  it('has the worker close a stream idle for serveIdleMs; the requester closes its end, drops it from its pool and opens a fresh one for the next job', async () => {
    const { serve } = await worker({ serveIdleMs: 100 }, async (req) => await resultFor(req))
    // the requester's own idle close (15 s) is far off: only the worker can have closed it
    const { jobs, opened, link } = requester({}, { worker: serve })
    await jobs.request('worker', jobRequest(), { timeout: 2_000 })
    const conn = link('worker')
    expect(conn.outbound[0].status).toBe('open')
    await conn.served[0]
    await ended(conn.outbound[0])
    expect(conn.inbound[0].status).toBe('closed')
    expect(conn.outbound[0].status).toBe('closed')
    expect(await jobs.request('worker', jobRequest(), { timeout: 2_000 })).toMatchObject({ type: 'result' })
    expect(opened).toEqual({ worker: 2 })
    await jobs.stop()
  }, TEST_TIMEOUT)

  it('sends a job that cannot be written on a reused stream once more on a fresh stream, keeping the link', async () => {
    const seen: string[] = []
    const { serve } = await worker({}, async (req) => { seen.push(req.jobId); return await resultFor(req) })
    const { jobs, opened, link } = requester({}, { worker: serve })
    await jobs.request('worker', jobRequest(), { timeout: 2_000 })
    const conn = link('worker')
    // a data channel that died under an idle stream: send throws before anything is out
    conn.outbound[0].send = () => { throw new Error('RTCDataChannel.readyState is not open') }
    const req = jobRequest()
    expect(await jobs.request('worker', req, { timeout: 2_000 })).toMatchObject({ type: 'result', jobId: req.jobId })
    expect(opened).toEqual({ worker: 2 })
    expect(conn.outbound[0].status).toBe('aborted')
    expect(conn.aborted).toBeUndefined()
    expect(seen.filter(id => id === req.jobId)).toHaveLength(1)
    await jobs.stop()
  }, TEST_TIMEOUT)

  it('closes a link on which a fresh stream fails before the request is written, and sends the job once over a fresh link', async () => {
    const { serve } = await worker({}, async (req) => await resultFor(req))
    const { jobs, links, link } = requester({}, { worker: serve })
    link('worker').failStreams = 1
    const req = jobRequest()
    expect(await jobs.request('worker', req, { timeout: 2_000 })).toMatchObject({ type: 'result', jobId: req.jobId })
    const [dead, fresh] = links('worker')
    expect(dead.aborted).toBeDefined()
    expect(fresh.status).toBe('open')
    expect(fresh.outbound).toHaveLength(1)
    await jobs.stop()
  }, TEST_TIMEOUT)

  it('drops the pooled streams of a link that closes; the next job goes over the new link', async () => {
    const { serve } = await worker({}, async (req) => await resultFor(req))
    const { jobs, links, link } = requester({}, { worker: serve })
    await jobs.request('worker', jobRequest(), { timeout: 2_000 })
    const old = link('worker')
    await old.close()
    expect(old.outbound[0].status).toBe('aborted')
    expect(await jobs.request('worker', jobRequest(), { timeout: 2_000 })).toMatchObject({ type: 'result' })
    expect(links('worker')).toHaveLength(2)
    expect(links('worker')[1].outbound).toHaveLength(1)
    expect(old.outbound).toHaveLength(1)
    await jobs.stop()
  }, TEST_TIMEOUT)
})
