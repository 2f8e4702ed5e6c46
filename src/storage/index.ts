/**
 * Persistent storage (IndexedDB through idb; the only importer of idb):
 * models by sha256 (metadata apart from bytes, hashed on write and re-verified
 * on every read, least-recently-used evicted when the origin is full),
 * receipts, job history, requester jobs in flight, the node's identity key and
 * peer reputation.
 *
 * @example
 * ```ts
 * const store = await openStore()            // database 'crosscheck'
 * const { sha256 } = await store.putModel(bytes, { name: 'mlp' }) // may throw StorageFullError
 * try {
 *   const model = await store.getModel(sha256) // undefined when absent
 * } catch (err) {
 *   // The record was corrupted and has been purged: fetch the model again.
 *   if ((err as Error).name !== 'HashMismatchError') throw err
 * }
 * ```
 */
export { openStore, Store } from './store.js'
export { openWorkerStore, RemoteStore, createStoreWorkerApi } from './remote.js'
export type { StoreWorkerApi, StoreWorkerEndpoint } from './remote.js'
export type { StoreInit, StorageEstimateLike, ModelSummary, PutModelOptions, ListOptions } from './store.js'
export { DB_VERSION, DEFAULT_DB_NAME } from './schema.js'
export type {
  CrosscheckDB, ModelMeta, ModelRecord, ReceiptRecord, ReceiptStatus, JobRecord, JobRole, JobStatus,
  PendingJobRecord, IdentityRecord, ReputationRecord
} from './schema.js'
