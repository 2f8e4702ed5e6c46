/**
 * The typed store over the Crosscheck IndexedDB database.
 */
import { openDB } from 'idb'
import type { IDBPDatabase } from 'idb'
import { HashMismatchError } from '../errors.js'
import { createLogger } from '../logger.js'
import { sha256Hex } from '../tensor/index.js'
import { DB_VERSION, DEFAULT_DB_NAME, upgrade } from './schema.js'
import type { CrosscheckDB, IdentityRecord, JobRecord, JobRole, ModelRecord, ReceiptRecord, ReputationRecord } from './schema.js'

const log = createLogger('storage')

export interface StoreInit {
  /** Clock for `addedAt`/`lastUsedAt` (tests pass a fixed one). @default Date.now */
  now?: () => number
}

/** A model's record without its bytes. */
export type ModelSummary = Omit<ModelRecord, 'bytes'>

export interface PutModelOptions {
  /** Expected sha256; a mismatch throws HashMismatchError and stores nothing. */
  sha256?: string
  name?: string
}

export interface ListOptions {
  /** Newest first, at most this many. @default all */
  limit?: number
}

function toArrayBuffer (bytes: ArrayBuffer | Uint8Array): ArrayBuffer {
  if (bytes instanceof ArrayBuffer) return bytes
  // Store exactly the viewed bytes, in a plain (non-shared) buffer.
  return bytes.slice().buffer as ArrayBuffer
}

export class Store {
  readonly name: string
  private readonly db: IDBPDatabase<CrosscheckDB>
  private readonly now: () => number

  constructor (db: IDBPDatabase<CrosscheckDB>, name: string, init: StoreInit = {}) {
    this.db = db
    this.name = name
    this.now = init.now ?? Date.now
  }

  // --- models -----------------------------------------------------------------

  /** Hashes `bytes` and stores them under their sha256. */
  async putModel (bytes: ArrayBuffer | Uint8Array, options: PutModelOptions = {}): Promise<ModelSummary> {
    const buf = toArrayBuffer(bytes)
    const sha256 = sha256Hex(new Uint8Array(buf))
    if (options.sha256 !== undefined && options.sha256 !== sha256) {
      throw new HashMismatchError(`model bytes hash to ${sha256}, expected ${options.sha256}`)
    }
    const t = this.now()
    const record: ModelRecord = { sha256, bytes: buf, size: buf.byteLength, addedAt: t, lastUsedAt: t, ...(options.name !== undefined ? { name: options.name } : {}) }
    const tx = this.db.transaction('models', 'readwrite')
    await Promise.all([tx.store.put(record), tx.done])
    const { bytes: _bytes, ...summary } = record
    return summary
  }

  /**
   * Reads a model and re-checks its sha256. A record whose bytes no longer
   * match (disk corruption, tampering) is deleted and HashMismatchError thrown,
   * so the caller fetches the model again. Undefined when absent.
   */
  async getModel (sha256: string): Promise<ModelRecord | undefined> {
    const record = await this.db.get('models', sha256)
    if (record == null) return undefined
    const actual = record.bytes instanceof ArrayBuffer ? sha256Hex(new Uint8Array(record.bytes)) : 'not-bytes'
    if (actual !== sha256 || record.size !== record.bytes.byteLength) {
      log.error('stored model %s hashes to %s: purging it', sha256, actual)
      await this.deleteModel(sha256)
      throw new HashMismatchError(`stored model ${sha256} hashes to ${actual}; it was deleted`)
    }
    return record
  }

  /** Whether a record exists (no hash check: `getModel` does that). */
  async hasModel (sha256: string): Promise<boolean> {
    return (await this.db.count('models', sha256)) > 0
  }

  /** Every model's metadata, most recently used first. Reads (then drops) the bytes: IndexedDB cannot project. */
  async listModels (): Promise<ModelSummary[]> {
    const all = await this.db.getAllFromIndex('models', 'by-lastUsedAt')
    return all.reverse().map(({ bytes: _bytes, ...summary }) => summary)
  }

  async deleteModel (sha256: string): Promise<boolean> {
    const tx = this.db.transaction('models', 'readwrite')
    const existed = (await tx.store.count(sha256)) > 0
    await Promise.all([tx.store.delete(sha256), tx.done])
    return existed
  }

  // --- receipts ---------------------------------------------------------------

  async putReceipt (receipt: ReceiptRecord): Promise<void> {
    const tx = this.db.transaction('receipts', 'readwrite')
    await Promise.all([tx.store.put(receipt), tx.done])
  }

  async getReceipt (jobId: string): Promise<ReceiptRecord | undefined> {
    return await this.db.get('receipts', jobId)
  }

  /** Newest first. */
  async listReceipts (options: ListOptions = {}): Promise<ReceiptRecord[]> {
    const out: ReceiptRecord[] = []
    const tx = this.db.transaction('receipts', 'readonly')
    let cursor = await tx.store.index('by-createdAt').openCursor(null, 'prev')
    while (cursor != null && (options.limit === undefined || out.length < options.limit)) {
      out.push(cursor.value)
      cursor = await cursor.continue()
    }
    await tx.done
    return out
  }

  // --- jobs -------------------------------------------------------------------

  async putJob (job: JobRecord): Promise<void> {
    const tx = this.db.transaction('jobs', 'readwrite')
    await Promise.all([tx.store.put(job), tx.done])
  }

  async getJob (jobId: string): Promise<JobRecord | undefined> {
    return await this.db.get('jobs', jobId)
  }

  /** Newest first, optionally only one role. */
  async listJobs (options: ListOptions & { role?: JobRole } = {}): Promise<JobRecord[]> {
    const out: JobRecord[] = []
    const tx = this.db.transaction('jobs', 'readonly')
    let cursor = await tx.store.index('by-startedAt').openCursor(null, 'prev')
    while (cursor != null && (options.limit === undefined || out.length < options.limit)) {
      if (options.role === undefined || cursor.value.role === options.role) out.push(cursor.value)
      cursor = await cursor.continue()
    }
    await tx.done
    return out
  }

  // --- identity ---------------------------------------------------------------

  async getIdentity (): Promise<IdentityRecord | undefined> {
    return await this.db.get('identity', 'self')
  }

  async putIdentity (identity: IdentityRecord): Promise<void> {
    const tx = this.db.transaction('identity', 'readwrite')
    await Promise.all([tx.store.put(identity, 'self'), tx.done])
  }

  // --- reputation -------------------------------------------------------------

  async getReputation (peerId: string): Promise<ReputationRecord | undefined> {
    return await this.db.get('reputation', peerId)
  }

  async putReputation (record: ReputationRecord): Promise<void> {
    const tx = this.db.transaction('reputation', 'readwrite')
    await Promise.all([tx.store.put(record), tx.done])
  }

  async listReputation (): Promise<ReputationRecord[]> {
    return await this.db.getAll('reputation')
  }

  // --- settings ---------------------------------------------------------------

  async getSetting<T = unknown> (key: string): Promise<T | undefined> {
    return await this.db.get('settings', key) as T | undefined
  }

  async putSetting (key: string, value: unknown): Promise<void> {
    const tx = this.db.transaction('settings', 'readwrite')
    await Promise.all([tx.store.put(value, key), tx.done])
  }

  close (): void {
    this.db.close()
  }
}

/** Opens (creating or migrating) the database. */
export async function openStore (name: string = DEFAULT_DB_NAME, init: StoreInit = {}): Promise<Store> {
  // the blocking callback can fire before openDB resolves: reach the store through a holder
  const holder: { store?: Store } = {}
  const db = await openDB<CrosscheckDB>(name, DB_VERSION, {
    upgrade,
    blocked: () => { log('opening %s is blocked by an older version in another tab', name) },
    // Another tab wants to migrate: step aside rather than block it; this tab must reload.
    blocking: () => { log('closing %s so another tab can upgrade it', name); holder.store?.close() },
    terminated: () => { log.error('database %s was closed by the browser', name) }
  })
  holder.store = new Store(db, name, init)
  return holder.store
}
