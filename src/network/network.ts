/**
 * The Crosscheck network, one facade over services that each own one concern
 * (js-libp2p style: components in, idempotent start/stop):
 *
 * - `RelayManager` (relays.ts): dials every relay, redials with backoff, tells
 *   whether a reservation is held (`reachable()`);
 * - `DirectLinks` (links.ts): one direct WebRTC link per peer, signalled
 *   through a relay; closes the relayed connection once the link is up;
 * - `PeerDirectory` (directory.ts): who is out there, every entry expiring;
 * - `Gossip` (gossip.ts): announcement and observation topics;
 * - `JobProtocol`, `ModelProtocol` (protocols/): request/response over direct
 *   links only; the relay never carries jobs or models.
 *
 * @example
 * ```ts
 * const network = new Network({ privateKey, relays: ['/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3…'] })
 * network.onJob(async (req, { from, signal }) => await worker.run(req, { signal }))
 * network.serveModels(async (sha256) => await store.getModelBytes(sha256))
 * network.addEventListener('network:relay', (evt) => render(evt.detail))
 * await network.start({ signal })       // resolves once a relay reservation is held
 * await network.announce({ models, numericClass, backend, threads, jobsDone, runtime: 'ort-web', paused: false })
 * const res = await network.requestJob(peerId, req, { signal })
 * await network.stop()
 * ```
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { TypedEventEmitter, start as startAll, stop as stopAll } from '@libp2p/interface'
import type { Connection, PeerInfo, PrivateKey } from '@libp2p/interface'
import { NotStartedError } from '../errors.js'
import type { AbortOptions } from '../abort.js'
import { createPeerLibp2p } from './libp2p.js'
import type { PeerLibp2p } from './libp2p.js'
import type { Announcement, JobRequest, JobResponse, ObservationMessage } from './codec.js'
import { DEFAULT_ANNOUNCEMENT_TTL_MS, DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_DISCOVERY_INTERVAL_MS } from './constants.js'
import { PeerDirectory } from './directory.js'
import type { DirectoryEntry } from './directory.js'
import { Gossip } from './gossip.js'
import type { ObservationEvent } from './gossip.js'
import { DirectLinks, isDirect } from './links.js'
import { RelayManager, parseRelays } from './relays.js'
import type { RelayChange, RelayStatus } from './relays.js'
import { jobProtocol } from './protocols/job/index.js'
import type { JobHandler, JobProtocol, JobProtocolInit, JobRequestOptions } from './protocols/job/index.js'
import { modelProtocol } from './protocols/model/index.js'
import type { ModelFetchOptions, ModelProtocol, ModelProtocolInit, ModelProvider, ModelUploadProgress } from './protocols/model/index.js'

export type { JobContext, JobHandler, JobRequestOptions } from './protocols/job/index.js'
export type { ModelFetchOptions, ModelFetchProgress, ModelProvider, ModelUploadProgress } from './protocols/model/index.js'
export type { RelayChange, RelayStatus } from './relays.js'
export type { ObservationEvent } from './gossip.js'

export interface NetworkInit {
  /** libp2p identity (persisted by the caller). */
  privateKey: PrivateKey
  /** Relay multiaddrs, each including `/p2p/<relay id>`; all are dialled. */
  relays?: string | string[]
  /** @deprecated a single relay: use `relays`. */
  relay?: string
  /**
   * Allow ws:// and loopback/private addresses.
   * @default true when every relay address is loopback or private
   */
  allowLocal?: boolean
  /** Pubsub peer discovery interval (ms). @default 5000 */
  discoveryInterval?: number
  /** One direct dial, and joining the relays at start (ms). @default 20000 */
  dialTimeout?: number
  /**
   * How long an announcement counts, and how long a peer nothing was heard
   * from stays in the directory (ms). Keep it at ~3 announce intervals.
   * @default 15000
   */
  announcementTtl?: number
  /** First wait before redialling a dropped relay (ms). @default 1000 */
  relayBackoffInitial?: number
  /** Longest wait between relay redials (ms). @default 30000 */
  relayBackoffMax?: number
  /** Job protocol options (timeouts, stream limits). */
  job?: JobProtocolInit
  /** Model protocol options (timeouts, size limit, upload progress step). */
  model?: ModelProtocolInit
}

export interface PeerState {
  peerId: string
  /** True when a direct (WebRTC) connection is open. */
  direct: boolean
  /** True when only a relayed (limited) connection is open. */
  relayed: boolean
  remoteAddrs: string[]
  /** The peer's current announcement (dropped once older than the announcement TTL). */
  announcement?: Announcement
  /** Local time of the last announcement, discovery or connection event. */
  lastSeen: number
}

export interface ConnectionInfo {
  peerId: string
  remoteAddr: string
  limited: boolean
  multiplexer?: string
  direct: boolean
  /** Streams open on this connection now (jobs, model transfers, gossip, identify). */
  streams: number
}

/** What `announce()` takes: the announcement less what the network fills in. */
export type AnnounceInit = Omit<Announcement, 'peerId' | 'at' | 'paused'> & {
  /** @default false */
  paused?: boolean
}

export interface NetworkEvents {
  /** The peer list changed (joined, linked, announced, expired, left). */
  'network:peers': CustomEvent<PeerState[]>
  /** Another peer announced itself (its own signed announcement). */
  'network:announcement': CustomEvent<Announcement>
  /** A relay connected, dropped, or a reservation came or went. */
  'network:relay': CustomEvent<RelayChange>
  /** A reputation observation another peer shared (shape-checked; its signature and evidence are not yet). */
  'network:observation': CustomEvent<ObservationEvent>
  /** A settlement record retracting a receipt, shared on gossip (its signature is not yet checked). */
  'network:retraction': CustomEvent<{ from: string, record: string }>
  /** Serving side of a model transfer: bytes sent so far (throttled, plus a final event). */
  'model:upload': CustomEvent<ModelUploadProgress>
}

interface Parts {
  node: PeerLibp2p
  relays: RelayManager
  links: DirectLinks
  gossip: Gossip
  jobs: JobProtocol
  models: ModelProtocol
  sweep: ReturnType<typeof setInterval>
  detach: () => void
}

function isLocalAddr (addr: string): boolean {
  return /\/ip4\/(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)|\/ip6\/::1\/|\/dns4?\/localhost\//.test(addr)
}

function relayList (init: NetworkInit): string[] {
  const relays = init.relays == null ? [] : Array.isArray(init.relays) ? init.relays : [init.relays]
  return init.relay != null ? [...relays, init.relay] : relays
}

export class Network extends TypedEventEmitter<NetworkEvents> {
  private readonly init: NetworkInit
  private readonly relayAddrs: string[]
  private readonly relayIds: Set<string>
  private readonly allowLocal: boolean
  private readonly directory: PeerDirectory
  private parts?: Parts
  private starting?: Promise<void>
  private jobHandler?: JobHandler
  private modelProvider?: ModelProvider

  constructor (init: NetworkInit) {
    super()
    this.init = init
    this.relayAddrs = relayList(init)
    // validates every address now rather than at start
    this.relayIds = new Set(parseRelays(this.relayAddrs).map(r => r.peerId))
    this.allowLocal = init.allowLocal ?? this.relayAddrs.every(isLocalAddr)
    this.directory = new PeerDirectory({}, { ttl: init.announcementTtl ?? DEFAULT_ANNOUNCEMENT_TTL_MS })
  }

  get peerId (): string {
    return this.requireParts().node.peerId.toString()
  }

  get started (): boolean { return this.parts != null }

  /** Multiaddrs this peer is reachable on (circuit + webrtc once a relay reservation holds). */
  getMultiaddrs (): string[] {
    return this.parts?.node.getMultiaddrs().map(String) ?? []
  }

  /**
   * Starts libp2p and the services, then joins the relays. Resolves once a
   * relay reservation is held; throws (TimeoutError, or the dial error when
   * every relay refused) and stops again otherwise.
   */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.parts != null) return
    // a second start while the first is under way joins it rather than building a second node
    this.starting ??= this.doStart(options).finally(() => { this.starting = undefined })
    await this.starting
  }

  private async doStart (options: AbortOptions): Promise<void> {
    const dialTimeout = this.init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT_MS
    const node = await createPeerLibp2p({
      privateKey: this.init.privateKey,
      allowLocal: this.allowLocal,
      discoveryInterval: this.init.discoveryInterval ?? DEFAULT_DISCOVERY_INTERVAL_MS,
      relayCount: this.relayAddrs.length,
      // the transport only logs a refused reservation: the relay manager must hear of it
      onReservationFailed: (failure) => { this.parts?.relays.reservationFailed(failure) }
    })
    const relays = new RelayManager({ node }, {
      relays: this.relayAddrs,
      dialTimeout,
      backoffInitial: this.init.relayBackoffInitial,
      backoffMax: this.init.relayBackoffMax
    })
    const links = new DirectLinks({ node, routes: (peerId) => this.routes(peerId) }, { dialTimeout })
    const gossip = new Gossip({ pubsub: node.services.pubsub, peerId: node.peerId.toString() })
    const jobs = jobProtocol(this.init.job)({ registrar: node, links })
    const models = modelProtocol(this.init.model)({ registrar: node, links })
    if (this.jobHandler != null) jobs.onJob(this.jobHandler)
    if (this.modelProvider != null) models.serve(this.modelProvider)

    const onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
      const peerId = evt.detail.id.toString()
      if (this.relayIds.has(peerId) || peerId === node.peerId.toString()) return
      const addrs = evt.detail.multiaddrs.map(String)
      this.directory.discovered(peerId, addrs)
      links.discovered(peerId, addrs)
      this.emitPeers()
    }
    const onConnection = (evt: CustomEvent<Connection>): void => {
      const peerId = evt.detail.remotePeer.toString()
      if (this.relayIds.has(peerId)) return
      this.directory.seen(peerId)
      // a peer we no longer reach at all is not offered jobs until it announces again
      if (evt.type === 'connection:close' && !this.isConnected(peerId)) this.directory.departed(peerId)
      this.emitPeers()
    }
    const onAnnouncement = (evt: CustomEvent<Announcement>): void => {
      this.directory.announced(evt.detail)
      // libp2p fires peer:discovery only for peers new to its peer store, so a
      // peer that came back (a reloaded page, a dropped link) would never be
      // dialled again: its announcements, every few seconds, re-trigger the
      // lower-id side's dial (with the links' own backoff)
      if (links.find(evt.detail.peerId) == null) links.discovered(evt.detail.peerId, this.routes(evt.detail.peerId).map(String))
      this.safeDispatchEvent('network:announcement', { detail: evt.detail })
      this.emitPeers()
    }
    const onObservation = (evt: CustomEvent<ObservationEvent>): void => { this.safeDispatchEvent('network:observation', { detail: evt.detail }) }
    const onRetraction = (evt: CustomEvent<{ from: string, record: string }>): void => { this.safeDispatchEvent('network:retraction', { detail: evt.detail }) }
    const onUpload = (evt: CustomEvent<ModelUploadProgress>): void => { this.safeDispatchEvent('model:upload', { detail: evt.detail }) }
    const onRelay = (evt: CustomEvent<RelayChange>): void => { this.safeDispatchEvent('network:relay', { detail: evt.detail }) }
    // every subscription in one list, so attaching and detaching cannot drift apart
    const subscriptions: Array<[EventTarget, string, (evt: CustomEvent<any>) => void]> = [
      [node, 'peer:discovery', onDiscovery],
      [node, 'connection:open', onConnection],
      [node, 'connection:close', onConnection],
      [gossip, 'network:announcement', onAnnouncement],
      [gossip, 'network:observation', onObservation],
      [gossip, 'network:retraction', onRetraction],
      [models, 'model:upload', onUpload],
      [relays, 'network:relay', onRelay]
    ]
    for (const [target, type, handler] of subscriptions) target.addEventListener(type, handler as EventListener)
    const detach = (): void => {
      for (const [target, type, handler] of subscriptions) target.removeEventListener(type, handler as EventListener)
    }

    // expired entries leave the directory even when no event arrives to notice
    const sweepMs = Math.max(1_000, Math.floor(this.directory.ttl / 3))
    const sweep = setInterval(() => {
      const { removed, lapsed } = this.directory.prune(this.isConnected)
      if (removed.length > 0 || lapsed.length > 0) this.emitPeers()
    }, sweepMs)
    this.parts = { node, relays, links, gossip, jobs, models, sweep, detach }
    try {
      await startAll(jobs, models, links)
      await node.start()
      gossip.start()
      await relays.start(options)
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async stop (): Promise<void> {
    const parts = this.parts
    if (parts == null) return
    this.parts = undefined
    clearInterval(parts.sweep)
    parts.detach()
    parts.relays.stop()
    await stopAll(parts.links, parts.jobs, parts.models, parts.gossip)
    this.directory.clear()
    await parts.node.stop()
  }

  /** Some relay is connected (a reservation may not be held yet: see `reachable()`). */
  relayConnected (): boolean {
    return this.parts?.relays.connected() ?? false
  }

  /** Each configured relay: connected, and whether a reservation is held on it. */
  relayStatus (): RelayStatus[] {
    return this.parts?.relays.status() ?? this.relayAddrs.map(addr => ({ addr, connected: false, reserved: false }))
  }

  /** A relay reservation (a `/p2p-circuit/webrtc` address) is held: other peers can reach this one. */
  reachable (): boolean {
    return this.parts?.relays.reachable() ?? false
  }

  /** Publishes this peer's capabilities on the announce topic (failures are logged, not thrown). */
  async announce (a: AnnounceInit): Promise<void> {
    const parts = this.requireParts()
    await parts.gossip.announce({ ...a, paused: a.paused ?? false, peerId: parts.node.peerId.toString(), at: Date.now() })
  }

  /** Shares a reputation observation; false when it is over the size limit or was not sent. */
  /** Shares a signed retraction record; false when it was not sent. */
  async publishRetraction (record: string): Promise<boolean> {
    return await this.requireParts().gossip.publishRetraction(record)
  }

  async publishObservation (message: ObservationMessage): Promise<boolean> {
    return await this.requireParts().gossip.publishObservation(message)
  }

  /** Peers in the directory (announced, discovered or connected, not expired), with their link state. Excludes relays. */
  getPeers (): PeerState[] {
    const parts = this.parts
    if (parts == null) return []
    const self = parts.node.peerId.toString()
    // a connection opened before its event was seen still counts as contact
    for (const c of parts.node.getConnections()) {
      const id = c.remotePeer.toString()
      if (!this.relayIds.has(id) && this.directory.get(id, this.isConnected) == null) this.directory.seen(id)
    }
    return this.directory.entries(this.isConnected).filter(e => e.peerId !== self && !this.relayIds.has(e.peerId)).map(e => this.toState(e))
  }

  /**
   * Peers that may take jobs: a current (unexpired) announcement, not paused.
   * Peers with an open direct link come first, then the freshest announcements.
   */
  getContributors (): PeerState[] {
    const parts = this.parts
    if (parts == null) return []
    const self = parts.node.peerId.toString()
    return this.directory.contributors((id) => parts.links.find(id) != null, this.isConnected)
      .filter(e => e.peerId !== self && !this.relayIds.has(e.peerId))
      .map(e => this.toState(e))
  }

  /** Open connections, for diagnostics and tests. */
  getConnections (): ConnectionInfo[] {
    return (this.parts?.node.getConnections() ?? []).map(c => ({
      peerId: c.remotePeer.toString(),
      remoteAddr: c.remoteAddr.toString(),
      limited: c.limits != null,
      multiplexer: c.multiplexer,
      direct: isDirect(c),
      streams: c.streams.length
    }))
  }

  /** Serves incoming jobs (may be set before start). Until set, jobs are refused with JobRejectedError. */
  onJob (handler: JobHandler): void {
    this.jobHandler = handler
    this.parts?.jobs.onJob(handler)
  }

  /** Serves models to peers (may be set before start). */
  serveModels (provider: ModelProvider): void {
    this.modelProvider = provider
    this.parts?.models.serve(provider)
  }

  /** Returns a direct WebRTC connection to `peerId`, dialling one through a relay's signalling if needed. */
  async ensureDirect (peerId: string, options: AbortOptions = {}): Promise<Connection> {
    return await this.requireParts().links.ensureDirect(peerId, options)
  }

  /**
   * Sends a job to a peer over a direct link and waits for its response
   * (resent once over a fresh link if the old one fails before the request is out).
   */
  async requestJob (peerId: string, req: JobRequest, options: JobRequestOptions = {}): Promise<JobResponse> {
    return await this.requireParts().jobs.request(peerId, req, options)
  }

  /** Fetches model bytes from a peer in chunks, checking size and sha256. */
  async fetchModel (peerId: string, sha256: string, options: ModelFetchOptions = {}): Promise<Uint8Array> {
    return await this.requireParts().models.fetch(peerId, sha256, options)
  }

  /**
   * Where to dial `peerId` over WebRTC, best first: the circuit addresses it
   * was discovered on through relays connected now, then one through each
   * connected relay, then through the others.
   */
  private routes (peerId: string): Multiaddr[] {
    const parts = this.requireParts()
    const suffix = `/p2p/${peerId}`
    const status = parts.relays.status()
    const connected = new Set(status.filter(s => s.connected).map(s => s.addr))
    const relayOf = (addr: string): string | undefined => status.find(s => addr.startsWith(`${s.addr}/p2p-circuit`))?.addr
    const discovered = (this.directory.get(peerId, this.isConnected)?.multiaddrs ?? [])
      .filter(a => a.includes('/p2p-circuit/webrtc'))
      .map(a => (a.endsWith(suffix) ? a : `${a}${suffix}`))
    const viaRelay = status.map(s => `${s.addr}/p2p-circuit/webrtc${suffix}`)
    const ordered = [
      ...discovered.filter(a => connected.has(relayOf(a) ?? '')),
      ...viaRelay.filter(a => connected.has(relayOf(a) ?? '')),
      ...discovered,
      ...viaRelay
    ]
    return [...new Set(ordered)].map(a => multiaddr(a))
  }

  private readonly isConnected = (peerId: string): boolean => {
    const node = this.parts?.node
    if (node == null) return false
    return node.getConnections(peerIdFromString(peerId)).some(c => c.status === 'open')
  }

  private toState (e: DirectoryEntry): PeerState {
    const conns = this.parts?.node.getConnections(peerIdFromString(e.peerId)) ?? []
    const direct = conns.some(isDirect)
    return {
      peerId: e.peerId,
      direct,
      relayed: !direct && conns.some(c => c.status === 'open'),
      remoteAddrs: conns.map(c => c.remoteAddr.toString()),
      ...(e.announcement != null ? { announcement: e.announcement } : {}),
      lastSeen: e.lastSeen
    }
  }

  private emitPeers (): void {
    if (this.parts == null) return
    this.safeDispatchEvent('network:peers', { detail: this.getPeers() })
  }

  private requireParts (): Parts {
    if (this.parts == null) throw new NotStartedError('network is not started')
    return this.parts
  }
}
