/**
 * The whole IndexedDB schema, as one idb `DBSchema`. Migrations live in
 * `upgrade()` below as cumulative `if (oldVersion < n)` steps: never edit a
 * shipped step, add the next one.
 */
import type { StoredJob, StoredReceipt } from '../core/types.js'
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb'
import type { TrustRecord } from '../consensus/reputation.js'

export const DB_VERSION = 2
export const DEFAULT_DB_NAME = 'crosscheck'

/**
 * A model's metadata. Its bytes live apart (`modelBytes`, same key) so that
 * listing models, or bumping `lastUsedAt`, never reads a model's bytes.
 */
export interface ModelMeta {
  /** sha256 of the bytes, lowercase hex: the key, re-checked on every read. */
  sha256: string
  size: number
  name?: string
  addedAt: number
  lastUsedAt: number
}

/** A model's bytes, written in the same transaction as its `ModelMeta`. */
export interface ModelBytesRecord {
  sha256: string
  bytes: ArrayBuffer
}

/** A model as `getModel` returns it: metadata and verified bytes. */
export interface ModelRecord extends ModelMeta {
  bytes: ArrayBuffer
}

// The record shapes the core reads and writes (src/core/types.ts) are the ones stored.
export type { ReceiptStatus, JobRole, JobStatus } from '../core/types.js'
export type ReceiptRecord = StoredReceipt
export type JobRecord = StoredJob

/**
 * A job this peer requested and has not finished. Kept until the job ends, so
 * a job cut short by a reload or a crash is found on the next start and shown
 * as interrupted, not silently lost. (Inputs are not kept: a person's data
 * stays no longer than its job.)
 */
export interface PendingJobRecord {
  /** A local id (the network job id is made by the requester once it runs). */
  jobId: string
  modelHash: string
  inputHash: string
  startedAt: number
}

export interface IdentityRecord {
  /** libp2p protobuf encoding of the private key. */
  privateKey: Uint8Array
  createdAt: number
  /** The identity puzzle's solution for this key, once solved (optional: v1 and v2 records without it stay valid). */
  identityNonce?: string
}

/** What this peer, as a requester, knows of another (the reputation book's own record). */
export type ReputationRecord = TrustRecord

export interface CrosscheckDB extends DBSchema {
  models: { key: string, value: ModelMeta, indexes: { 'by-lastUsedAt': number } }
  modelBytes: { key: string, value: ModelBytesRecord }
  receipts: { key: string, value: ReceiptRecord, indexes: { 'by-createdAt': number } }
  jobs: { key: string, value: JobRecord, indexes: { 'by-startedAt': number } }
  pendingJobs: { key: string, value: PendingJobRecord, indexes: { 'by-startedAt': number } }
  identity: { key: 'self', value: IdentityRecord }
  reputation: { key: string, value: ReputationRecord }
}

/** A version 1 `models` record: metadata and bytes together. */
interface ModelRecordV1 extends ModelMeta { bytes: ArrayBuffer }

export function upgrade (
  db: IDBPDatabase<CrosscheckDB>,
  oldVersion: number,
  _newVersion: number | null,
  tx: IDBPTransaction<CrosscheckDB, Array<StoreNames<CrosscheckDB>>, 'versionchange'>
): void {
  // Shipped steps name stores that later steps drop, so they run on the untyped database.
  const raw = db as unknown as IDBPDatabase
  if (oldVersion < 1) {
    raw.createObjectStore('models', { keyPath: 'sha256' }).createIndex('by-lastUsedAt', 'lastUsedAt')
    raw.createObjectStore('receipts', { keyPath: 'jobId' }).createIndex('by-createdAt', 'createdAt')
    raw.createObjectStore('jobs', { keyPath: 'jobId' }).createIndex('by-startedAt', 'startedAt')
    raw.createObjectStore('identity')
    raw.createObjectStore('reputation', { keyPath: 'peerId' })
    raw.createObjectStore('settings')
  }
  if (oldVersion < 2) {
    db.createObjectStore('modelBytes', { keyPath: 'sha256' })
    db.createObjectStore('pendingJobs', { keyPath: 'jobId' }).createIndex('by-startedAt', 'startedAt')
    // Nothing ever read or wrote settings (the methods had no callers).
    raw.deleteObjectStore('settings')
    // Move each v1 model's bytes out of its metadata record. Runs inside the
    // versionchange transaction (only IDB requests are awaited, so it stays
    // alive); a failure aborts it and openDB rejects with the database still at v1.
    void splitModels(tx).catch(() => { /* the transaction aborts and openDB reports it */ })
  }
}

async function splitModels (tx: IDBPTransaction<CrosscheckDB, Array<StoreNames<CrosscheckDB>>, 'versionchange'>): Promise<void> {
  const bytesStore = tx.objectStore('modelBytes')
  let cursor = await tx.objectStore('models').openCursor()
  while (cursor != null) {
    const { bytes, ...meta } = cursor.value as ModelMeta & Partial<ModelRecordV1>
    if (bytes !== undefined) {
      await bytesStore.put({ sha256: meta.sha256, bytes })
      await cursor.update(meta)
    }
    cursor = await cursor.continue()
  }
}
