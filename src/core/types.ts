/**
 * The parts a Crosscheck node is composed of. The core (`./node.ts`) receives
 * them; each shell (page, widget frame, extension offscreen document, CLI,
 * library entries) picks the implementations that fit its platform:
 *
 * | part      | browser                              | Node                               |
 * |-----------|--------------------------------------|------------------------------------|
 * | store     | IndexedDB (`src/storage`)            | in memory (`./memory-store.ts`)    |
 * | runtime   | onnxruntime-web worker (`src/inference`) | onnxruntime-node (`src/models/ort-node.ts`) |
 * | catalog   | the Crosscheck site over HTTP        | HTTP, or the built-in catalog (CLI) |
 * | identity  | persisted in the store, one per profile (Web Locks) | persisted in the store        |
 */
import type { AbortOptions } from '../abort.js'
import type { JobSpec } from '../consensus/types.js'
import type { ReceiptOutputs } from '../consensus/receipt.js'
import type { TrustRecord } from '../consensus/reputation.js'
import type { ExtraEntry, ModelEntry, ModelManifest } from '../models/manifest.js'
import type { NamedTensors } from '../tensor/index.js'

export type Surface = 'page' | 'widget' | 'extension' | 'library' | 'cli'

// ---- store -------------------------------------------------------------------

export interface ModelSummary { sha256: string, size: number, name?: string, addedAt: number, lastUsedAt: number }
export interface StoredModel extends ModelSummary { bytes: ArrayBuffer }
export interface StoredIdentity {
  privateKey: Uint8Array
  createdAt: number
  /** The identity puzzle's solution for this key (src/consensus/identity-cost.ts), kept so it is paid once per identity, not per start. */
  identityNonce?: string
}
export type ReceiptStatus = 'accepted' | 'rejected' | 'pending' | 'invalid'
export interface StoredReceipt {
  jobId: string
  createdAt: number
  modelHash: string
  /** The canonical receipt JSON, stored as text so its bytes (and signatures) survive untouched. */
  text: string
  /**
   * The output bytes a v2 receipt commits to by hash (verifyReceipt's
   * `outputs`); absent for v1 receipts (their text carries them) and for v2
   * receipts imported without them.
   */
  outputs?: ReceiptOutputs
  status: ReceiptStatus
}
export type JobRole = 'requester' | 'worker'
/** `retracted`: accepted, then its receipt was retracted (re-verification disagreed, or a retraction record arrived). */
export type JobStatus = 'running' | 'accepted' | 'no-quorum' | 'failed' | 'aborted' | 'voted' | 'interrupted' | 'retracted'
/** A requested job not yet ended (kept so a reload or crash shows it as interrupted). */
export interface PendingJob { jobId: string, modelHash: string, inputHash: string, startedAt: number }
export interface StoredJob {
  jobId: string
  role: JobRole
  modelHash: string
  inputHash: string
  startedAt: number
  finishedAt?: number
  status: JobStatus
  /** Peer ids involved (workers asked, or the requester). */
  peers: string[]
  /** Inference time in ms (worker role) or end-to-end (requester role). */
  ms?: number
}

/**
 * What the core keeps across restarts. `src/storage` (IndexedDB) and
 * `MemoryStore` implement it. `getModel` re-hashes what it returns: a corrupt
 * record is purged and HashMismatchError thrown, so the caller fetches again.
 */
/** What `NodeStore.finishJob` writes at once. */
export interface FinishedJob {
  /** The receipt of an accepted job. */
  receipt?: StoredReceipt
  job: StoredJob
  /** The pending record written when the job started. */
  pendingJobId: string
}

export interface NodeStore {
  getIdentity: () => Promise<StoredIdentity | undefined>
  putIdentity: (identity: StoredIdentity) => Promise<void>
  putModel: (bytes: ArrayBuffer | Uint8Array, options?: { sha256?: string, name?: string }) => Promise<ModelSummary>
  getModel: (sha256: string) => Promise<StoredModel | undefined>
  listModels: () => Promise<ModelSummary[]>
  putReceipt: (receipt: StoredReceipt) => Promise<void>
  getReceipt: (jobId: string) => Promise<StoredReceipt | undefined>
  listReceipts: (options?: { limit?: number }) => Promise<StoredReceipt[]>
  putJob: (job: StoredJob) => Promise<void>
  getJob: (jobId: string) => Promise<StoredJob | undefined>
  listJobs: (options?: { limit?: number, role?: JobRole }) => Promise<StoredJob[]>
  putPendingJob: (job: PendingJob) => Promise<void>
  listPendingJobs: () => Promise<PendingJob[]>
  deletePendingJob: (jobId: string) => Promise<void>
  /**
   * A requested job's end in one write (one transaction in IndexedDB): its
   * receipt when it was accepted, its history record, and its pending record
   * gone. All or nothing: a reload never finds a receipt without its job, or
   * a finished job still pending.
   */
  finishJob: (done: FinishedJob) => Promise<void>
  listReputation: () => Promise<TrustRecord[]>
  putReputation: (record: TrustRecord) => Promise<void>
  /** Several records in one write (one transaction in IndexedDB). */
  putReputations: (records: readonly TrustRecord[]) => Promise<void>
  close: () => void
}

// ---- runtime -----------------------------------------------------------------

/** What a runtime really runs on: announced to peers and shown to people. */
export interface RuntimeInfo {
  runtime: 'ort-web' | 'ort-node'
  backend: string
  threads: number
  /** `runtime/backend/threads/engine`: exact comparison only within one class. */
  numericClass: string
  crossOriginIsolated?: boolean
  /** Why WebGPU was not used, when it was wanted. */
  note?: string
}

export interface RunOutput { outputs: NamedTensors, ms: number, numericClass: string }

export interface RuntimeRunOptions extends AbortOptions {
  /** Move (not copy) input buffers into the runtime. @default true */
  transfer?: boolean
  /** The job this run answers (Node test-only fault injection reads it). */
  job?: JobSpec
}

/** One inference engine with sessions keyed by model sha256. */
export interface InferenceRuntime {
  probe: (options?: AbortOptions) => Promise<RuntimeInfo>
  hasModel: (sha256: string, options?: AbortOptions) => Promise<boolean>
  /** The caller vouches that `bytes` hash to `sha256` (the registry checked). */
  loadModel: (sha256: string, bytes: ArrayBuffer, options?: AbortOptions) => Promise<void>
  run: (sha256: string, inputs: NamedTensors, options?: RuntimeRunOptions) => Promise<RunOutput>
  close: () => Promise<void>
}

export interface RuntimeInit {
  /** WASM threads to use (browser runtimes); from the CPU share. */
  threads?: number
  /**
   * A runtime on the reference CPU backend (WASM in a browser), whatever the
   * node prefers: canaries' known answers are computed on it, so a broken
   * accelerated backend on the requester cannot make honest peers look wrong.
   */
  reference?: boolean
}

// ---- catalog -----------------------------------------------------------------

export interface CatalogDownloadOptions extends AbortOptions {
  onProgress?: (loaded: number, total: number) => void
}

/** A site's list of models (ids, sha256, comparison policies) and a way to get their bytes. */
export interface ModelCatalog {
  /** A description for logs and errors, e.g. the manifest URL. */
  readonly where: string
  manifest: (options?: AbortOptions) => Promise<ModelManifest>
  /** The entry's bytes (not yet hash-checked: the registry does that). */
  download: (entry: ModelEntry | ExtraEntry, options?: CatalogDownloadOptions) => Promise<ArrayBuffer>
}
