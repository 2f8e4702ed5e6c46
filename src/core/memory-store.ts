/**
 * A `NodeStore` in memory, for Node peers (CLI, library in Node) and tests:
 * same contract as the IndexedDB store (hash on write, re-hash on read),
 * nothing kept after the process ends.
 */
import { HashMismatchError } from '../errors.js'
import { sha256Hex } from '../tensor/index.js'
import type { TrustRecord } from '../consensus/reputation.js'
import type { FinishedJob, JobRole, ModelSummary, NodeStore, PendingJob, StoredIdentity, StoredJob, StoredModel, StoredReceipt } from './types.js'

function copy (bytes: ArrayBuffer | Uint8Array): ArrayBuffer {
  // Uint8Array's own slice: a Node Buffer's slice() is a view on a shared pool, not a copy
  return (bytes instanceof ArrayBuffer ? bytes.slice(0) : Uint8Array.prototype.slice.call(bytes).buffer) as ArrayBuffer
}

export class MemoryStore implements NodeStore {
  private identity?: StoredIdentity
  private readonly models = new Map<string, StoredModel>()
  private readonly receipts = new Map<string, StoredReceipt>()
  private readonly jobs = new Map<string, StoredJob>()
  private readonly reputation = new Map<string, TrustRecord>()
  private readonly pending = new Map<string, PendingJob>()
  private readonly now: () => number

  constructor (init: { now?: () => number } = {}) {
    this.now = init.now ?? Date.now
  }

  async getIdentity (): Promise<StoredIdentity | undefined> { return this.identity }
  async putIdentity (identity: StoredIdentity): Promise<void> { this.identity = identity }

  async putModel (bytes: ArrayBuffer | Uint8Array, options: { sha256?: string, name?: string } = {}): Promise<ModelSummary> {
    const buf = copy(bytes)
    const sha256 = sha256Hex(new Uint8Array(buf))
    if (options.sha256 !== undefined && options.sha256 !== sha256) throw new HashMismatchError(`model bytes hash to ${sha256}, expected ${options.sha256}`)
    const t = this.now()
    const record: StoredModel = { sha256, bytes: buf, size: buf.byteLength, addedAt: t, lastUsedAt: t, ...(options.name !== undefined ? { name: options.name } : {}) }
    this.models.set(sha256, record)
    const { bytes: _bytes, ...summary } = record
    return summary
  }

  async getModel (sha256: string): Promise<StoredModel | undefined> {
    const record = this.models.get(sha256)
    if (record == null) return undefined
    if (sha256Hex(new Uint8Array(record.bytes)) !== sha256) {
      this.models.delete(sha256)
      throw new HashMismatchError(`stored model ${sha256} no longer hashes to its key; it was deleted`)
    }
    record.lastUsedAt = this.now()
    return { ...record, bytes: record.bytes.slice(0) }
  }

  async listModels (): Promise<ModelSummary[]> {
    return [...this.models.values()].sort((a, b) => b.lastUsedAt - a.lastUsedAt).map(({ bytes: _bytes, ...s }) => s)
  }

  async putReceipt (receipt: StoredReceipt): Promise<void> { this.receipts.set(receipt.jobId, receipt) }
  async getReceipt (jobId: string): Promise<StoredReceipt | undefined> { return this.receipts.get(jobId) }
  async listReceipts (options: { limit?: number } = {}): Promise<StoredReceipt[]> {
    return [...this.receipts.values()].sort((a, b) => b.createdAt - a.createdAt).slice(0, options.limit)
  }

  async putJob (job: StoredJob): Promise<void> { this.jobs.set(job.jobId, job) }
  async getJob (jobId: string): Promise<StoredJob | undefined> { return this.jobs.get(jobId) }
  async listJobs (options: { limit?: number, role?: JobRole } = {}): Promise<StoredJob[]> {
    return [...this.jobs.values()].filter(j => options.role === undefined || j.role === options.role).sort((a, b) => b.startedAt - a.startedAt).slice(0, options.limit)
  }

  async putPendingJob (job: PendingJob): Promise<void> { this.pending.set(job.jobId, job) }
  async listPendingJobs (): Promise<PendingJob[]> { return [...this.pending.values()].sort((a, b) => a.startedAt - b.startedAt) }
  async deletePendingJob (jobId: string): Promise<void> { this.pending.delete(jobId) }
  async finishJob (done: FinishedJob): Promise<void> {
    if (done.receipt != null) this.receipts.set(done.receipt.jobId, done.receipt)
    this.jobs.set(done.job.jobId, done.job)
    this.pending.delete(done.pendingJobId)
  }

  async listReputation (): Promise<TrustRecord[]> { return [...this.reputation.values()] }
  async putReputation (record: TrustRecord): Promise<void> { this.reputation.set(record.peerId, record) }
  async putReputations (records: readonly TrustRecord[]): Promise<void> { for (const r of records) this.reputation.set(r.peerId, r) }

  close (): void {}
}
