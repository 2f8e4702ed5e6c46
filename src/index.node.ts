/**
 * Crosscheck in Node: the same core as in browsers, with an in-memory store
 * (a fresh identity per process) and onnxruntime-node. Needs a global
 * WebSocket (Node ≥ 22, or Node 20 with `--experimental-websocket`).
 *
 * @example
 * ```ts
 * import { createNode } from 'crosscheck'
 * const node = createNode({ relays: [relay], catalogUrl: 'http://127.0.0.1:8080/', contribute: false })
 * await node.start()
 * const { outputs, receipt } = await node.run('mlp', inputs, { replicas: 3, quorum: 2 })
 * ```
 */
import './polyfills.js'
import { CrosscheckNode } from './core/node.js'
import type { CrosscheckNodeInit } from './core/node.js'
import { MemoryStore } from './core/memory-store.js'
import type { InferenceRuntime, ModelCatalog, NodeStore, RuntimeInit } from './core/types.js'
import { HttpCatalog, manifestUrlOf } from './inference/http-catalog.js'
import { NodeRunner } from './cli/ort-node.js'

export interface CreateNodeInit extends CrosscheckNodeInit {
  /** Base URL of a Crosscheck site whose catalog names models by id; ignored when `catalog` is given. @default none */
  catalogUrl?: string | URL | null
  /** Another catalog (the CLI passes its built-in one). */
  catalog?: ModelCatalog | null
  /** @default a new MemoryStore (nothing kept after the process) */
  store?: NodeStore
  /** @default onnxruntime-node, 1 thread */
  runtime?: (init: RuntimeInit) => InferenceRuntime
}

export function createNode (init: CreateNodeInit): CrosscheckNode {
  const store = init.store ?? new MemoryStore()
  const catalog = init.catalog !== undefined ? init.catalog : (init.catalogUrl != null ? new HttpCatalog(manifestUrlOf(init.catalogUrl)) : null)
  return new CrosscheckNode({
    openStore: async () => store,
    createRuntime: init.runtime ?? (() => new NodeRunner()),
    catalog,
    hardwareConcurrency: 1,
    crossOriginIsolated: false
  }, { surface: 'library', ...init })
}

export { CrosscheckNode, DEFAULT_POLICY } from './core/node.js'
export type { CrosscheckNodeInit, NodeEvents, NodeState, NodeStats, RunOptions, RunCallOptions, RunResult, ModelUploadDetail } from './core/node.js'
export type { ContributeInit, ControlSignal, ControlState, PauseReason } from './core/controls.js'
export type { Surface, RuntimeInfo, NodeStore, InferenceRuntime, ModelCatalog } from './core/types.js'
export { MemoryStore } from './core/memory-store.js'
export type { JobProgress, AdaptiveOptions } from './jobs/requester.js'
export type { ModelProgressDetail, ModelRef } from './inference/registry.js'
export type { ComparisonPolicy } from './consensus/types.js'
export { createTensor, tensorsFromJSON, tensorsToJSON } from './tensor/index.js'
export type { NamedTensors, Tensor, TensorJSON, DType } from './tensor/index.js'
export * from './errors.js'
