/**
 * The whole IndexedDB schema, as one idb `DBSchema`. Migrations live in
 * `upgrade()` below as cumulative `if (oldVersion < n)` steps: never edit a
 * shipped step, add the next one.
 */
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb'
import type { TrustRecord } from '../consensus/reputation.js'

export const DB_VERSION = 1
export const DEFAULT_DB_NAME = 'crosscheck'

export interface ModelRecord {
  /** sha256 of `bytes`, lowercase hex: the key, re-checked on every read. */
  sha256: string
  bytes: ArrayBuffer
  size: number
  name?: string
  addedAt: number
  lastUsedAt: number
}

export type ReceiptStatus = 'accepted' | 'rejected' | 'pending' | 'invalid'

export interface ReceiptRecord {
  jobId: string
  createdAt: number
  modelHash: string
  /** The canonical receipt JSON, stored as text so its bytes (and signatures) survive untouched. */
  text: string
  status: ReceiptStatus
}

export type JobRole = 'requester' | 'worker'
export type JobStatus = 'running' | 'accepted' | 'no-quorum' | 'failed' | 'aborted' | 'voted'

export interface JobRecord {
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

export interface IdentityRecord {
  /** libp2p protobuf encoding of the private key. */
  privateKey: Uint8Array
  createdAt: number
}

/** What this peer, as a requester, knows of another (the reputation book's own record). */
export type ReputationRecord = TrustRecord

export interface CrosscheckDB extends DBSchema {
  models: { key: string, value: ModelRecord, indexes: { 'by-lastUsedAt': number } }
  receipts: { key: string, value: ReceiptRecord, indexes: { 'by-createdAt': number } }
  jobs: { key: string, value: JobRecord, indexes: { 'by-startedAt': number } }
  identity: { key: 'self', value: IdentityRecord }
  reputation: { key: string, value: ReputationRecord }
  /** Free-form user settings, by key. Values must be structured-cloneable. */
  settings: { key: string, value: unknown }
}

export function upgrade (
  db: IDBPDatabase<CrosscheckDB>,
  oldVersion: number,
  _newVersion: number | null,
  _tx: IDBPTransaction<CrosscheckDB, Array<StoreNames<CrosscheckDB>>, 'versionchange'>
): void {
  if (oldVersion < 1) {
    db.createObjectStore('models', { keyPath: 'sha256' }).createIndex('by-lastUsedAt', 'lastUsedAt')
    db.createObjectStore('receipts', { keyPath: 'jobId' }).createIndex('by-createdAt', 'createdAt')
    db.createObjectStore('jobs', { keyPath: 'jobId' }).createIndex('by-startedAt', 'startedAt')
    db.createObjectStore('identity')
    db.createObjectStore('reputation', { keyPath: 'peerId' })
    db.createObjectStore('settings')
  }
}
