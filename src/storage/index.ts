/**
 * Persistent storage (IndexedDB through idb; the only importer of idb):
 * models by sha256 (re-verified on every read), receipts, job history, the
 * node's identity key, peer reputation and settings.
 *
 * @example
 * ```ts
 * const store = await openStore()            // database 'crosscheck'
 * const { sha256 } = await store.putModel(bytes, { name: 'mlp' })
 * try {
 *   const model = await store.getModel(sha256) // undefined when absent
 * } catch (err) {
 *   // The record was corrupted and has been purged: fetch the model again.
 *   if ((err as Error).name !== 'HashMismatchError') throw err
 * }
 * ```
 */
export { openStore, Store } from './store.js'
export type { StoreInit, ModelSummary, PutModelOptions, ListOptions } from './store.js'
export { DB_VERSION, DEFAULT_DB_NAME } from './schema.js'
export type {
  CrosscheckDB, ModelRecord, ReceiptRecord, ReceiptStatus, JobRecord, JobRole, JobStatus,
  IdentityRecord, ReputationRecord
} from './schema.js'
