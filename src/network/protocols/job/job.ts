import type { Connection, Startable, Stream, StreamHandlerOptions } from '@libp2p/interface'
import { createLogger } from '../../../logger.js'
import type { JobStreamRequest, JobResponse } from '../../codec.js'
import { JobStreamPool, requestJob } from './client.js'
import { serveJobStream } from './handler.js'
import type { JobHandler } from './handler.js'
import { DEFAULT_JOB_HANDLER_TIMEOUT_MS, DEFAULT_JOB_MAX_INBOUND_STREAMS, DEFAULT_JOB_REQUEST_READ_TIMEOUT_MS, DEFAULT_JOB_MAX_OUTBOUND_PER_PEER, DEFAULT_JOB_SERVE_IDLE_MS, DEFAULT_JOB_STREAM_IDLE_MS, DEFAULT_JOB_STREAM_OPEN_TIMEOUT_MS, DEFAULT_JOB_TIMEOUT_MS, JOB_PROTOCOL } from './constants.js'
import { PeerLimiter } from './limit.js'
import { withTimeout, wrapAbort } from '../../signals.js'
import type { JobProtocolComponents, JobProtocolInit, JobRequestOptions } from './index.js'

const log = createLogger('network:job')

export class JobProtocol implements Startable {
  private readonly components: JobProtocolComponents
  private readonly timeout: number
  private readonly handlerTimeout: number
  private readonly requestReadTimeout: number
  private readonly streamOpenTimeout: number
  private readonly maxInboundStreams: number
  private readonly serveIdleMs: number
  private readonly outbound: PeerLimiter
  /** Idle job streams of this requester, per connection. */
  private readonly streams: JobStreamPool
  private handler?: JobHandler
  private started = false

  constructor (components: JobProtocolComponents, init: JobProtocolInit = {}) {
    this.components = components
    this.timeout = init.timeout ?? DEFAULT_JOB_TIMEOUT_MS
    this.handlerTimeout = init.handlerTimeout ?? DEFAULT_JOB_HANDLER_TIMEOUT_MS
    this.requestReadTimeout = init.requestReadTimeout ?? DEFAULT_JOB_REQUEST_READ_TIMEOUT_MS
    this.streamOpenTimeout = init.streamOpenTimeout ?? DEFAULT_JOB_STREAM_OPEN_TIMEOUT_MS
    this.maxInboundStreams = init.maxInboundStreams ?? DEFAULT_JOB_MAX_INBOUND_STREAMS
    this.serveIdleMs = init.serveIdleMs ?? DEFAULT_JOB_SERVE_IDLE_MS
    this.outbound = new PeerLimiter(init.maxOutboundPerPeer ?? DEFAULT_JOB_MAX_OUTBOUND_PER_PEER)
    this.streams = new JobStreamPool(init.streamIdleMs ?? DEFAULT_JOB_STREAM_IDLE_MS, log)
  }

  isStarted (): boolean { return this.started }

  async start (): Promise<void> {
    if (this.started) return
    const options: StreamHandlerOptions = { maxInboundStreams: this.maxInboundStreams }
    await this.components.registrar.handle(JOB_PROTOCOL, this.onStream, options)
    this.started = true
  }

  async stop (): Promise<void> {
    // requesting needs no start: idle streams are closed either way
    this.streams.clear()
    if (!this.started) return
    this.started = false
    await this.components.registrar.unhandle(JOB_PROTOCOL)
  }

  /** Serves incoming jobs with `handler` (until then they are refused with JobRejectedError). */
  onJob (handler: JobHandler): void { this.handler = handler }

  async request (peerId: string, req: JobStreamRequest, options: JobRequestOptions = {}): Promise<JobResponse> {
    const timeout = options.timeout ?? this.timeout
    // the wait for a turn counts against the request's own timeout
    const signal = withTimeout(options.signal, timeout)
    let release: () => void
    try {
      release = await this.outbound.acquire(peerId, { signal })
    } catch (err) {
      throw wrapAbort(err, signal, `job ${req.jobId.slice(0, 8)} waiting for a turn with ${peerId}`)
    }
    try {
      return await requestJob(this.components.links, this.streams, peerId, req, { signal, timeout, streamOpenTimeout: this.streamOpenTimeout, log })
    } finally {
      release()
    }
  }

  private readonly onStream = async (stream: Stream, connection: Connection): Promise<void> => {
    await serveJobStream(stream, connection.remotePeer.toString(), this.handler, { timeout: this.handlerTimeout, requestReadTimeout: this.requestReadTimeout, idleTimeout: this.serveIdleMs, log })
  }
}
