/**
 * The browser peer's composition root: storage (IndexedDB), identity,
 * network (libp2p), inference worker and model registry, wired into one
 * `CrosscheckNode` that contributes compute and requests verified jobs.
 */
import { TypedEventTarget } from './events.js'
import { openStore } from './storage/index.js'
import type { Store } from './storage/index.js'
import { Network } from './network/network.js'
import type { PeerState } from './network/network.js'
import { generateIdentity, privateKeyFromBytes, privateKeyToBytes, signerFromPrivateKey } from './network/keys.js'
import { createInferenceWorker } from './inference/worker-client.js'
import type { Capabilities, InferenceWorker } from './inference/worker-client.js'
import { ModelRegistry } from './inference/registry.js'
import { MANIFEST_PATH } from './models/manifest.js'
import type { ModelManifest } from './models/manifest.js'
import { handleJob } from './jobs/worker.js'
import { ReplayGuard } from './consensus/replay.js'
import { requesterDeps } from './jobs/deps.js'
import { Requester } from './jobs/trust.js'
import type { RequesterInit } from './jobs/trust.js'
import type { TrustRecord } from './consensus/reputation.js'
import type { JobProgress, VerifiedJobInit, VerifiedJobResult } from './jobs/requester.js'
import { DEFAULT_ANNOUNCE_INTERVAL_MS } from './network/constants.js'
import { NotStartedError } from './errors.js'
import type { Signer } from './consensus/types.js'
import type { NamedTensors } from './tensor/index.js'


export interface NodeInit {
  /** Relay multiaddr with /p2p/<id>. */
  relay: string
  /** Base URL of the model catalog. @default document base URL */
  catalogBase?: string
  /** IndexedDB database name. @default 'crosscheck' */
  storeName?: string
  /** @default 'auto' */
  preferredBackend?: 'auto' | 'webgpu' | 'wasm'
  /** @default 5000 */
  announceInterval?: number
  /** @default 5000 */
  discoveryInterval?: number
  /** Reputation thresholds and canary rate of this peer as a requester. */
  requester?: RequesterInit
}

export interface NodeStats {
  peerId: string
  relay: string
  relayConnected: boolean
  peers: PeerState[]
  capabilities?: Capabilities
  models: Array<{ sha256: string, size: number, name?: string }>
  jobsDone: number
  /** Model bytes fetched over HTTP or from peers since this page loaded (cache misses). */
  modelDownloads: number
}

export interface NodeEvents {
  'node:state': CustomEvent<NodeStats>
  'model:progress': CustomEvent<{ sha256: string, loaded: number, total: number, source: 'http' | 'peer' }>
  'job:done': CustomEvent<{ jobId: string, from: string, ms: number }>
  'job:progress': CustomEvent<JobProgress>
  'trust:flagged': CustomEvent<{ peerId: string, reason: string }>
  'job:retracted': CustomEvent<{ jobId: string, peerId: string }>
}

export class CrosscheckNode extends TypedEventTarget<NodeEvents> {
  readonly init: NodeInit
  private store?: Store
  private network?: Network
  private worker?: InferenceWorker
  private registry?: ModelRegistry
  private signer?: Signer
  private requester?: Requester
  private capabilities?: Capabilities
  private timer?: ReturnType<typeof setInterval>
  private jobsDone = 0
  private modelDownloads = 0
  private modelsCache: NodeStats['models'] = []

  constructor (init: NodeInit) {
    super()
    this.init = init
  }

  get started (): boolean { return this.network != null }

  async start (options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.network != null) return
    const store = await openStore(this.init.storeName ?? 'crosscheck')
    this.store = store
    let identity = await store.getIdentity()
    const privateKey = identity != null ? privateKeyFromBytes(identity.privateKey) : await generateIdentity()
    if (identity == null) {
      identity = { privateKey: privateKeyToBytes(privateKey), createdAt: Date.now() }
      await store.putIdentity(identity)
    }
    this.signer = signerFromPrivateKey(privateKey)

    this.worker = createInferenceWorker({ preferredBackend: this.init.preferredBackend ?? 'auto' })
    const capsPromise = this.worker.probe({ signal: options.signal })

    const network = new Network({ privateKey, relay: this.init.relay, discoveryInterval: this.init.discoveryInterval })
    this.network = network
    this.registry = new ModelRegistry({ store }, { manifestUrl: new URL(MANIFEST_PATH, this.catalogBase()) })
    this.registry.addEventListener('model:progress', (evt: any) => {
      this.emit('model:progress', { ...evt.detail, source: 'http' })
    })
    network.serveModels(async (sha) => {
      const m = await store.getModel(sha).catch(() => undefined)
      return m != null ? new Uint8Array(m.bytes) : undefined
    })
    const replay = new ReplayGuard()
    network.onJob(async (req, ctx) => {
      const t0 = performance.now()
      const res = await handleJob(req, ctx, {
        signer: this.requireSigner(),
        now: Date.now,
        replay,
        ensureModel: async (hash, from, { signal }) => { await this.ensureModel(hash, from, signal) },
        run: async (hash, inputs, { signal }) => await this.requireWorker().run(hash, inputs, { signal })
      })
      this.jobsDone++
      void store.putJob({ jobId: req.jobId, role: 'worker', modelHash: req.spec.modelHash, inputHash: req.spec.inputHash, startedAt: Date.now() - (performance.now() - t0), finishedAt: Date.now(), status: 'voted', peers: [ctx.from], ms: performance.now() - t0 })
      this.emit('job:done', { jobId: req.jobId, from: ctx.from, ms: performance.now() - t0 })
      this.emitState()
      return res
    })
    network.addEventListener('network:peers', () => { this.emitState() })
    network.addEventListener('network:relay', () => { this.emitState() })
    network.addEventListener('network:observation', (evt) => { void this.requester?.receiveObservation(evt.detail.message) })

    await this.configureRequester(this.init.requester ?? {}, await store.listReputation())
    await this.refreshModels()
    this.capabilities = await capsPromise
    await network.start(options)
    await this.announce()
    this.timer = setInterval(() => { void this.announce() }, this.init.announceInterval ?? DEFAULT_ANNOUNCE_INTERVAL_MS)
    this.emitState()
  }

  async stop (): Promise<void> {
    if (this.timer != null) clearInterval(this.timer)
    this.timer = undefined
    await this.requester?.settled()
    this.requester = undefined
    const network = this.network
    this.network = undefined
    await network?.stop()
    this.worker?.terminate()
    this.worker = undefined
    this.store?.close()
    this.store = undefined
    this.emitState()
  }

  /** The model catalog of the site this page came from (fetched and validated once, by the registry). */
  async getManifest (options: { signal?: AbortSignal } = {}): Promise<ModelManifest> {
    return await this.requireRegistry().manifest(options)
  }

  /** Model bytes by sha256: IndexedDB first (hash re-checked), else the site catalog. */
  async getModelBytes (sha256: string, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const resolved = await this.requireRegistry().resolve(sha256, options)
    if (resolved.source !== 'store') { this.modelDownloads++; await this.refreshModels() }
    return new Uint8Array(resolved.bytes)
  }

  /** Runs a verified job on the network: k random peers, quorum, receipt (stored). */
  async request (init: VerifiedJobInit, options: { signal?: AbortSignal } = {}): Promise<VerifiedJobResult> {
    this.requireNetwork()
    const store = this.store as Store
    await this.getModelBytes(init.modelHash, options) // so workers can fetch it from us
    const result = await this.requireRequester().request(init, { signal: options.signal, onProgress: (p) => { this.emit('job:progress', p) } })
    await store.putReceipt({ jobId: result.jobId, createdAt: Date.now(), modelHash: init.modelHash, text: result.receiptText, status: 'accepted' })
    await store.putJob({ jobId: result.jobId, role: 'requester', modelHash: init.modelHash, inputHash: result.spec.inputHash, startedAt: Date.now() - result.ms, finishedAt: Date.now(), status: 'accepted', peers: result.agreeing, ms: result.ms })
    return result
  }

  /**
   * (Re)creates the requester side with these settings, keeping what the
   * reputation book knows (from storage on first use).
   */
  async configureRequester (init: RequesterInit, records?: TrustRecord[]): Promise<void> {
    const network = this.requireNetwork()
    const store = this.store as Store
    await this.requester?.settled()
    const requester = new Requester({
      deps: requesterDeps(network, this.requireSigner()),
      records: records ?? this.requester?.book.toRecords() ?? [],
      persist: async (list) => { for (const r of list) await store.putReputation(r) },
      share: async (message) => await network.publishObservation(message),
      localRun: async (hash, inputs, options) => await this.runLocal(hash, inputs, options)
    }, init)
    requester.addEventListener('trust:flagged', (evt) => { this.emit('trust:flagged', evt.detail); this.emitState() })
    requester.addEventListener('job:retracted', (evt) => {
      void store.getReceipt(evt.detail.jobId).then(async (r) => { if (r != null) await store.putReceipt({ ...r, status: 'invalid' }) })
      this.emit('job:retracted', evt.detail)
    })
    this.requester = requester
  }

  /** What this peer, as a requester, knows of others. */
  reputation (): TrustRecord[] {
    return this.requester?.book.toRecords() ?? []
  }

  /** Resolves when background canary jobs are done. */
  async settled (): Promise<void> {
    await this.requester?.settled()
  }

  /** Runs a model in this page's own worker, unverified (benchmarks, previews). */
  async runLocal (modelHash: string, inputs: NamedTensors, options: { signal?: AbortSignal } = {}): Promise<{ outputs: NamedTensors, ms: number, numericClass: string }> {
    const worker = this.requireWorker()
    if (!await worker.hasModel(modelHash, options)) {
      const bytes = await this.getModelBytes(modelHash, options)
      await worker.loadModel(modelHash, bytes.slice().buffer, options)
    }
    return await worker.run(modelHash, inputs, { ...options, transfer: false })
  }

  stats (): NodeStats {
    return {
      peerId: this.network?.started === true ? this.network.peerId : '',
      relay: this.init.relay,
      relayConnected: this.network?.relayConnected() ?? false,
      peers: this.network?.getPeers() ?? [],
      capabilities: this.capabilities,
      models: this.modelsCache,
      jobsDone: this.jobsDone,
      modelDownloads: this.modelDownloads
    }
  }

  /** Diagnostics for tests and the status panel. */
  connections (): ReturnType<Network['getConnections']> {
    return this.network?.getConnections() ?? []
  }

  async listJobs (): Promise<Awaited<ReturnType<Store['listJobs']>>> {
    return await (this.store?.listJobs() ?? Promise.resolve([]))
  }

  async listReceipts (): Promise<Awaited<ReturnType<Store['listReceipts']>>> {
    return await (this.store?.listReceipts() ?? Promise.resolve([]))
  }

  private async ensureModel (hash: string, from: string, signal: AbortSignal): Promise<void> {
    const worker = this.requireWorker()
    if (await worker.hasModel(hash, { signal })) return
    const store = this.store as Store
    // the cached copy is re-hashed on read; a corrupt one is purged and fetched again
    const cached = await store.getModel(hash).catch(() => undefined)
    let bytes: ArrayBuffer
    if (cached != null) {
      bytes = cached.bytes
    } else {
      // the requester holds the model it asks for: fetch it peer to peer
      const fetched = await this.requireNetwork().fetchModel(from, hash, {
        signal,
        onProgress: (p) => { this.emit('model:progress', { ...p, source: 'peer' }) }
      })
      this.modelDownloads++
      await store.putModel(fetched)
      await this.refreshModels()
      void this.announce()
      bytes = fetched.slice().buffer
    }
    await worker.loadModel(hash, bytes, { signal })
  }

  private async refreshModels (): Promise<void> {
    const list = await this.store?.listModels() ?? []
    this.modelsCache = list.map(m => ({ sha256: m.sha256, size: m.size, name: m.name }))
    this.emitState()
  }

  private async announce (): Promise<void> {
    const network = this.network
    if (network == null || this.capabilities == null) return
    await network.announce({
      models: this.modelsCache.map(m => m.sha256).slice(0, 64),
      numericClass: this.capabilities.numericClass,
      backend: this.capabilities.backend,
      threads: this.capabilities.threads,
      jobsDone: this.jobsDone
    })
  }

  private catalogBase (): string {
    return this.init.catalogBase ?? (typeof document !== 'undefined' ? document.baseURI : 'http://127.0.0.1/')
  }

  private emitState (): void {
    this.emit('node:state', this.stats())
  }

  private requireNetwork (): Network { if (this.network == null) throw new NotStartedError('node is not started'); return this.network }
  private requireWorker (): InferenceWorker { if (this.worker == null) throw new NotStartedError('node is not started'); return this.worker }
  private requireRegistry (): ModelRegistry { if (this.registry == null) throw new NotStartedError('node is not started'); return this.registry }
  private requireRequester (): Requester { if (this.requester == null) throw new NotStartedError('node is not started'); return this.requester }
  private requireSigner (): Signer { if (this.signer == null) throw new NotStartedError('node is not started'); return this.signer }
}

