import { TypedEventEmitter } from '@libp2p/interface'
import type { Connection, Startable, Stream } from '@libp2p/interface'
import { createLogger } from '../../../logger.js'
import { fetchModel } from './client.js'
import type { ModelFetchProgress } from './client.js'
import { serveModelStream } from './handler.js'
import type { ModelProvider } from './handler.js'
import { DEFAULT_MODEL_MAX_INBOUND_STREAMS, DEFAULT_MODEL_TIMEOUT_MS, DEFAULT_UPLOAD_PROGRESS_BYTES, MAX_MODEL_BYTES, MODEL_PROTOCOL } from './constants.js'
import type { ModelProtocolComponents, ModelProtocolEvents, ModelProtocolInit, ModelFetchOptions } from './index.js'

const log = createLogger('network:model')

export class ModelProtocol extends TypedEventEmitter<ModelProtocolEvents> implements Startable {
  private readonly components: ModelProtocolComponents
  private readonly timeout: number
  private readonly maxBytes: number
  private readonly progressBytes: number
  private readonly maxInboundStreams: number
  private provider?: ModelProvider
  private started = false

  constructor (components: ModelProtocolComponents, init: ModelProtocolInit = {}) {
    super()
    this.components = components
    this.timeout = init.timeout ?? DEFAULT_MODEL_TIMEOUT_MS
    this.maxBytes = init.maxBytes ?? MAX_MODEL_BYTES
    this.progressBytes = init.uploadProgressBytes ?? DEFAULT_UPLOAD_PROGRESS_BYTES
    this.maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MODEL_MAX_INBOUND_STREAMS
  }

  isStarted (): boolean { return this.started }

  async start (): Promise<void> {
    if (this.started) return
    await this.components.registrar.handle(MODEL_PROTOCOL, this.onStream, { maxInboundStreams: this.maxInboundStreams })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.components.registrar.unhandle(MODEL_PROTOCOL)
  }

  /** Serves models that `provider` returns (undefined: not held here). */
  serve (provider: ModelProvider): void { this.provider = provider }

  async fetch (peerId: string, sha256: string, options: ModelFetchOptions = {}): Promise<Uint8Array> {
    return await fetchModel(this.components.links, peerId, sha256, {
      signal: options.signal,
      timeout: options.timeout ?? this.timeout,
      maxBytes: options.maxBytes ?? this.maxBytes,
      onProgress: options.onProgress
    })
  }

  /** Serves one stream; exposed for tests that drive it over an in-memory stream pair. */
  async serveStream (stream: Stream, from: string): Promise<void> {
    await serveModelStream(stream, from, this.provider, {
      signal: AbortSignal.timeout(this.timeout),
      progressBytes: this.progressBytes,
      onProgress: (detail) => { this.safeDispatchEvent('model:upload', { detail }) },
      log
    })
  }

  private readonly onStream = async (stream: Stream, connection: Connection): Promise<void> => {
    await this.serveStream(stream, connection.remotePeer.toString())
  }
}

export type { ModelFetchProgress }
