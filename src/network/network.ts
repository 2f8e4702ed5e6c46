import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { TypedEventEmitter } from '@libp2p/interface'
import type { Connection, PrivateKey, Stream } from '@libp2p/interface'
import { AbortError, HashMismatchError, InvalidMessageError, JobRejectedError, ModelNotFoundError, NotStartedError, TimeoutError } from '../errors.js'
import { createLogger } from '../logger.js'
import { sha256Hex } from '../tensor/index.js'
import { createPeerLibp2p } from './libp2p.js'
import type { PeerLibp2p } from './libp2p.js'
import {
  decodeAnnouncement, decodeJobRequest, decodeJobResponse, decodeModelHeader, decodeModelRequest,
  encodeAnnouncement, encodeJobRequest, encodeJobResponse, encodeModelHeader, encodeModelRequest,
  decodeObservationMessage, encodeObservationMessage
} from './codec.js'
import type { Announcement, JobRequest, JobResponse, ObservationMessage } from './codec.js'
import {
  ANNOUNCE_TOPIC, DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_DISCOVERY_INTERVAL_MS, DEFAULT_JOB_TIMEOUT_MS, JOB_PROTOCOL,
  MAX_ANNOUNCE_BYTES, MAX_JOB_REQUEST_BYTES, MAX_JOB_RESPONSE_BYTES, MAX_MODEL_BYTES, MAX_MODEL_CONTROL_BYTES,
  MODEL_CHUNK_BYTES, MODEL_PROTOCOL, MAX_OBSERVATION_BYTES, OBSERVATION_TOPIC
} from './constants.js'

const log = createLogger('network')

export interface NetworkInit {
  /** libp2p identity (persisted by the caller). */
  privateKey: PrivateKey
  /** Relay multiaddr, including `/p2p/<relay id>`. */
  relay: string
  /**
   * Allow ws:// and loopback/private addresses.
   * @default true when the relay address is loopback or private
   */
  allowLocal?: boolean
  /** @default 5000 */
  discoveryInterval?: number
  /** @default 20000 */
  dialTimeout?: number
}

export interface PeerState {
  peerId: string
  /** True when a direct (WebRTC) connection is open. */
  direct: boolean
  /** True when only a relayed (limited) connection is open. */
  relayed: boolean
  remoteAddrs: string[]
  announcement?: Announcement
  lastSeen: number
}

export interface NetworkEvents {
  'network:peers': CustomEvent<PeerState[]>
  'network:announcement': CustomEvent<Announcement>
  'network:relay': CustomEvent<{ connected: boolean, addresses: string[] }>
  /** A reputation observation another peer shared (shape-checked; its signature and evidence are not yet). */
  'network:observation': CustomEvent<{ from: string, message: ObservationMessage }>
}

export interface JobContext {
  /** Peer that sent the job. */
  from: string
  signal: AbortSignal
}

export type JobHandler = (req: JobRequest, ctx: JobContext) => Promise<JobResponse>
export type ModelProvider = (sha256: string) => Promise<Uint8Array | undefined>

export interface ModelFetchProgress { sha256: string, loaded: number, total: number }

function isLocalAddr (addr: string): boolean {
  return /\/ip4\/(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)|\/ip6\/::1\/|\/dns4?\/localhost\//.test(addr)
}

/**
 * A direct WebRTC link: unlimited, WebRTC's own multiplexer. (The dialler's
 * remoteAddr is the `/p2p-circuit/webrtc` address it dialled, signalled through
 * the relay; the listener sees `/webrtc`. Either way the data path is WebRTC.)
 */
function isDirect (c: Connection): boolean {
  return c.status === 'open' && c.limits == null && c.multiplexer === '/webrtc' && c.remoteAddr.toString().includes('/webrtc')
}

function withTimeout (signal: AbortSignal | undefined, ms: number): AbortSignal {
  const t = AbortSignal.timeout(ms)
  return signal == null ? t : AbortSignal.any([signal, t])
}

function wrapAbort (err: unknown, signal: AbortSignal, what: string): unknown {
  if (!signal.aborted) return err
  const reason = signal.reason as { name?: string } | undefined
  if (reason?.name === 'TimeoutError') return new TimeoutError(`${what} timed out`, { cause: err })
  return new AbortError(`${what} aborted`, { cause: err })
}

/**
 * The Crosscheck network: joins a relay, keeps direct WebRTC links to other
 * peers, gossips capability announcements and carries jobs and models over
 * versioned request/response streams. The relay only ever carries signalling
 * and gossip: job and model streams refuse limited (relayed) connections.
 */
export class Network extends TypedEventEmitter<NetworkEvents> {
  private readonly init: Required<Omit<NetworkInit, 'privateKey' | 'relay'>> & Pick<NetworkInit, 'privateKey' | 'relay'>
  private node?: PeerLibp2p
  private readonly peers = new Map<string, PeerState>()
  private readonly dialing = new Map<string, Promise<Connection>>()
  private jobHandler?: JobHandler
  private modelProvider?: ModelProvider
  private relayPeerId: string
  private readonly relayAddr: Multiaddr

  constructor (init: NetworkInit) {
    super()
    this.relayAddr = multiaddr(init.relay)
    const relayId = this.relayAddr.getComponents().find(c => c.name === 'p2p')?.value
    if (relayId == null) throw new InvalidMessageError(`relay address must end with /p2p/<peer id>: ${init.relay}`)
    this.relayPeerId = relayId
    this.init = {
      privateKey: init.privateKey,
      relay: init.relay,
      allowLocal: init.allowLocal ?? isLocalAddr(init.relay),
      discoveryInterval: init.discoveryInterval ?? DEFAULT_DISCOVERY_INTERVAL_MS,
      dialTimeout: init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT_MS
    }
  }

  get peerId (): string {
    if (this.node == null) throw new NotStartedError('network is not started')
    return this.node.peerId.toString()
  }

  get started (): boolean { return this.node != null }

  /** Multiaddrs this peer is reachable on (circuit + webrtc once the relay reservation holds). */
  getMultiaddrs (): string[] {
    return this.node?.getMultiaddrs().map(String) ?? []
  }

  async start (options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.node != null) return
    const node = await createPeerLibp2p({
      privateKey: this.init.privateKey,
      allowLocal: this.init.allowLocal,
      discoveryInterval: this.init.discoveryInterval
    })
    this.node = node
    node.addEventListener('peer:discovery', (evt) => { this.onDiscovery(evt.detail.id.toString(), evt.detail.multiaddrs) })
    node.addEventListener('connection:open', (evt) => { this.touch(evt.detail.remotePeer.toString()) })
    node.addEventListener('connection:close', (evt) => { this.touch(evt.detail.remotePeer.toString()) })
    node.addEventListener('self:peer:update', () => {
      this.safeDispatch('network:relay', { connected: this.relayConnected(), addresses: this.getMultiaddrs() })
    })
    node.services.pubsub.addEventListener('message', (evt) => {
      if (evt.detail.topic === OBSERVATION_TOPIC) {
        try {
          const message = decodeObservationMessage(evt.detail.data, MAX_OBSERVATION_BYTES)
          const from = evt.detail.type === 'signed' ? evt.detail.from.toString() : ''
          this.safeDispatch('network:observation', { from, message })
        } catch (err) {
          log('dropping bad observation: %s', (err as Error).message)
        }
        return
      }
      if (evt.detail.topic !== ANNOUNCE_TOPIC) return
      try {
        const a = decodeAnnouncement(evt.detail.data, MAX_ANNOUNCE_BYTES)
        // gossipsub signs messages: only accept an announcement about its author
        if (evt.detail.type !== 'signed' || evt.detail.from.toString() !== a.peerId) return
        if (a.peerId === this.peerId) return
        const p = this.ensurePeer(a.peerId)
        p.announcement = a
        p.lastSeen = Date.now()
        this.safeDispatch('network:announcement', a)
        this.emitPeers()
      } catch (err) {
        log('dropping bad announcement: %s', (err as Error).message)
      }
    })
    node.services.pubsub.subscribe(ANNOUNCE_TOPIC)
    node.services.pubsub.subscribe(OBSERVATION_TOPIC)

    await node.handle(JOB_PROTOCOL, async (stream, connection) => { await this.onJobStream(stream, connection) }, { maxInboundStreams: 8 })
    await node.handle(MODEL_PROTOCOL, async (stream, connection) => { await this.onModelStream(stream, connection) }, { maxInboundStreams: 4 })

    await node.start()
    await this.connectRelay(options)
  }

  async stop (): Promise<void> {
    const node = this.node
    this.node = undefined
    this.peers.clear()
    if (node != null) await node.stop()
  }

  /** Dials the relay and waits for a `/p2p-circuit/webrtc` address (the relay reservation). */
  async connectRelay (options: { signal?: AbortSignal } = {}): Promise<void> {
    const node = this.requireNode()
    const signal = withTimeout(options.signal, this.init.dialTimeout)
    try {
      await node.dial(this.relayAddr, { signal })
      await new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (node.getMultiaddrs().some(a => a.toString().includes('/p2p-circuit/webrtc'))) {
            node.removeEventListener('self:peer:update', check)
            resolve()
          }
        }
        node.addEventListener('self:peer:update', check)
        signal.addEventListener('abort', () => { node.removeEventListener('self:peer:update', check); reject(signal.reason) }, { once: true })
        check()
      })
    } catch (err) {
      throw wrapAbort(err, signal, `joining relay ${this.init.relay}`)
    }
    this.safeDispatch('network:relay', { connected: true, addresses: this.getMultiaddrs() })
  }

  relayConnected (): boolean {
    return this.node?.getConnections().some(c => c.remotePeer.toString() === this.relayPeerId && c.status === 'open') ?? false
  }

  /** Publishes this peer's capabilities on the announce topic. */
  async announce (a: Omit<Announcement, 'peerId' | 'at'>): Promise<void> {
    const node = this.requireNode()
    const msg = encodeAnnouncement({ ...a, peerId: this.peerId, at: Date.now() })
    try {
      await node.services.pubsub.publish(ANNOUNCE_TOPIC, msg)
    } catch (err) {
      log('announce failed: %s', (err as Error).message)
    }
  }

  /** Shares a reputation observation; false when it is over the size limit and was not sent. */
  async publishObservation (message: ObservationMessage): Promise<boolean> {
    const node = this.requireNode()
    const bytes = encodeObservationMessage(message)
    if (bytes.byteLength > MAX_OBSERVATION_BYTES) return false
    try {
      await node.services.pubsub.publish(OBSERVATION_TOPIC, bytes)
      return true
    } catch (err) {
      log('sharing an observation failed: %s', (err as Error).message)
      return false
    }
  }

  /** Peers seen (announced or connected), with their link state. Excludes the relay. */
  getPeers (): PeerState[] {
    const node = this.node
    if (node == null) return []
    for (const c of node.getConnections()) this.ensurePeer(c.remotePeer.toString())
    return [...this.peers.values()].filter(p => p.peerId !== this.relayPeerId).map(p => this.refresh(p))
  }

  /** Peers that announced themselves as contributors, seen within `maxAgeMs`. */
  getContributors (maxAgeMs = 60_000, now = Date.now()): PeerState[] {
    return this.getPeers().filter(p => p.announcement != null && now - p.lastSeen <= maxAgeMs)
  }

  /** Open connections, for diagnostics and tests. */
  getConnections (): Array<{ peerId: string, remoteAddr: string, limited: boolean, multiplexer?: string, direct: boolean }> {
    return (this.node?.getConnections() ?? []).map(c => ({
      peerId: c.remotePeer.toString(),
      remoteAddr: c.remoteAddr.toString(),
      limited: c.limits != null,
      multiplexer: c.multiplexer,
      direct: isDirect(c)
    }))
  }

  onJob (handler: JobHandler): void { this.jobHandler = handler }
  serveModels (provider: ModelProvider): void { this.modelProvider = provider }

  /** Returns a direct WebRTC connection to `peerId`, dialling one through the relay's signalling if needed. */
  async ensureDirect (peerId: string, options: { signal?: AbortSignal } = {}): Promise<Connection> {
    const node = this.requireNode()
    const existing = node.getConnections(peerIdFromString(peerId)).find(isDirect)
    if (existing != null) return existing
    let pending = this.dialing.get(peerId)
    if (pending == null) {
      const addr = this.relayAddr.encapsulate(`/p2p-circuit/webrtc/p2p/${peerId}`)
      const signal = withTimeout(options.signal, this.init.dialTimeout)
      pending = (async () => {
        try {
          // force: an existing relayed (limited) connection must not satisfy this dial
          const c = await node.dial(addr, { signal, force: true })
          if (isDirect(c)) return c
        } catch (err) {
          // the other side may be dialling us at the same moment: its link counts too
          const c = node.getConnections(peerIdFromString(peerId)).find(isDirect)
          if (c != null) return c
          if (signal.aborted) throw wrapAbort(err, signal, `dialling ${peerId}`)
          log('direct dial to %s failed, waiting for its own dial: %s', peerId, (err as Error).message)
        }
        return await this.waitForDirect(peerId, signal)
      })().finally(() => { this.dialing.delete(peerId) })
      this.dialing.set(peerId, pending)
    }
    const c = await pending
    this.touch(peerId)
    return c
  }

  private async waitForDirect (peerId: string, signal: AbortSignal): Promise<Connection> {
    const node = this.requireNode()
    const found = node.getConnections(peerIdFromString(peerId)).find(isDirect)
    if (found != null) return found
    return await new Promise<Connection>((resolve, reject) => {
      const onOpen = (evt: CustomEvent<Connection>): void => {
        if (evt.detail.remotePeer.toString() === peerId && isDirect(evt.detail)) { cleanup(); resolve(evt.detail) }
      }
      const onAbort = (): void => { cleanup(); reject(wrapAbort(new JobRejectedError(`no direct connection to ${peerId}`), signal, `dialling ${peerId}`)) }
      const cleanup = (): void => { node.removeEventListener('connection:open', onOpen); signal.removeEventListener('abort', onAbort) }
      node.addEventListener('connection:open', onOpen)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /**
   * Sends a job to a peer over a direct connection and waits for its response.
   * A link that fails before the request is written (typically a peer that
   * reloaded: its old WebRTC connection is not yet known to be dead) is closed
   * and the job is sent once more over a fresh link.
   */
  async requestJob (peerId: string, req: JobRequest, options: { signal?: AbortSignal, timeout?: number } = {}): Promise<JobResponse> {
    const signal = withTimeout(options.signal, options.timeout ?? DEFAULT_JOB_TIMEOUT_MS)
    for (let attempt = 0; ; attempt++) {
      let stream: Stream | undefined
      let conn: Connection | undefined
      let written = false
      try {
        conn = await this.ensureDirect(peerId, { signal })
        stream = await conn.newStream(JOB_PROTOCOL, { signal: withTimeout(signal, 10_000) })
        const lp = lpStream(stream, { maxDataLength: MAX_JOB_RESPONSE_BYTES })
        await lp.write(encodeJobRequest(req), { signal })
        written = true
        const bytes = await lp.read({ signal })
        const res = decodeJobResponse(bytes.subarray(), MAX_JOB_RESPONSE_BYTES)
        if (res.jobId !== req.jobId) throw new InvalidMessageError(`response names job ${res.jobId}, expected ${req.jobId}`)
        await stream.close({ signal }).catch(() => {})
        return res
      } catch (err) {
        stream?.abort(err instanceof Error ? err : new Error(String(err)))
        if (!signal.aborted && !written && conn != null && attempt === 0) {
          log('link to %s failed (%s), redialling', peerId, (err as Error)?.message)
          conn.abort(err instanceof Error ? err : new Error(String(err)))
          continue
        }
        throw wrapAbort(err, signal, `job ${req.jobId.slice(0, 8)} on ${peerId}`)
      }
    }
  }

  /** Fetches model bytes from a peer in chunks, checking size and sha256. */
  async fetchModel (peerId: string, sha256: string, options: { signal?: AbortSignal, onProgress?: (p: ModelFetchProgress) => void, timeout?: number } = {}): Promise<Uint8Array> {
    const signal = withTimeout(options.signal, options.timeout ?? 120_000)
    let stream: Stream | undefined
    try {
      const conn = await this.ensureDirect(peerId, { signal })
      stream = await conn.newStream(MODEL_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MODEL_CHUNK_BYTES + MAX_MODEL_CONTROL_BYTES })
      await lp.write(encodeModelRequest(sha256), { signal })
      const header = decodeModelHeader((await lp.read({ signal })).subarray(), MAX_MODEL_CONTROL_BYTES, MAX_MODEL_BYTES)
      if (header.type === 'error') throw new ModelNotFoundError(`${peerId} cannot serve model ${sha256.slice(0, 12)}: ${header.error.message}`)
      if (header.sha256 !== sha256) throw new InvalidMessageError('model header names another model')
      const bytes = new Uint8Array(header.size)
      let loaded = 0
      for (let i = 0; i < header.chunks; i++) {
        const chunk = (await lp.read({ signal })).subarray()
        if (loaded + chunk.byteLength > header.size) throw new InvalidMessageError('model stream is longer than announced')
        bytes.set(chunk, loaded)
        loaded += chunk.byteLength
        options.onProgress?.({ sha256, loaded, total: header.size })
      }
      if (loaded !== header.size) throw new InvalidMessageError(`model stream ended at ${loaded} of ${header.size} bytes`)
      if (sha256Hex(bytes) !== sha256) throw new HashMismatchError(`model from ${peerId} does not hash to ${sha256}`)
      await stream.close({ signal }).catch(() => {})
      return bytes
    } catch (err) {
      stream?.abort(err as Error)
      throw wrapAbort(err, signal, `fetching model ${sha256.slice(0, 12)} from ${peerId}`)
    }
  }

  private async onJobStream (stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    const controller = new AbortController()
    const signal = withTimeout(controller.signal, DEFAULT_JOB_TIMEOUT_MS * 4)
    const lp = lpStream(stream, { maxDataLength: MAX_JOB_REQUEST_BYTES })
    let jobId = '0'.repeat(64)
    try {
      const req = decodeJobRequest((await lp.read({ signal })).subarray(), MAX_JOB_REQUEST_BYTES)
      jobId = req.jobId
      if (this.jobHandler == null) throw new JobRejectedError('this peer does not take jobs')
      const res = await this.jobHandler(req, { from, signal })
      await lp.write(encodeJobResponse(res), { signal })
      await stream.close({ signal })
    } catch (err: any) {
      log('job from %s failed: %s', from, err?.message)
      try {
        await lp.write(encodeJobResponse({ type: 'error', jobId, error: { name: String(err?.name ?? 'Error'), message: String(err?.message ?? err) } }), { signal })
        await stream.close({ signal })
      } catch {
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    } finally {
      controller.abort()
    }
  }

  private async onModelStream (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(120_000)
    const lp = lpStream(stream, { maxDataLength: MAX_MODEL_CONTROL_BYTES })
    try {
      const req = decodeModelRequest((await lp.read({ signal })).subarray(), MAX_MODEL_CONTROL_BYTES)
      const bytes = await this.modelProvider?.(req.sha256)
      if (bytes == null) {
        await lp.write(encodeModelHeader({ type: 'error', error: { name: 'ModelNotFoundError', message: 'not held here' } }), { signal })
      } else {
        const chunks = Math.ceil(bytes.byteLength / MODEL_CHUNK_BYTES)
        await lp.write(encodeModelHeader({ type: 'model', sha256: req.sha256, size: bytes.byteLength, chunks }), { signal })
        for (let i = 0; i < chunks; i++) {
          await lp.write(bytes.subarray(i * MODEL_CHUNK_BYTES, (i + 1) * MODEL_CHUNK_BYTES), { signal })
        }
      }
      await stream.close({ signal })
    } catch (err) {
      log('model stream from %s failed: %s', connection.remotePeer.toString(), (err as Error).message)
      stream.abort(err as Error)
    }
  }

  private onDiscovery (peerId: string, addrs: Multiaddr[]): void {
    if (this.node == null || peerId === this.relayPeerId) return
    const p = this.ensurePeer(peerId)
    p.lastSeen = Date.now()
    this.emitPeers()
    // Both sides discover each other; only the lower id dials, so one link forms.
    if (this.peerId < peerId && addrs.some(a => a.toString().includes('/webrtc'))) {
      this.ensureDirect(peerId).catch((err) => { log('direct dial to %s failed: %s', peerId, err.message) })
    }
  }

  private ensurePeer (peerId: string): PeerState {
    let p = this.peers.get(peerId)
    if (p == null) {
      p = { peerId, direct: false, relayed: false, remoteAddrs: [], lastSeen: Date.now() }
      this.peers.set(peerId, p)
    }
    return p
  }

  private refresh (p: PeerState): PeerState {
    const conns = this.node?.getConnections(peerIdFromString(p.peerId)) ?? []
    p.direct = conns.some(isDirect)
    p.relayed = !p.direct && conns.some(c => c.status === 'open')
    p.remoteAddrs = conns.map(c => c.remoteAddr.toString())
    return p
  }

  private touch (peerId: string): void {
    if (peerId === this.relayPeerId) {
      this.safeDispatch('network:relay', { connected: this.relayConnected(), addresses: this.getMultiaddrs() })
      return
    }
    this.ensurePeer(peerId)
    this.emitPeers()
  }

  private emitPeers (): void {
    this.safeDispatch('network:peers', this.getPeers())
  }

  private safeDispatch<K extends keyof NetworkEvents>(type: K, detail: NetworkEvents[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }

  private requireNode (): PeerLibp2p {
    if (this.node == null) throw new NotStartedError('network is not started')
    return this.node
  }
}
