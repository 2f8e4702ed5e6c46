import { TypedEventEmitter } from '@libp2p/interface'
import type { Connection, Startable, Stream } from '@libp2p/interface'
import { createLogger } from '../../../logger.js'
import { fetchModelFrom } from './client.js'
import { ModelServer } from './handler.js'
import type { ModelProvider } from './handler.js'
import {
  DEFAULT_MODEL_MANIFEST_CACHE, DEFAULT_MODEL_MAX_HOLDERS, DEFAULT_MODEL_MAX_INBOUND_STREAMS, DEFAULT_MODEL_REQUEST_TIMEOUT_MS,
  DEFAULT_MODEL_REQUESTS_PER_HOLDER, DEFAULT_MODEL_REUSE_STREAMS, DEFAULT_MODEL_TIMEOUT_MS, DEFAULT_UPLOAD_PROGRESS_BYTES,
  MAX_MODEL_BYTES, MODEL_CHUNK_BYTES, MODEL_PROTOCOL
} from './constants.js'
import type { ModelFetchOptions, ModelProtocolComponents, ModelProtocolEvents, ModelProtocolInit } from './types.js'

const log = createLogger('network:model')

export class ModelProtocol extends TypedEventEmitter<ModelProtocolEvents> implements Startable {
  private readonly components: ModelProtocolComponents
  private readonly init: Required<Omit<ModelProtocolInit, 'uploadProgressBytes' | 'maxInboundStreams' | 'manifestCache'>>
  private readonly maxInboundStreams: number
  private readonly server: ModelServer
  private provider?: ModelProvider
  private started = false

  constructor (components: ModelProtocolComponents, init: ModelProtocolInit = {}) {
    super()
    this.components = components
    this.init = {
      timeout: init.timeout ?? DEFAULT_MODEL_TIMEOUT_MS,
      requestTimeout: init.requestTimeout ?? DEFAULT_MODEL_REQUEST_TIMEOUT_MS,
      maxBytes: init.maxBytes ?? MAX_MODEL_BYTES,
      chunkBytes: init.chunkBytes ?? MODEL_CHUNK_BYTES,
      maxHolders: init.maxHolders ?? DEFAULT_MODEL_MAX_HOLDERS,
      requestsPerHolder: init.requestsPerHolder ?? DEFAULT_MODEL_REQUESTS_PER_HOLDER,
      reuseStreams: init.reuseStreams ?? DEFAULT_MODEL_REUSE_STREAMS
    }
    this.maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MODEL_MAX_INBOUND_STREAMS
    this.server = new ModelServer({
      progressBytes: init.uploadProgressBytes ?? DEFAULT_UPLOAD_PROGRESS_BYTES,
      manifestCache: init.manifestCache ?? DEFAULT_MODEL_MANIFEST_CACHE,
      onProgress: (detail) => { this.safeDispatchEvent('model:upload', { detail }) },
      log
    })
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

  /** Fetches a model from one holder (see `fetchFrom`). */
  async fetch (peerId: string, sha256: string, options: ModelFetchOptions = {}): Promise<Uint8Array> {
    return await this.fetchFrom([peerId], sha256, options)
  }

  /**
   * Fetches a model from up to `maxHolders` of `peers` at once (the others
   * are spares), checking every chunk and the whole. Throws only once no
   * holder is left: HashMismatchError (holders lied), ModelTooLargeError,
   * InvalidMessageError, ModelNotFoundError; TimeoutError or AbortError.
   */
  async fetchFrom (peers: string[], sha256: string, options: ModelFetchOptions = {}): Promise<Uint8Array> {
    return await fetchModelFrom(this.components.links, peers, sha256, {
      timeout: options.timeout ?? this.init.timeout,
      requestTimeout: options.requestTimeout ?? this.init.requestTimeout,
      maxBytes: options.maxBytes ?? this.init.maxBytes,
      chunkBytes: options.chunkBytes ?? this.init.chunkBytes,
      maxHolders: options.maxHolders ?? this.init.maxHolders,
      requestsPerHolder: options.requestsPerHolder ?? this.init.requestsPerHolder,
      reuseStreams: options.reuseStreams ?? this.init.reuseStreams,
      signal: options.signal,
      onProgress: options.onProgress,
      onHolderDropped: options.onHolderDropped,
      log
    })
  }

  /** Serves one stream; exposed for tests that drive it over an in-memory stream pair. */
  async serveStream (stream: Stream, from: string): Promise<void> {
    await this.server.serve(stream, from, this.provider, AbortSignal.timeout(this.init.timeout))
  }

  private readonly onStream = async (stream: Stream, connection: Connection): Promise<void> => {
    await this.serveStream(stream, connection.remotePeer.toString())
  }
}
