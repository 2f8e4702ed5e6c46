/**
 * The Crosscheck network, one facade over services that each own one concern
 * (js-libp2p style: components in, idempotent start/stop). What one peer pays
 * does not grow with the size of the network:
 *
 * - `RelayManager` (relays.ts): joins this peer's home relays (2, by
 *   rendezvous hash of its id), redials with backoff, fails over to the next
 *   relay in its order, tells whether a reservation is held;
 * - `LeaseKeeper` (leases.ts): a contributor's signed lease, put on each home
 *   relay, renewed every 45 s or at once when it changes;
 * - `ReplicaPool` (replica-pool.ts): a requester's sample of the live crowd
 *   (16), asked of its relays on demand and rotated slowly;
 * - `DirectLinks` (links.ts): WebRTC links on demand, at most 16, closed
 *   after 60 s idle, a lifetime budget in browsers;
 * - `Gossip` (gossip.ts): observations and retractions only;
 * - `JobProtocol`, `ModelProtocol` (protocols/): request/response over direct
 *   links only; the relay never carries jobs or models.
 *
 * @example
 * ```ts
 * const network = new Network({ privateKey, relays: ['/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3…'] })
 * network.onJob(async (req, { from, signal }) => await worker.run(req, { signal }))
 * network.serveModels(async (sha256) => await store.getModelBytes(sha256))
 * await network.start({ signal })       // resolves once a relay reservation is held
 * await network.announce({ models, numericClass, backend, threads, jobsDone, runtime: 'ort-web', paused: false })
 * await network.waitForContributors({ signal }) // asks the relays for a sample
 * const res = await network.requestJob(network.getContributors()[0].peerId, req, { signal })
 * await network.stop()
 * ```
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { TypedEventEmitter, start as startAll, stop as stopAll } from '@libp2p/interface'
import type { Connection, PrivateKey } from '@libp2p/interface'
import { NotStartedError } from '../errors.js'
import type { AbortOptions } from '../abort.js'
import { createLogger } from '../logger.js'
import { createPeerLibp2p } from './libp2p.js'
import type { PeerLibp2p } from './libp2p.js'
import { announcementOf } from './codec.js'
import type { Announcement, JobStreamRequest, JobResponse, ObservationMessage } from './codec.js'
import { DEFAULT_DIAL_TIMEOUT_MS } from './constants.js'
import { Gossip } from './gossip.js'
import type { ObservationEvent } from './gossip.js'
import { DirectLinks, isDirect } from './links.js'
import type { LinkInit } from './links.js'
import type { LinkPoolStats } from './link-pool.js'
import { LeaseKeeper, Sampler } from './leases.js'
import type { LeaseInit, LeaseState, SampleStats } from './leases.js'
import { ReplicaPool } from './replica-pool.js'
import type { ReplicaPoolInit } from './replica-pool.js'
import type { Lease } from './lease.js'
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
export type { LeaseState, SampleStats } from './leases.js'
export type { LinkPoolStats } from './link-pool.js'

const log = createLogger('network')

export interface NetworkInit {
  /** libp2p identity (persisted by the caller). */
  privateKey: PrivateKey
  /** Relay multiaddrs, each including `/p2p/<relay id>`. */
  relays?: string | string[]
  /** @deprecated a single relay: use `relays`. */
  relay?: string
  /**
   * Allow ws:// and loopback/private addresses.
   * @default true when every relay address is loopback or private
   */
  allowLocal?: boolean
  /** Relays joined at once (home relays, by rendezvous hash). @default 2 */
  relayFanout?: number
  /** One direct dial, and joining the relays at start (ms). @default 20000 */
  dialTimeout?: number
  /** First wait before redialling a dropped relay (ms). @default 1000 */
  relayBackoffInitial?: number
  /** Longest wait between relay redials (ms). @default 30000 */
  relayBackoffMax?: number
  /** Lease renewal and lifetime. */
  lease?: LeaseInit
  /** The requester's replica pool (size, rotation, refresh). */
  pool?: ReplicaPoolInit
  /**
   * Pool members not to rotate out while they stay live: the requester's
   * established peers (see ReplicaPool). @default () => false
   */
  keepInPool?: (peerId: string) => boolean
  /** Direct link bound, idle close and lifetime budget. */
  links?: Pick<LinkInit, 'maxLinks' | 'idleMs' | 'budget'>
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
  /** The peer's current lease, as its capabilities (pool members only). */
  announcement?: Announcement
  /** Local time this peer was last sampled or linked. */
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

/** What `announce()` takes: the lease less what the network fills in. */
export type AnnounceInit = Omit<Announcement, 'peerId' | 'at' | 'paused'> & {
  /** @default false */
  paused?: boolean
  /** Jobs this peer takes at once. @default 4 */
  slots?: number
}

export interface NetworkEvents {
  /** The pool or the links changed. */
  'network:peers': CustomEvent<PeerState[]>
  /** The lease was accepted by a relay, or lost. */
  'network:lease': CustomEvent<LeaseState>
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
  leases: LeaseKeeper
  sampler: Sampler
  gossip: Gossip
  jobs: JobProtocol
  models: ModelProtocol
  detach: () => void
}

function isLocalAddr (addr: string): boolean {
  return /\/ip4\/(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)|\/ip6\/::1\/|\/dns4?\/localhost\//.test(addr)
}

function relayList (init: NetworkInit): string[] {
  const relays = init.relays == null ? [] : Array.isArray(init.relays) ? init.relays : [init.relays]
  return init.relay != null ? [...relays, init.relay] : relays
}

/** Browsers have a lifetime RTCPeerConnection limit; Node (node-datachannel) has none. */
function defaultLinkBudget (): number {
  return typeof (globalThis as { document?: unknown }).document !== 'undefined' || typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined' ? 450 : Infinity
}

export class Network extends TypedEventEmitter<NetworkEvents> {
  private readonly init: NetworkInit
  private readonly relayAddrs: string[]
  private readonly relayIds: Set<string>
  private readonly allowLocal: boolean
  private parts?: Parts
  private pool?: ReplicaPool
  private starting?: Promise<void>
  private refreshing?: Promise<void>
  private jobHandler?: JobHandler
  private modelProvider?: ModelProvider

  constructor (init: NetworkInit) {
    super()
    this.init = init
    this.relayAddrs = relayList(init)
    // validates every address now rather than at start
    this.relayIds = new Set(parseRelays(this.relayAddrs).map(r => r.peerId))
    this.allowLocal = init.allowLocal ?? this.relayAddrs.every(isLocalAddr)
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
   * Starts libp2p and the services, then joins the home relays. Resolves
   * once a relay reservation is held; throws (TimeoutError, or the dial error
   * when every relay refused) and stops again otherwise.
   */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.parts != null) return
    // a second start while the first is under way joins it rather than building a second node
    this.starting ??= this.doStart(options).finally(() => { this.starting = undefined })
    await this.starting
  }

  private async doStart (options: AbortOptions): Promise<void> {
    const dialTimeout = this.init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT_MS
    const fanout = Math.min(this.relayAddrs.length, this.init.relayFanout ?? 2)
    const node = await createPeerLibp2p({
      privateKey: this.init.privateKey,
      allowLocal: this.allowLocal,
      relayCount: fanout,
      // the transport only logs a refused reservation: the relay manager must hear of it
      onReservationFailed: (failure) => { this.parts?.relays.reservationFailed(failure) }
    })
    const self = node.peerId.toString()
    const relays = new RelayManager({ node, self }, {
      relays: this.relayAddrs,
      fanout,
      dialTimeout,
      backoffInitial: this.init.relayBackoffInitial,
      backoffMax: this.init.relayBackoffMax
    })
    const links = new DirectLinks({ node, routes: (peerId) => this.routes(peerId) }, { dialTimeout, budget: defaultLinkBudget(), ...this.init.links })
    const relayConnections = (): Connection[] => relays.status().filter(s => s.connected).flatMap(s => node.getConnections().filter(c => c.status === 'open' && c.limits == null && s.addr.endsWith(`/p2p/${c.remotePeer.toString()}`)))
    const leases = new LeaseKeeper({ privateKey: this.init.privateKey, peerId: self, connections: relayConnections, addrs: () => node.getMultiaddrs().map(String).filter(a => a.includes('/p2p-circuit/webrtc')), budgetLeft: () => links.budgetLeft() }, this.init.lease)
    const sampler = new Sampler({ peerId: self, connections: relayConnections })
    this.pool = new ReplicaPool({ rng: Math.random, now: Date.now, rotationDelay: (b) => links.rotationDelay(b), budgetLeft: () => links.budgetLeft(), keep: this.init.keepInPool }, this.init.pool)
    const gossip = new Gossip({ pubsub: node.services.pubsub, peerId: self })
    const jobs = jobProtocol(this.init.job)({ registrar: node, links })
    const models = modelProtocol(this.init.model)({ registrar: node, links })
    if (this.jobHandler != null) jobs.onJob(this.jobHandler)
    if (this.modelProvider != null) models.serve(this.modelProvider)

    const onConnection = (evt: CustomEvent<Connection>): void => {
      if (this.relayIds.has(evt.detail.remotePeer.toString())) return
      if (isDirect(evt.detail) || evt.type === 'connection:close') this.emitPeers()
    }
    const onObservation = (evt: CustomEvent<ObservationEvent>): void => { this.safeDispatchEvent('network:observation', { detail: evt.detail }) }
    const onRetraction = (evt: CustomEvent<{ from: string, record: string }>): void => { this.safeDispatchEvent('network:retraction', { detail: evt.detail }) }
    const onUpload = (evt: CustomEvent<ModelUploadProgress>): void => { this.safeDispatchEvent('model:upload', { detail: evt.detail }) }
    const onRelay = (evt: CustomEvent<RelayChange>): void => {
      leases.relaysChanged()
      this.safeDispatchEvent('network:relay', { detail: evt.detail })
    }
    const onLease = (evt: CustomEvent<LeaseState>): void => { this.safeDispatchEvent('network:lease', { detail: evt.detail }) }
    // every subscription in one list, so attaching and detaching cannot drift apart
    const subscriptions: Array<[EventTarget, string, (evt: CustomEvent<any>) => void]> = [
      [node, 'connection:open', onConnection],
      [node, 'connection:close', onConnection],
      [gossip, 'network:observation', onObservation],
      [gossip, 'network:retraction', onRetraction],
      [models, 'model:upload', onUpload],
      [relays, 'network:relay', onRelay],
      [leases, 'network:lease', onLease]
    ]
    for (const [target, type, handler] of subscriptions) target.addEventListener(type, handler as EventListener)
    const detach = (): void => {
      for (const [target, type, handler] of subscriptions) target.removeEventListener(type, handler as EventListener)
    }

    this.parts = { node, relays, links, leases, sampler, gossip, jobs, models, detach }
    try {
      await startAll(jobs, models, links)
      await node.start()
      gossip.start()
      await relays.start(options)
      leases.start()
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async stop (): Promise<void> {
    const parts = this.parts
    if (parts == null) return
    this.parts = undefined
    parts.detach()
    // takes the lease back at once (best effort): requesters stop drawing this peer now, not at its expiry
    await parts.leases.leave().catch(() => {})
    parts.relays.stop()
    await stopAll(parts.leases, parts.links, parts.jobs, parts.models, parts.gossip)
    this.pool?.clear()
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

  /** This peer's lease: whether a relay holds it now, so requesters can sample this peer. */
  leaseState (): LeaseState {
    return this.parts?.leases.state() ?? { held: false, relays: [], seq: 0 }
  }

  /**
   * Sets this peer's capabilities as a contributor: the lease is signed and
   * put on its home relays at once when something requesters care about
   * changed (and renewed every 45 s otherwise). Resolves when the relays
   * answered (failures are logged and retried at the next renewal).
   */
  async announce (a: AnnounceInit): Promise<void> {
    const parts = this.requireParts()
    await parts.leases.set({ ...a, paused: a.paused ?? false, peerId: parts.node.peerId.toString(), at: Date.now(), slots: a.slots ?? 4 })
  }

  /** Shares a signed retraction record; false when it was not sent. */
  async publishRetraction (record: string): Promise<boolean> {
    return await this.requireParts().gossip.publishRetraction(record)
  }

  /** Shares a reputation observation; false when it is over the size limit or was not sent. */
  async publishObservation (message: ObservationMessage): Promise<boolean> {
    return await this.requireParts().gossip.publishObservation(message)
  }

  /** Peers this peer knows now: its replica pool and its direct links. Excludes relays. */
  getPeers (): PeerState[] {
    const parts = this.parts
    if (parts == null) return []
    const self = parts.node.peerId.toString()
    const ids = new Set([...(this.pool?.ids() ?? []), ...parts.node.getConnections().filter(isDirect).map(c => c.remotePeer.toString())])
    return [...ids].filter(id => id !== self && !this.relayIds.has(id)).map(id => this.toState(id, this.pool?.get(id)))
  }

  /**
   * Contributors a requester may draw replicas from: its replica pool, a
   * random sample of the live crowd (leases checked, not paused, free slots).
   * Asks the relays for a fresh sample in the background when the pool is
   * stale; `waitForContributors` waits for one.
   */
  getContributors (): PeerState[] {
    const pool = this.pool
    if (this.parts == null || pool == null) return []
    if (pool.stale()) void this.refreshPool().catch(() => {})
    return pool.members().map(l => this.toState(l.peerId, l))
  }

  /**
   * Before a draw: brings the pool up to date when it is stale. An empty
   * pool is asked every time; an under-full one (a crowd smaller than the
   * pool) once its sample is `underFullRefreshMs` (1 s) old, so newcomers
   * show up within a second while a requester running many jobs a second
   * asks the relays about once a second, not once per job; a full pool once
   * it is `refreshMs` (10 s) old. A peer that paused or left meanwhile
   * answers PeerPausedError (or fails to link) and is replaced without
   * blame. A failed sample leaves the pool as it was.
   */
  async refreshIfStale (options: AbortOptions = {}): Promise<void> {
    if (this.pool?.stale() !== true) return
    await this.refreshPool(options)
  }

  /** Asks the relays for a fresh sample now; resolves once they answered (or failed). */
  async waitForContributors (options: AbortOptions = {}): Promise<void> {
    const before = this.pool?.ids().join() ?? ''
    await this.refreshPool(options)
    // nothing new: do not let a caller's loop spin on the relays
    if ((this.pool?.ids().join() ?? '') === before) await sleep(1_000, options.signal)
  }

  /** Peers holding `sha256` (their lease lists it), asked of the relays: at most `count`, random. */
  async findHolders (sha256: string, options: AbortOptions & { count?: number } = {}): Promise<string[]> {
    const parts = this.requireParts()
    const { leases } = await parts.sampler.sample({ count: options.count ?? 8, model: sha256, exclude: [], renew: [] }, options)
    return leases.map(l => l.peerId)
  }

  /** The last sample: asked, got, per-relay totals, and whether it looked too small or skewed. */
  sampleStats (): SampleStats | undefined {
    return this.parts?.sampler.lastStats()
  }

  /** Direct links: open, created in this peer's life, budget left, and the pool's rotations. */
  linkStats (): LinkPoolStats & { poolSize: number, rotations: number } {
    const s = this.parts?.links.stats() ?? { links: 0, created: 0, budgetLeft: Infinity, maxLinks: this.init.links?.maxLinks ?? 16 }
    return { ...s, poolSize: this.pool?.ids().length ?? 0, rotations: this.pool?.rotated ?? 0 }
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
   * (resent once over a fresh link if the old one fails before the request is
   * out). A peer that cannot be linked leaves the replica pool.
   */
  async requestJob (peerId: string, req: JobStreamRequest, options: JobRequestOptions = {}): Promise<JobResponse> {
    const parts = this.requireParts()
    try {
      return await parts.jobs.request(peerId, req, options)
    } catch (err) {
      if (parts.links.find(peerId) == null && options.signal?.aborted !== true) {
        this.pool?.remove(peerId)
        this.emitPeers()
      }
      throw err
    } finally {
      parts.links.touch(peerId)
    }
  }

  /** Fetches model bytes from one peer in chunks, checking each chunk and the whole (see `fetchModelFrom`). */
  async fetchModel (peerId: string, sha256: string, options: ModelFetchOptions = {}): Promise<Uint8Array> {
    return await this.fetchModelFrom([peerId], sha256, options)
  }

  /**
   * Fetches a model from several holders at once (up to `model.maxHolders`,
   * 4, the rest spares, best first), each chunk and the whole checked. A
   * holder that errors or sends a chunk that does not hash is dropped and its
   * chunks go to the others. Throws (HashMismatchError, ModelTooLargeError,
   * InvalidMessageError, ModelNotFoundError, TimeoutError, AbortError) only
   * when no holder is left.
   */
  async fetchModelFrom (peers: string[], sha256: string, options: ModelFetchOptions = {}): Promise<Uint8Array> {
    const parts = this.requireParts()
    try {
      return await parts.models.fetchFrom(peers, sha256, options)
    } finally {
      for (const peerId of peers) parts.links.touch(peerId)
    }
  }

  /** One sample round for the pool (concurrent callers share it). */
  private async refreshPool (options: AbortOptions = {}): Promise<void> {
    const parts = this.parts
    const pool = this.pool
    if (parts == null || pool == null) return
    this.refreshing ??= (async () => {
      const asked = pool.ids()
      const { leases, renewed } = await parts.sampler.sample({ count: pool.size, exclude: asked, renew: asked }, options)
      const change = pool.offer(leases, { renewed, asked })
      for (const id of change.removed) parts.links.release(id)
      if (change.added.length > 0 || change.removed.length > 0) this.emitPeers()
    })().catch((err: Error) => {
      log('sampling the relays failed: %s', err.message)
    }).finally(() => { this.refreshing = undefined })
    await this.refreshing
  }

  /**
   * Where to dial `peerId` over WebRTC, best first: the circuit addresses its
   * lease lists through relays connected now, then through each connected
   * relay, then the others.
   */
  private routes (peerId: string): Multiaddr[] {
    const parts = this.requireParts()
    const suffix = `/p2p/${peerId}`
    const status = parts.relays.status()
    const connected = new Set(status.filter(s => s.connected).map(s => s.addr))
    const relayOf = (addr: string): string | undefined => status.find(s => addr.startsWith(`${s.addr}/p2p-circuit`))?.addr
    const leased = (this.pool?.get(peerId)?.addrs ?? [])
      .filter(a => a.includes('/p2p-circuit/webrtc'))
      .map(a => (a.endsWith(suffix) ? a : `${a}${suffix}`))
    const viaRelay = status.filter(s => s.connected).map(s => `${s.addr}/p2p-circuit/webrtc${suffix}`)
    const ordered = [
      ...leased.filter(a => connected.has(relayOf(a) ?? '')),
      ...viaRelay,
      ...leased
    ]
    return [...new Set(ordered)].map(a => multiaddr(a))
  }

  private toState (peerId: string, lease: Lease | undefined): PeerState {
    const conns = this.parts?.node.getConnections(peerIdFromString(peerId)) ?? []
    const direct = conns.some(isDirect)
    const announcement = lease != null ? announcementOf(lease) : undefined
    return {
      peerId,
      direct,
      relayed: !direct && conns.some(c => c.status === 'open'),
      remoteAddrs: conns.map(c => c.remoteAddr.toString()),
      ...(announcement != null ? { announcement } : {}),
      lastSeen: Date.now()
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

async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => {
    const t = setTimeout(done, ms)
    function done (): void { clearTimeout(t); signal?.removeEventListener('abort', done); resolve() }
    signal?.addEventListener('abort', done, { once: true })
  })
}
