/**
 * Crosscheck in a browser page: a peer that contributes compute and requests
 * verified inference, with receipts anyone can check.
 *
 * @example
 * ```ts
 * import { createNode } from 'crosscheck'
 * const node = createNode({ relays: ['/dns4/relay.example/tcp/443/wss/p2p/12D3…'], catalogUrl: 'https://crosscheck.example/' })
 * await node.start()
 * const { outputs, receipt } = await node.run('mlp', { x: { dtype: 'float32', dims: [1, 16], data: new Array(16).fill(0.5) } }, { replicas: 3, quorum: 2 })
 * await node.stop()
 * ```
 */
import { CrosscheckNode } from './core/node.js'
import type { CrosscheckNodeInit } from './core/node.js'
import { acquireIdentityLock } from './core/identity-lock.js'
import { openWorkerStore, DEFAULT_DB_NAME } from './storage/index.js'
import { MemoryStore } from './core/memory-store.js'
import { WorkerRuntime } from './inference/worker-runtime.js'
import { HttpCatalog, manifestUrlOf } from './inference/http-catalog.js'

export interface CreateNodeInit extends CrosscheckNodeInit {
  /**
   * Base URL of the Crosscheck site whose model catalog (`models/manifest.json`)
   * names models by id and serves their bytes; `null` for none (models by
   * sha256 or bytes only).
   * @default document.baseURI in a page, else null
   */
  catalogUrl?: string | URL | null
  /** IndexedDB database holding identity, models, receipts and reputation (opened in a worker where one can run). @default 'crosscheck' */
  storeName?: string
  /** @default 'auto' (WebGPU only on a real adapter that passes a self-test, else WASM) */
  preferredBackend?: 'auto' | 'webgpu' | 'wasm'
  /** Refuse to run the same identity in two tabs of a profile (Web Locks). @default true */
  identityLock?: boolean
  /**
   * Keep identity, models and receipts in IndexedDB. `false` keeps them in
   * memory for this visit only (and takes no identity lock): for frames whose
   * browser refuses them storage. @default true
   */
  persist?: boolean
}

/** A browser node: IndexedDB store, onnxruntime-web worker, the site's catalog over HTTP, one identity per profile. */
export function createNode (init: CreateNodeInit): CrosscheckNode {
  const storeName = init.storeName ?? DEFAULT_DB_NAME
  const base = init.catalogUrl !== undefined ? init.catalogUrl : (typeof document !== 'undefined' ? document.baseURI : null)
  const surface = init.surface ?? 'library'
  const persist = init.persist !== false
  return new CrosscheckNode({
    // IndexedDB in its own worker: the page's main thread keeps the network and the requester
    openStore: persist ? async () => await openWorkerStore(storeName) : async () => new MemoryStore(),
    createRuntime: (r) => new WorkerRuntime({ ...r, preferredBackend: r.reference === true ? 'wasm' : init.preferredBackend }),
    catalog: base != null ? new HttpCatalog(manifestUrlOf(base)) : null,
    ...(init.identityLock === false || !persist
      ? {}
      : { acquireIdentity: async (o) => await acquireIdentityLock({ name: `crosscheck:identity:${storeName}`, surface }, o) })
  }, init)
}

export { CrosscheckNode, DEFAULT_POLICY } from './core/node.js'
export type { CrosscheckNodeInit, NodeEvents, NodeState, NodeStats, RunOptions, RunCallOptions, RunResult, ModelUploadDetail } from './core/node.js'
export type { ContributeInit, ControlSignal, ControlState, PauseReason } from './core/controls.js'
export type { Surface, RuntimeInfo } from './core/types.js'
export type { JobProgress, AdaptiveOptions } from './jobs/requester.js'
export type { ModelProgressDetail, ModelRef } from './inference/registry.js'
export type { ComparisonPolicy } from './consensus/types.js'
export { parseReceiptOutputs, serializeReceiptOutputs } from './consensus/receipt.js'
export type { ReceiptOutputs } from './consensus/receipt.js'
export { createTensor, tensorsFromJSON, tensorsToJSON } from './tensor/index.js'
export type { NamedTensors, Tensor, TensorJSON, DType } from './tensor/index.js'
export * from './errors.js'
