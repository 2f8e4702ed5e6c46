/**
 * The job protocol against hostile peers, over in-memory stream pairs: a
 * requester (or worker) that announces an oversized message, trickles one
 * slowly or keeps sending after it, is cut off with one of our named errors
 * within its deadline, its stream is reset (which frees its inbound slot), and
 * honest peers on other streams are served meanwhile.
 */
import { describe, it, expect } from 'vitest'
import { lpStream, streamPair } from '@libp2p/utils'
import type { Connection, Stream, StreamHandler } from '@libp2p/interface'
import { jobProtocol } from './index.js'
import type { JobHandler, JobProtocol, JobProtocolInit } from './index.js'
import { MAX_JOB_REQUEST_BYTES, MAX_JOB_RESPONSE_BYTES } from './constants.js'
import { decodeJobResponse, encodeJobRequest } from '../../codec.js'
import type { JobRequest, JobResponse } from '../../codec.js'
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

async function resultFor (req: JobRequest, outputs: NamedTensors = { y: createTensor('float32', [1, 2], new Float32Array([0.5, -0.5])) }): Promise<JobResponse> {
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

/** A requester whose links reach each named peer through a fresh stream pair per job, served by `peers[peerId]`. */
function requester (init: JobProtocolInit, peers: Record<string, (inbound: Stream) => Promise<void>>): { jobs: JobProtocol, opened: Record<string, number> } {
  const opened: Record<string, number> = {}
  const links = {
    ensureDirect: async (peerId: string): Promise<Connection> => ({
      newStream: async (): Promise<Stream> => {
        const serve = peers[peerId]
        if (serve == null) throw new Error(`no route to ${peerId}`)
        opened[peerId] = (opened[peerId] ?? 0) + 1
        const [outbound, inbound] = await streamPair()
        void serve(inbound)
        return outbound
      }
    }) as unknown as Connection
  }
  return { jobs: jobProtocol(init)({ registrar, links }), opened }
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
    const res = await requester({}, { worker: serve }).jobs.request('worker', req, { timeout: 2_000 })
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
    expect(stream.status).toBe('reset')
    const total = await sent
    expect(total).toBeGreaterThanOrEqual(MAX_JOB_REQUEST_BYTES)
    expect(total).toBeLessThanOrEqual(MAX_JOB_REQUEST_BYTES + FEW_CHUNKS)
    expect(calls).toBe(0)
  }, TEST_TIMEOUT)

  it('resets an answered requester that keeps its end open after requestReadTimeout (its inbound slot is freed), and closes cleanly with one that closes', async () => {
    const { open } = await worker({ requestReadTimeout: 300 }, async (req) => await resultFor(req))
    const ask = async (stream: Stream): Promise<JobResponse> => {
      const lp = lpStream(stream)
      await lp.write(encodeJobRequest(jobRequest()))
      return decodeJobResponse((await lp.read()).subarray(), MAX_JOB_RESPONSE_BYTES)
    }
    const lingering = await open()
    const lingered = track(lingering.served)
    const polite = await open()
    expect(await ask(lingering.stream)).toMatchObject({ type: 'result' })
    expect(await ask(polite.stream)).toMatchObject({ type: 'result' })
    await polite.stream.close()
    await polite.served
    expect(polite.inbound.status).toBe('closed')
    // answered, but it never closes its end: until it is reset it would count against the inbound limit
    expect(lingered.settled()).toBe(false)
    await lingered.promise
    expect(lingering.inbound.status).toBe('aborted')
    expect(lingering.stream.status).toBe('reset')
  }, TEST_TIMEOUT)

  it('serves an honest request and response larger than lpStream\'s default 4 MiB buffer', async () => {
    const big = (n: number): NamedTensors => ({ x: createTensor('float32', [1, n], new Float32Array(n).map((_, i) => i)) })
    const req = jobRequest(big((5 << 20) / 4))
    const outputs = big((6 << 20) / 4)
    const seen: string[] = []
    const { serve } = await worker({ requestReadTimeout: 3_000 }, async (r) => { seen.push(hashTensors(r.inputs)); return await resultFor(r, outputs) })
    const res = await requester({}, { worker: serve }).jobs.request('worker', req, { timeout: 4_000 })
    expect(seen).toEqual([hashTensors(req.inputs)])
    expect(res.type).toBe('result')
    if (res.type === 'result') expect(hashTensors(res.outputs)).toBe(hashTensors(outputs))
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
  }, TEST_TIMEOUT)
})
