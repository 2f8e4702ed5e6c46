/**
 * The composition core: one Crosscheck node built from the parts it is given
 * (store, inference runtime, model catalog, identity lock). Every surface —
 * the page, the widget frame, the extension's offscreen document, the CLI and
 * the library entries — is a thin shell that picks those parts and calls this.
 *
 * A node both contributes (takes jobs from requesters, unless paused or built
 * with `contribute: false`) and requests (`run`: a verified job with a receipt).
 */
import type { AbortOptions } from '../abort.js'
import { TypedEventTarget } from '../events.js'
import { createLogger } from '../logger.js'
import { AbortError, IdentityLockedError, InferenceError, InvalidArgumentError, NotStartedError, PeerPausedError, throwIfAborted } from '../errors.js'
import { Network } from '../network/network.js'
import type { LeaseState, ModelFetchOptions, NetworkInit, PeerState, SampleStats } from '../network/network.js'
import { generateIdentity, privateKeyFromBytes, privateKeyToBytes, signerFromPrivateKey } from '../network/keys.js'
import { ModelRegistry } from '../inference/registry.js'
import type { ModelProgressDetail, ModelRef } from '../inference/registry.js'
import type { ModelManifest } from '../models/manifest.js'
import { handleJob, handleOutput, handlePrepare } from '../jobs/worker.js'
import { HeldOutputs } from '../jobs/held-outputs.js'
import { randomHex, requesterDeps } from '../jobs/deps.js'
import { Requester } from '../jobs/trust.js'
import type { RequesterInit } from '../jobs/trust.js'
import type { AdaptiveOptions, JobProgress, VerifiedJobResult } from '../jobs/requester.js'
import { ReplayGuard } from '../consensus/replay.js'
import type { BackendHealth, BackendVerdict } from '../consensus/backend-health.js'
import { IDENTITY_COST_BITS, checkIdentityPuzzle, solveIdentityPuzzle } from '../consensus/identity-cost.js'
import { parseRecord } from '../consensus/settlement.js'
import type { ReceiptOutputs } from '../consensus/receipt.js'
import { createRng } from '../consensus/select.js'
import type { TrustRecord } from '../consensus/reputation.js'
import type { ComparisonPolicy, Signer } from '../consensus/types.js'
import { hashTensorsAsync, tensorsFromJSON } from '../tensor/index.js'
import type { NamedTensors, TypedArray } from '../tensor/index.js'
import { ContributionControls } from './controls.js'
import type { ContributeInit, ControlSignal, ControlState, PauseReason } from './controls.js'
import type { HeldIdentityLock, HolderInfo, LockResult } from './identity-lock.js'
import { NodeMetrics } from './metrics.js'
import { ReceiptBook } from './receipts.js'
import type { MetricsSeries } from './metrics.js'
import type { InferenceRuntime, ModelCatalog, NodeStore, RunOutput, RuntimeInfo, RuntimeInit, StoredIdentity, StoredJob, StoredReceipt, Surface } from './types.js'

const log = createLogger('core')

/** Backends that compute canaries' known answers: the CPU ones (ORT-web WASM, onnxruntime-node). */
const REFERENCE_BACKENDS: ReadonlySet<string> = new Set(['wasm', 'cpu'])

/** Comparison used when neither the caller nor the catalog names one. */
export const DEFAULT_POLICY: ComparisonPolicy = { kind: 'tolerance', atol: 1e-5, rtol: 1e-4 }
/** Most replicas a caller may ask for in fixed mode. */
export const MAX_FIXED_REPLICAS = 16

export interface CrosscheckNodeComponents {
  /** Opens this node's store; called by `start()`, closed by `stop()`. */
  openStore: () => Promise<NodeStore>
  /** Creates the inference runtime; called by `start()` with the thread count the CPU share allows. */
  createRuntime: (init: RuntimeInit) => InferenceRuntime
  /** The site's model catalog, or null (models by sha256 or bytes only, from the store and peers). */
  catalog: ModelCatalog | null
  /** One identity per browser profile (Web Locks); absent where that cannot clash (Node). */
  acquireIdentity?: (options: { steal?: boolean, signal?: AbortSignal }) => Promise<LockResult>
  /** Cores of this machine, for the thread count. @default navigator.hardwareConcurrency or 1 */
  hardwareConcurrency?: number
  /** Whether SharedArrayBuffer (WASM threads) is available. @default globalThis.crossOriginIsolated */
  crossOriginIsolated?: boolean
}

export interface CrosscheckNodeInit {
  /** Relay multiaddrs, each ending in `/p2p/<relay peer id>`. */
  relays: string | string[]
  /** Which shell runs this node (shown to peers' people and in stats). @default 'library' */
  surface?: Surface
  /** Contributor controls, or `false` for a node that only requests (never takes jobs). @default {} (start paused) */
  contribute?: ContributeInit | false
  /** Reputation thresholds and canary rate of this node as a requester. */
  requester?: RequesterInit
  /**
   * Lease renewal while nothing changed (ms): a change (pause, a new model)
   * is leased at once. @default 45000 (DEFAULT_LEASE_RENEW_MS)
   */
  announceInterval?: number
  /** Network options beyond the relays: link bound, pool size, fanout (tests and the swarm). */
  network?: Omit<NetworkInit, 'privateKey' | 'relays' | 'relay'>
  /**
   * Identity puzzle difficulty in bits (src/consensus/identity-cost.ts): this
   * contributing node solves one for its peer id after start (about 2 s of
   * CPU at the default, in slices) and announces itself only from then on,
   * nonce included; as a requester it never selects a contributor whose
   * announcement does not pay. 0 turns both off. @default IDENTITY_COST_BITS (16)
   */
  identityCostBits?: number
}

export type NodeState = 'stopped' | 'starting' | 'running' | 'stopping' | 'locked'

export interface NodeStats {
  state: NodeState
  peerId: string
  surface: Surface
  relays: Array<{ addr: string, connected: boolean }>
  /** A relay reservation (a `/p2p-circuit/webrtc` address) is held: other peers can reach this one. */
  reachable: boolean
  peers: PeerState[]
  /** Peers with a direct WebRTC link. */
  linked: number
  /** This contributor's lease: held by a relay now, so requesters can draw it. */
  lease: LeaseState
  /** Direct links: open, created in this peer's life, budget left; the replica pool's size and rotations. */
  links: ReturnType<Network['linkStats']>
  /** The last sample of contributors the relays gave this requester (too small or skewed shows here). */
  sample?: SampleStats
  runtime?: RuntimeInfo
  /** Running, leased on a relay (so requesters can draw it), not paused and willing to take jobs: what "contributing" means everywhere. */
  contributing: boolean
  paused: PauseReason[]
  cpuShare: number
  jobsDone: number
  lastJobAt?: number
  models: Array<{ sha256: string, size: number, name?: string }>
  /** Model files fetched over HTTP or from peers since start (cache misses). */
  modelDownloads: number
  /** Who holds this profile's identity when `state` is 'locked'. */
  lockHolder?: HolderInfo
}

export interface RunOptions {
  /** Fixed mode: replicas. @default 3 */
  replicas?: number
  /** Fixed mode: agreeing votes needed. @default 2 */
  quorum?: number
  /** Adaptive replication (established peers may answer alone, with hidden rechecks) instead of fixed k. */
  adaptive?: boolean | AdaptiveOptions
  /** How outputs are compared. @default the catalog entry's policy, else DEFAULT_POLICY */
  policy?: ComparisonPolicy
  /** Overall deadline in ms. @default 60000 */
  timeout?: number
  /** Peer ids never to ask for this job (your own other devices, say, or to measure with fewer peers). At most 1024. */
  exclude?: string[]
}

export interface RunCallOptions extends AbortOptions {
  onProgress?: (p: JobProgress) => void
}

export interface RunResult {
  jobId: string
  outputs: NamedTensors
  outputHash: string
  /**
   * Canonical receipt JSON (v2): verify it with `verifyReceipt` from
   * 'crosscheck/verify' or `crosscheck verify`. It commits to outputs by hash.
   */
  receipt: string
  /**
   * The output bytes the receipt commits to, kept apart from its text (give
   * them to verifyReceipt as `outputs`; serializeReceiptOutputs writes them
   * as a file). Needed to re-check a vote that agreed with other bytes.
   */
  receiptOutputs: ReceiptOutputs
  modelHash: string
  agreeing: string[]
  dissenting: string[]
  dispatched: string[]
  flagged: string[]
  /** Accepted on one peer's vote (adaptive replication). */
  sole: boolean
  numericClass: string
  ms: number
  /** Where this call's time went, for benchmarks (`npm run bench`) and diagnostics. */
  timing: RunTiming
}

/**
 * Instants (epoch ms with sub-ms precision, `performance.timeOrigin +
 * performance.now()`: comparable across the pages and processes of one
 * machine) at which `run` reached each step.
 */
export interface RunTiming {
  started: number
  /** The model's bytes are verified and held here (store, catalog or given bytes). */
  modelReady: number
  /** Handed to the requester (pending-job record written). */
  requested: number
  /** The requester returned: a quorum agreed and the receipt is signed. */
  receipted: number
  /** Receipt and job history stored; `run` returns. */
  finished: number
}

/** Instants (as in RunTiming) at which a served job reached each step on this contributor. */
export interface ServedTiming {
  /** The request was decoded and handed to the core. */
  received: number
  modelStart: number
  /** The model is loaded in the runtime (fetched first when it was missing). */
  modelReady: number
  /** Waiting for the jobs before it and the CPU share's rest. */
  queued: number
  computeStarted: number
  computeDone: number
  /** Vote signed: the response is handed to the network. */
  answered: number
  /** Inference time the runtime itself reports (inside its worker). */
  computeMs: number
}

/** Wall-clock instant comparable across pages and processes of one machine (see RunTiming). */
function instant (): number {
  return performance.timeOrigin + performance.now()
}

export interface ModelUploadDetail { peerId: string, sha256: string, sent: number, total: number }

export interface NodeEvents {
  'node:state': CustomEvent<NodeStats>
  'model:progress': CustomEvent<ModelProgressDetail>
  'model:upload': CustomEvent<ModelUploadDetail>
  'job:progress': CustomEvent<JobProgress>
  'job:served': CustomEvent<{ jobId: string, from: string, ms: number, timing: ServedTiming }>
  'job:accepted': CustomEvent<{ jobId: string, ms: number, agreeing: string[], dissenting: string[] }>
  'job:failed': CustomEvent<{ modelHash: string, error: { name: string, message: string } }>
  /** Jobs this node requested that a reload or crash cut short (found at start). */
  'job:interrupted': CustomEvent<{ jobs: Array<{ modelHash: string, inputHash: string, startedAt: number }> }>
  'trust:flagged': CustomEvent<{ peerId: string, reason: string }>
  /** Canaries judged a whole backend wrong on a model: its peers are no longer drawn for it (src/consensus/backend-health.ts). */
  'trust:backend': CustomEvent<BackendVerdict>
  'job:retracted': CustomEvent<{ jobId: string, peerId: string, record?: string }>
  /** A valid retraction record (applyRecord) for a receipt this node holds: the receipt is now stored as invalid. */
  'receipt:retracted': CustomEvent<{ jobId: string, reason: string, record: string }>
  /** Another tab took this profile's identity over: this node stopped. */
  'identity:lost': CustomEvent<{ peerId: string }>
}

interface Running {
  store: NodeStore
  network: Network
  runtime: InferenceRuntime
  registry: ModelRegistry
  signer: Signer
  requester: Requester
  lock?: HeldIdentityLock
}

function isTypedArray (v: unknown): v is TypedArray {
  return ArrayBuffer.isView(v) && !(v instanceof DataView)
}

/** NamedTensors as they are, or tensor JSON parsed and validated. */
function toTensors (inputs: unknown): NamedTensors {
  if (inputs != null && typeof inputs === 'object' && Object.values(inputs).every(t => t != null && typeof t === 'object' && isTypedArray((t as { data?: unknown }).data))) {
    return inputs as NamedTensors
  }
  return tensorsFromJSON(inputs)
}

function checkRunOptions (o: RunOptions): void {
  if (o.exclude != null && (!Array.isArray(o.exclude) || o.exclude.length > 1024 || !o.exclude.every(p => typeof p === 'string'))) throw new InvalidArgumentError('exclude must be an array of at most 1024 peer ids')
  if (o.adaptive != null && o.adaptive !== false) {
    if (o.replicas != null || o.quorum != null) throw new InvalidArgumentError('give either { replicas, quorum } or { adaptive }, not both')
    return
  }
  const replicas = o.replicas ?? 3
  const quorum = o.quorum ?? 2
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_FIXED_REPLICAS) throw new InvalidArgumentError(`replicas must be an integer from 1 to ${MAX_FIXED_REPLICAS}`)
  if (!Number.isInteger(quorum) || quorum < 1 || quorum > replicas) throw new InvalidArgumentError('quorum must be an integer from 1 to replicas')
  if (o.timeout != null && (!Number.isFinite(o.timeout) || o.timeout <= 0)) throw new InvalidArgumentError('timeout must be a positive number of ms')
}

export class CrosscheckNode extends TypedEventTarget<NodeEvents> {
  readonly init: CrosscheckNodeInit
  readonly surface: Surface
  /** Pause/resume, CPU share and the browser signals that pause a contributor. */
  readonly controls: ContributionControls
  private readonly components: CrosscheckNodeComponents
  private readonly relays: string[]
  private readonly contributes: boolean
  private readonly metricsBook = new NodeMetrics()
  private state: NodeState = 'stopped'
  private running?: Running
  private startPromise?: Promise<void>
  private runtimeInfo?: RuntimeInfo
  /** Where canaries' known answers are computed when this node's own runtime is not on a CPU backend (made on first need). */
  private referenceRuntime?: { runtime: InferenceRuntime, info: Promise<RuntimeInfo> }
  private peerIdValue = ''
  /** Receipts held, and retractions heard for receipts not held yet (kept across restarts of this node). */
  private readonly receipts = new ReceiptBook(() => this.require().store, (detail) => { this.emit('receipt:retracted', detail) })
  /** The stored identity of the current start; its `identityNonce`, when set, pays the puzzle for `peerId` (announced, and saved with the key). */
  private identity?: { peerId: string, record: StoredIdentity }
  private jobsDone = 0
  private lastJobAt?: number
  private modelDownloads = 0
  private modelsCache: NodeStats['models'] = []
  private lockHolder?: HolderInfo
  /** One inference at a time, each followed by the rest the CPU share asks for. */
  private queue: Promise<unknown> = Promise.resolve()
  private restUntil = 0

  constructor (components: CrosscheckNodeComponents, init: CrosscheckNodeInit) {
    super()
    this.components = components
    this.init = init
    this.surface = init.surface ?? 'library'
    this.relays = (Array.isArray(init.relays) ? init.relays : [init.relays]).map(r => r.trim()).filter(r => r !== '')
    if (this.relays.length === 0) throw new InvalidArgumentError('at least one relay multiaddr is needed')
    this.contributes = init.contribute !== false
    this.controls = new ContributionControls(init.contribute === false ? { startPaused: true } : init.contribute)
    this.controls.addEventListener('controls:change', () => {
      void this.announce()
      this.emitState()
    })
  }

  get started (): boolean { return this.state === 'running' }
  get peerId (): string { return this.peerIdValue }

  /**
   * Joins the network. With `takeOver`, takes this profile's identity from the
   * tab that holds it (that tab's node stops). Throws IdentityLockedError when
   * another tab holds it and `takeOver` is not set.
   */
  async start (options: AbortOptions & { takeOver?: boolean } = {}): Promise<void> {
    if (this.state === 'running') return
    if (this.startPromise != null) { await this.startPromise; return }
    this.startPromise = this.doStart(options).finally(() => { this.startPromise = undefined })
    await this.startPromise
  }

  private async doStart (options: AbortOptions & { takeOver?: boolean }): Promise<void> {
    throwIfAborted(options.signal)
    this.setState('starting')
    const parts: Partial<Running> = {}
    try {
      if (this.components.acquireIdentity != null) {
        const got = await this.components.acquireIdentity({ steal: options.takeOver === true, signal: options.signal })
        if (!got.held) {
          this.lockHolder = got.holder
          this.setState('locked')
          throw new IdentityLockedError(`this browser's Crosscheck identity is in use in another ${got.holder?.surface ?? 'tab'}${got.holder?.peerId != null ? ` (peer ${got.holder.peerId})` : ''}`, { holder: got.holder })
        }
        parts.lock = got.lock
      }
      this.lockHolder = undefined
      const store = parts.store = await this.components.openStore()
      const saved = await store.getIdentity()
      const privateKey = saved != null ? privateKeyFromBytes(saved.privateKey) : await generateIdentity()
      const identity = saved ?? { privateKey: privateKeyToBytes(privateKey), createdAt: Date.now() }
      if (saved == null) await store.putIdentity(identity)
      const signer = parts.signer = signerFromPrivateKey(privateKey)
      this.peerIdValue = signer.peerId
      // a solution saved with the key is reused while it pays the current difficulty
      if (identity.identityNonce !== undefined && checkIdentityPuzzle(signer.peerId, identity.identityNonce, this.identityCostBits) !== undefined) delete identity.identityNonce
      this.identity = { peerId: signer.peerId, record: identity }
      parts.lock?.setPeerId(signer.peerId)

      const cores = this.cores()
      const isolated = this.components.crossOriginIsolated ?? (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true
      // a full share leaves the thread count to the runtime, which knows its build best (NOTES: JSEP is slower at 2)
      const share = this.controls.state.cpuShare
      const runtime = parts.runtime = this.components.createRuntime(share < 1 ? { threads: this.controls.threadsFor(cores, isolated) } : {})
      const infoPromise = runtime.probe(options)

      const network = parts.network = new Network({ keepInPool: (id) => this.running?.requester.book.isEstablishedAnywhere(id) === true, ...this.init.network, privateKey, relays: this.relays, lease: { renewMs: this.init.announceInterval, ...this.init.network?.lease } })
      const registry = parts.registry = new ModelRegistry({
        store,
        catalog: this.components.catalog,
        fetchFromPeers: async (sha256, o) => await this.fetchFromPeers(network, sha256, o)
      })
      registry.addEventListener('model:progress', (evt) => { this.emit('model:progress', evt.detail) })
      network.serveModels(async (sha) => {
        const m = await store.getModel(sha).catch(() => undefined)
        return m != null ? new Uint8Array(m.bytes) : undefined
      })
      network.addEventListener('model:upload', (evt) => { this.emit('model:upload', evt.detail) })
      if (this.contributes) this.serveJobs(network, { store, runtime, registry, signer })
      network.addEventListener('network:peers', () => { this.emitState() })
      network.addEventListener('network:relay', () => { this.emitState() })
      network.addEventListener('network:lease', () => { this.emitState() })
      network.addEventListener('network:observation', (evt) => { void this.running?.requester.receiveObservation(evt.detail.message) })
      // a receipt this node holds may be retracted by its requester: applyRecord checks the signed record first
      network.addEventListener('network:retraction', (evt) => { void this.applyRecord(evt.detail.record).catch(() => {}) })

      parts.requester = this.makeRequester(this.init.requester ?? {}, network, signer, store, await store.listReputation())
      const interrupted = await this.markInterrupted(store)
      this.running = parts as Running
      await this.refreshModels()
      // the identity puzzle (unless a saved solution pays it) and the runtime's
      // self-test run beside joining the relays, not after it: a first visit
      // is "contributing" as soon as the slowest of the three is done
      if (this.contributes) void this.payIdentityCost(signer.peerId)
      const [info] = await Promise.all([infoPromise, network.start(options)])
      this.runtimeInfo = info
      if (parts.lock != null) void parts.lock.lost.then(() => { void this.onIdentityLost() })
      this.setState('running')
      await this.announce()
      if (interrupted.length > 0) this.emit('job:interrupted', { jobs: interrupted })
      this.emitState()
    } catch (err) {
      this.running = undefined
      await this.teardown(parts)
      if (this.state !== 'locked') this.setState('stopped')
      throw err
    }
  }

  /** Requested jobs left pending by a previous run become 'interrupted' in the history. */
  private async markInterrupted (store: NodeStore): Promise<Array<{ modelHash: string, inputHash: string, startedAt: number }>> {
    const list = await store.listPendingJobs()
    for (const p of list) {
      await store.finishJob({ job: { jobId: p.jobId, role: 'requester', modelHash: p.modelHash, inputHash: p.inputHash, startedAt: p.startedAt, status: 'interrupted', peers: [] }, pendingJobId: p.jobId })
    }
    if (list.length > 0) log('%d requested job(s) were interrupted by the last reload or crash', list.length)
    return list.map(({ modelHash, inputHash, startedAt }) => ({ modelHash, inputHash, startedAt }))
  }

  /** Leaves the network; waits for background canaries; releases the identity. Idempotent. */
  async stop (): Promise<void> {
    if (this.startPromise != null) await this.startPromise.catch(() => {})
    const running = this.running
    if (running == null) { if (this.state !== 'locked') this.setState('stopped'); return }
    this.setState('stopping')
    this.running = undefined
    await running.requester.settled().catch(() => {})
    await this.teardown(running)
    this.setState('stopped')
  }

  private async teardown (parts: Partial<Running>): Promise<void> {
    await parts.network?.stop().catch((err: Error) => { log('network stop: %s', err.message) })
    await parts.runtime?.close().catch((err: Error) => { log('runtime close: %s', err.message) })
    const reference = this.referenceRuntime
    this.referenceRuntime = undefined
    await reference?.runtime.close().catch((err: Error) => { log('reference runtime close: %s', err.message) })
    parts.store?.close()
    await parts.lock?.release().catch(() => {})
  }

  private async onIdentityLost (): Promise<void> {
    const peerId = this.peerIdValue
    log('identity %s was taken over by another tab: stopping', peerId)
    await this.stop()
    this.setState('locked')
    this.emit('identity:lost', { peerId })
  }

  // ---- contributing --------------------------------------------------------

  /** Pauses contributing (announced to peers: no jobs come while paused). */
  pause (): void { this.controls.pause() }
  /** Resumes contributing (other pause reasons — hidden, battery, pressure — may still hold). */
  resume (): void { this.controls.resume() }
  /** 0 < share ≤ 1 of the CPU: rests after each job (duty cycle); threads apply at the next start. */
  setCpuShare (share: number): void { this.controls.setCpuShare(share) }
  /** Feeds a browser signal (visibility, battery, pressure) to the controls. */
  signal (s: ControlSignal): void { this.controls.signal(s) }

  private serveJobs (network: Network, parts: Pick<Running, 'store' | 'runtime' | 'registry' | 'signer'>): void {
    const replay = new ReplayGuard()
    const held = new HeldOutputs()
    network.onJob(async (req, ctx) => {
      if (req.type === 'output') return handleOutput(req, ctx, held)
      if (this.controls.state.paused) throw new PeerPausedError(`paused (${this.controls.state.reasons.join(', ')})`)
      if (req.type === 'prepare') return await handlePrepare(req, ctx, { ensureModel: async (hash, from, { signal }) => { await this.ensureLoaded(parts, hash, { signal, hint: from }) } })
      const t0 = performance.now()
      const received = instant()
      const timing: ServedTiming = { received, modelStart: received, modelReady: received, queued: received, computeStarted: received, computeDone: received, answered: received, computeMs: 0 }
      const res = await handleJob(req, ctx, {
        signer: parts.signer,
        now: Date.now,
        replay,
        held,
        // fetching a model is not computing: it stays outside the one-at-a-time queue
        ensureModel: async (hash, from, { signal }) => {
          timing.modelStart = instant()
          await this.ensureLoaded(parts, hash, { signal, hint: from })
          timing.modelReady = instant()
        },
        run: async (hash, inputs, { signal }) => {
          timing.queued = instant()
          return await this.serially(signal, async () => {
            timing.computeStarted = instant()
            const out = await parts.runtime.run(hash, inputs, { signal, job: req.spec })
            timing.computeDone = instant()
            timing.computeMs = out.ms
            this.restUntil = Date.now() + this.restAfter(out.ms)
            return out
          })
        }
      })
      timing.answered = instant()
      const ms = performance.now() - t0
      this.jobsDone++
      this.lastJobAt = Date.now()
      this.metricsBook.record({ kind: 'served', at: this.lastJobAt, ms, ok: true })
      void parts.store.putJob({ jobId: req.jobId, role: 'worker', modelHash: req.spec.modelHash, inputHash: req.spec.inputHash, startedAt: Date.now() - ms, finishedAt: Date.now(), status: 'voted', peers: [ctx.from], ms }).catch(() => {})
      // jobsDone rides along with the next renewal: no push per job
      void this.announce()
      this.emit('job:served', { jobId: req.jobId, from: ctx.from, ms, timing })
      this.emitState()
      return res
    })
  }

  /** Runs `fn` after the jobs before it and after the rest the CPU share asks for. */
  private async serially<T> (signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const prev = this.queue
    let done!: () => void
    this.queue = new Promise<void>(resolve => { done = resolve })
    try {
      await prev
      const wait = this.restUntil - Date.now()
      if (wait > 0) {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, wait)
          signal.addEventListener('abort', () => { clearTimeout(t); reject(new AbortError('job aborted while resting')) }, { once: true })
        })
      }
      return await fn()
    } finally {
      done()
    }
  }

  /**
   * Rest after a job that computed for `ms`. The CPU share is carried first by
   * the thread count (set at start) and the rest makes up the remainder, so a
   * share is not applied twice: duty = share · cores / threads.
   */
  private restAfter (ms: number): number {
    const { cpuShare } = this.controls.state
    const threads = Math.max(1, this.runtimeInfo?.threads ?? 1)
    const duty = Math.min(1, cpuShare * this.cores() / threads)
    return duty >= 1 || !(ms > 0) ? 0 : ms * (1 - duty) / duty
  }

  private cores (): number {
    return Math.max(1, this.components.hardwareConcurrency ?? (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1)
  }

  private async ensureLoaded (parts: Pick<Running, 'runtime' | 'registry'>, hash: string, options: AbortOptions & { hint?: string }): Promise<void> {
    if (await parts.runtime.hasModel(hash, options)) return
    const resolved = await parts.registry.resolve(hash, options)
    if (resolved.source !== 'store') {
      this.modelDownloads++
      await this.refreshModels()
      void this.announce()
    }
    await parts.runtime.loadModel(hash, resolved.bytes, options)
  }

  /** Every holder the relays know of (the hint first) at once; undefined when none is known. */
  private async fetchFromPeers (network: Network, sha256: string, options: { signal?: AbortSignal, hint?: string, onProgress?: (loaded: number, total: number) => void }): Promise<Uint8Array | undefined> {
    const holders = await network.findHolders(sha256, { signal: options.signal }).catch((err: Error) => {
      log('asking the relays for holders of %s failed: %s', sha256.slice(0, 12), err.message)
      return []
    })
    const order = [...new Set([...(options.hint != null ? [options.hint] : []), ...holders])].filter(p => p !== this.peerIdValue)
    if (order.length === 0) return undefined
    return await network.fetchModelFrom(order, sha256, { signal: options.signal, onProgress: (p) => { options.onProgress?.(p.loaded, p.total) } })
  }

  private async announce (): Promise<void> {
    const r = this.running
    const info = this.runtimeInfo
    if (r == null || info == null || !this.contributes || this.state !== 'running') return
    // unpaid, a contributor would be listed yet never selected: it stays silent until the puzzle is solved
    const nonce = this.identityNonceNow()
    if (nonce === undefined && this.identityCostBits > 0) return
    await r.network.announce({
      models: this.modelsCache.map(m => m.sha256).slice(0, 64),
      numericClass: info.numericClass,
      backend: info.backend,
      threads: info.threads,
      runtime: info.runtime,
      jobsDone: this.jobsDone,
      paused: this.controls.state.paused,
      ...(nonce !== undefined ? { identityNonce: nonce } : {})
    })
  }

  /** The puzzle's difficulty this node pays and asks of others. */
  private get identityCostBits (): number {
    return this.init.identityCostBits ?? IDENTITY_COST_BITS
  }

  /** The puzzle's solution for the current peer id, once it has one. */
  private identityNonceNow (): string | undefined {
    return this.identity?.peerId === this.peerIdValue ? this.identity.record.identityNonce : undefined
  }

  /**
   * Solves the identity puzzle in ~40 ms slices between which the event loop
   * runs (a page stays responsive), saves the solution with the identity (so
   * it is paid once per identity, not per start) and announces it.
   */
  private async payIdentityCost (peerId: string): Promise<void> {
    const bits = this.identityCostBits
    if (bits <= 0 || this.identityNonceNow() !== undefined) return
    const started = instant()
    const slice = 20_000
    for (let start = 0; this.running != null && this.peerIdValue === peerId; start += slice) {
      const nonce = solveIdentityPuzzle(peerId, bits, { start, maxTries: slice })
      if (nonce !== undefined) {
        log('identity puzzle (%d bits) solved in %d ms', bits, Math.round(instant() - started))
        const identity = this.identity
        if (identity?.peerId !== peerId) return
        identity.record.identityNonce = nonce
        // not saved: paid again next start, nothing else lost
        await this.running?.store.putIdentity(identity.record).catch((err: Error) => { log('saving the identity puzzle failed: %s', err.message) })
        await this.announce()
        return
      }
      await new Promise<void>((resolve) => { setTimeout(resolve, 0) })
    }
  }

  /**
   * Applies a settlement or retraction record (e.g. one shared on gossip):
   * when it is a valid retraction of a receipt this node holds, the receipt
   * is stored as invalid and `receipt:retracted` is emitted. Resolves
   * whether it applied; anything else (malformed, foreign, forged) is ignored.
   */
  async applyRecord (recordText: string): Promise<boolean> {
    this.require()
    return await this.receipts.applyRecord(recordText)
  }

  /**
   * Keeps a receipt someone else requested (given to this node by its holder),
   * verified first, so that a retraction of it reaches this node too: shared
   * on gossip, it marks the stored copy invalid and emits
   * `receipt:retracted`; one heard before the import applies at once.
   * A v2 receipt comes with the output bytes it commits to (`outputs`) where
   * a vote agreed with other bytes; they are checked against its hashes and
   * kept with it. Resolves the stored record; throws ReceiptVersionError for
   * a receipt version this code does not read, else ReceiptInvalidError
   * (naming the first failed check) when the receipt does not verify.
   */
  async importReceipt (text: string, options: AbortOptions & { outputs?: ReceiptOutputs } = {}): Promise<StoredReceipt> {
    this.require()
    return await this.receipts.importReceipt(text, options)
  }

  /** Shares a settlement record (e.g. a `job:retracted` event's `record`) on gossip, once it parses; resolves whether it was sent. */
  async publishRecord (recordText: string): Promise<boolean> {
    const r = this.require()
    parseRecord(recordText)
    return await r.network.publishRetraction(recordText)
  }

  // ---- requesting ----------------------------------------------------------

  /**
   * Runs a verified job: the model (catalog id, sha256 or bytes) on `inputs`
   * (NamedTensors or tensor JSON) on several peers; resolves with the accepted
   * outputs and a receipt once a quorum agrees under the model's policy.
   * Rejects with a named error: NotEnoughPeersError, NoQuorumError,
   * TimeoutError, ModelNotFoundError, AbortError, InvalidArgumentError, …
   */
  async run (model: ModelRef, inputs: NamedTensors | unknown, options: RunOptions = {}, call: RunCallOptions = {}): Promise<RunResult> {
    const r = this.require()
    checkRunOptions(options)
    const started = instant()
    const tensors = toTensors(inputs)
    const { sha256, entry } = await r.registry.resolveRef(model, call)
    // hold the bytes ourselves so that workers lacking the model can fetch it from us;
    // once stored they are not read back per job (serving re-hashes them anyway)
    if (!this.modelsCache.some(m => m.sha256 === sha256)) {
      const resolved = await r.registry.resolve(sha256, call)
      if (resolved.source !== 'store') { this.modelDownloads++; await this.refreshModels() }
    }
    const modelReady = instant()
    const adaptive = options.adaptive === true ? {} : options.adaptive === false ? undefined : options.adaptive
    const startedAt = Date.now()
    // kept until the job ends: a reload or crash meanwhile shows it as interrupted at the next start
    const pending = { jobId: `local-${randomHex(16)}`, modelHash: sha256, inputHash: await hashTensorsAsync(tensors), startedAt }
    // written while the job runs, and waited for before it is answered: a job
    // is never reported done before its pending record was durable
    const pendingWritten = r.store.putPendingJob(pending).then(() => true, (err: Error) => { log('could not record pending job: %s', err.message); return false })
    const requested = instant()
    let result: VerifiedJobResult
    try {
      result = await r.requester.request({
        modelHash: sha256,
        inputs: tensors,
        policy: options.policy ?? entry?.policy ?? DEFAULT_POLICY,
        ...(adaptive != null ? { adaptive } : { replicas: options.replicas ?? 3, quorum: options.quorum ?? 2 }),
        ...(options.timeout != null ? { timeout: options.timeout } : {}),
        ...(options.exclude != null ? { exclude: new Set(options.exclude) } : {})
      }, { signal: call.signal, onProgress: (p) => { call.onProgress?.(p); this.emit('job:progress', p) } })
    } catch (err) {
      const e = err as Error
      this.metricsBook.record({ kind: 'requested', at: Date.now(), ms: Date.now() - startedAt, ok: false })
      this.emit('job:failed', { modelHash: sha256, error: { name: e.name ?? 'Error', message: e.message ?? String(err) } })
      await pendingWritten
      await r.store.finishJob({
        job: { jobId: pending.jobId, role: 'requester', modelHash: sha256, inputHash: pending.inputHash, startedAt, finishedAt: Date.now(), status: e.name === 'NoQuorumError' ? 'no-quorum' : e.name === 'AbortError' ? 'aborted' : 'failed', peers: [] },
        pendingJobId: pending.jobId
      }).catch((err: Error) => { log('could not record failed job %s: %s', pending.jobId, err.message) })
      throw err
    }
    const receipted = instant()
    await pendingWritten
    const receipt: StoredReceipt = { jobId: result.jobId, createdAt: Date.now(), modelHash: sha256, text: result.receiptText, outputs: result.receiptOutputs, status: 'accepted' }
    const job: StoredJob = { jobId: result.jobId, role: 'requester', modelHash: sha256, inputHash: result.spec.inputHash, startedAt, finishedAt: Date.now(), status: 'accepted', peers: result.agreeing, ms: result.ms }
    await r.store.finishJob({ receipt, job, pendingJobId: pending.jobId })
    this.metricsBook.record({ kind: 'requested', at: Date.now(), ms: result.ms, ok: true, agreeing: result.agreeing.length, dissenting: result.dissenting.length })
    this.emit('job:accepted', { jobId: result.jobId, ms: result.ms, agreeing: result.agreeing, dissenting: result.dissenting })
    return {
      jobId: result.jobId,
      outputs: result.output,
      outputHash: result.outputHash,
      receipt: result.receiptText,
      receiptOutputs: result.receiptOutputs,
      modelHash: sha256,
      agreeing: result.agreeing,
      dissenting: result.dissenting,
      dispatched: result.dispatched,
      flagged: result.flagged,
      sole: result.sole,
      numericClass: result.numericClass,
      ms: result.ms,
      timing: { started, modelReady, requested, receipted, finished: instant() }
    }
  }

  /** (Re)creates the requester side with these settings, keeping what its reputation book knows. */
  async configureRequester (init: RequesterInit): Promise<void> {
    const r = this.require()
    await r.requester.settled()
    // reputation and backend verdicts carry over: new settings, same memory
    r.requester = this.makeRequester(init, r.network, r.signer, r.store, r.requester.book.toRecords(), r.requester.health)
  }

  private makeRequester (init: RequesterInit, network: Network, signer: Signer, store: NodeStore, records: TrustRecord[], health?: BackendHealth): Requester {
    const requester = new Requester({
      health,
      deps: { ...requesterDeps(network, signer, { identityCostBits: this.identityCostBits }), ...(init.seed != null ? { random: createRng(init.seed) } : {}) },
      records,
      persist: async (list) => { await store.putReputations(list) },
      share: async (message) => await network.publishObservation(message),
      shareRetraction: async (record) => await network.publishRetraction(record),
      localRun: async (hash, inputs, options) => await this.runReference(hash, inputs, options)
    }, init)
    requester.addEventListener('trust:flagged', (evt) => { this.emit('trust:flagged', evt.detail); this.emitState() })
    requester.addEventListener('trust:backend', (evt) => { this.emit('trust:backend', evt.detail) })
    requester.addEventListener('job:retracted', (evt) => {
      // stored first, so a listener that reads the history or the receipts sees the retraction
      void this.receipts.markRetracted(evt.detail.jobId).catch((err: Error) => { log('marking job %s retracted failed: %s', evt.detail.jobId.slice(0, 12), err.message) })
        .finally(() => { this.emit('job:retracted', evt.detail) })
    })
    return requester
  }

  /** Runs a model in this node's own runtime, unverified (canaries' known answers, previews, benchmarks). */
  async runLocal (modelHash: string, inputs: NamedTensors, options: AbortOptions = {}): Promise<RunOutput> {
    const r = this.require()
    return await this.runOn(r.runtime, r.registry, modelHash, inputs, options)
  }

  /** Loads the model into `runtime` if needed (from the registry) and runs it, keeping the caller's input buffers. */
  private async runOn (runtime: InferenceRuntime, registry: ModelRegistry, modelHash: string, inputs: NamedTensors, options: AbortOptions): Promise<RunOutput> {
    await this.ensureLoaded({ runtime, registry }, modelHash, options)
    return await runtime.run(modelHash, inputs, { ...options, transfer: false })
  }

  /**
   * Runs a model on the reference CPU backend: this node's own runtime when it
   * is one (WASM, onnxruntime-node's CPU), otherwise a second runtime made for
   * it. Canaries' known answers come from here: a WebGPU driver that is wrong
   * on this requester would otherwise make every honest peer fail its canaries.
   */
  private async runReference (modelHash: string, inputs: NamedTensors, options: AbortOptions = {}): Promise<RunOutput> {
    const r = this.require()
    const own = this.runtimeInfo
    if (own == null || REFERENCE_BACKENDS.has(own.backend)) return await this.runLocal(modelHash, inputs, options)
    if (this.referenceRuntime == null) {
      const runtime = this.components.createRuntime({ reference: true, threads: 1 })
      // not bound to this call's signal: the runtime outlives it
      this.referenceRuntime = { runtime, info: runtime.probe() }
    }
    const reference = this.referenceRuntime
    const info = await reference.info.catch(async (err: unknown) => {
      // a failed start is not kept: the next canary tries a fresh runtime
      if (this.referenceRuntime === reference) this.referenceRuntime = undefined
      await reference.runtime.close().catch(() => {})
      throw err
    })
    if (!REFERENCE_BACKENDS.has(info.backend)) throw new InferenceError(`no CPU reference runtime: the runtime made for it runs on ${info.backend}`)
    return await this.runOn(reference.runtime, r.registry, modelHash, inputs, options)
  }

  // ---- models and history --------------------------------------------------

  /** The catalog of the site this node uses. */
  async getManifest (options: AbortOptions = {}): Promise<ModelManifest> {
    return await this.require().registry.manifest(options)
  }

  /** Verified bytes of a model or catalog extra file (store, catalog, peers; `hint`: a peer known to hold it). */
  async getModelBytes (sha256: string, options: AbortOptions & { hint?: string } = {}): Promise<Uint8Array> {
    const resolved = await this.require().registry.resolve(sha256, options)
    if (resolved.source !== 'store') { this.modelDownloads++; await this.refreshModels() }
    return new Uint8Array(resolved.bytes)
  }

  /** Fetches a model from these peers at once, verified, and does not store it (diagnostics, the bench). */
  async fetchModelFrom (peers: string[], sha256: string, options: ModelFetchOptions = {}): Promise<Uint8Array> {
    return await this.require().network.fetchModelFrom(peers, sha256, options)
  }

  /** Receipts this node accepted, newest first (persisted). */
  async listReceipts (options: { limit?: number } = {}): Promise<StoredReceipt[]> {
    return await (this.running?.store.listReceipts(options) ?? Promise.resolve([]))
  }

  /** Jobs served and requested, newest first (persisted). */
  async listJobs (options: { limit?: number } = {}): Promise<StoredJob[]> {
    return await (this.running?.store.listJobs(options) ?? Promise.resolve([]))
  }

  /** What this node, as a requester, knows of other peers. */
  reputation (): TrustRecord[] {
    return this.running?.requester.book.toRecords() ?? []
  }

  /** Backends this node, as a requester, has judged wrong on a model (its canaries; kept with its reputation). */
  backendVerdicts (): BackendVerdict[] {
    return this.running?.requester.health.verdicts() ?? []
  }

  /** Resolves when background canary jobs are done. */
  async settled (): Promise<void> {
    await this.running?.requester.settled()
  }

  /** Jobs per minute, latency and agreement over time, for charts. */
  metrics (options: { now?: number, bucketMs?: number, buckets?: number } = {}): MetricsSeries {
    return this.metricsBook.series(options)
  }

  /**
   * Asks the relays for a fresh sample of live contributors now and returns
   * the replica pool's peer ids (what this node, as a requester, would draw
   * from). A job does this by itself; this is for shells and tests.
   */
  async findContributors (options: AbortOptions = {}): Promise<string[]> {
    const network = this.require().network
    await network.waitForContributors(options)
    return network.getContributors().map(p => p.peerId).sort()
  }

  /** Open connections, for diagnostics and tests. */
  connections (): ReturnType<Network['getConnections']> {
    return this.running?.network.getConnections() ?? []
  }

  stats (): NodeStats {
    const r = this.running
    const peers = r?.network.getPeers() ?? []
    const reachable = r?.network.reachable() ?? false
    const lease = r?.network.leaseState() ?? { held: false, relays: [], seq: 0 }
    const sample = r?.network.sampleStats()
    const controls: ControlState = this.controls.state
    return {
      state: this.state,
      peerId: this.peerIdValue,
      surface: this.surface,
      relays: r?.network.relayStatus() ?? this.relays.map(addr => ({ addr, connected: false })),
      reachable,
      peers,
      linked: peers.filter(p => p.direct).length,
      lease,
      links: r?.network.linkStats() ?? { links: 0, created: 0, budgetLeft: Infinity, maxLinks: 16, poolSize: 0, rotations: 0 },
      ...(sample != null ? { sample } : {}),
      runtime: this.runtimeInfo,
      contributing: this.state === 'running' && this.contributes && reachable && lease.held && !controls.paused,
      paused: controls.reasons,
      cpuShare: controls.cpuShare,
      jobsDone: this.jobsDone,
      ...(this.lastJobAt != null ? { lastJobAt: this.lastJobAt } : {}),
      models: this.modelsCache,
      modelDownloads: this.modelDownloads,
      ...(this.lockHolder != null ? { lockHolder: this.lockHolder } : {})
    }
  }

  private async refreshModels (): Promise<void> {
    const list = await this.running?.store.listModels() ?? []
    this.modelsCache = list.map(m => ({ sha256: m.sha256, size: m.size, ...(m.name != null ? { name: m.name } : {}) }))
    this.emitState()
  }

  private setState (state: NodeState): void {
    if (this.state === state) return
    this.state = state
    this.emitState()
  }

  private emitState (): void {
    this.emit('node:state', this.stats())
  }

  private require (): Running {
    if (this.running == null || this.state !== 'running') throw new NotStartedError('node is not started: call start() first')
    return this.running
  }
}
