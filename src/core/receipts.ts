/**
 * The receipts a node holds, and the retractions that reach them: its own
 * receipts (stored by `run`), receipts someone else requested and gave it
 * (`importReceipt`: verified first, with the output bytes a v2 receipt
 * commits to when given), and settlement records heard on gossip or handed
 * in (`applyRecord`). A valid retraction of a held receipt marks it invalid
 * and its job retracted; one heard before its receipt is kept (a few per
 * job, 1024 jobs) and applied at the import. Forged or foreign records are
 * ignored: a record counts only against the receipt whose requester signed it.
 */
import type { AbortOptions } from '../abort.js'
import { createLogger } from '../logger.js'
import { libp2pVerifier } from '../network/keys.js'
import { assertValidReceipt, parseReceipt } from '../consensus/receipt.js'
import type { Receipt, ReceiptOutputs } from '../consensus/receipt.js'
import { checkRecord, parseRecord } from '../consensus/settlement.js'
import type { NodeStore, StoredReceipt } from './types.js'

const log = createLogger('core:receipts')

/** Retractions kept for receipts not (yet) held: jobs, and records per job (a forged one must not push the real one out). */
const HEARD_JOBS = 1024
const HEARD_PER_JOB = 4

export interface RetractedDetail { jobId: string, reason: string, record: string }

export class ReceiptBook {
  private readonly heard = new Map<string, string[]>()

  /**
   * @param store the running node's store (throws NotStartedError when stopped)
   * @param onRetracted called once a held receipt is marked invalid by a valid retraction
   */
  constructor (private readonly store: () => NodeStore, private readonly onRetracted: (detail: RetractedDetail) => void) {}

  /** Applies a settlement or retraction record; resolves whether it retracted a held receipt. Never throws for bad records. */
  async applyRecord (recordText: string): Promise<boolean> {
    const store = this.store()
    let rec
    try {
      rec = parseRecord(recordText)
    } catch (err) {
      log('ignoring a bad record: %s', (err as Error).message)
      return false
    }
    if (rec.status !== 'retracted') return false
    const stored = await store.getReceipt(rec.jobId).catch(() => undefined)
    if (stored == null) {
      // checked when (if) the receipt is imported: its signer can only be told against the receipt
      this.remember(rec.jobId, recordText)
      return false
    }
    if (stored.status === 'invalid') return false
    let receipt
    try {
      receipt = parseReceipt(stored.text)
    } catch {
      return false
    }
    const why = await checkRecord(rec, receipt, stored.text, libp2pVerifier)
    if (why !== undefined) {
      log('ignoring a retraction of %s: %s', rec.jobId.slice(0, 12), why)
      return false
    }
    await this.markRetracted(rec.jobId, stored)
    this.onRetracted({ jobId: rec.jobId, reason: rec.reason ?? 'retracted', record: recordText })
    return true
  }

  /**
   * Verifies and keeps someone else's receipt (with the output bytes it
   * commits to, when given: checked against its hashes). A receipt already
   * held is kept as it is. Throws ReceiptVersionError or ReceiptInvalidError.
   */
  async importReceipt (text: string, options: AbortOptions & { outputs?: ReceiptOutputs } = {}): Promise<StoredReceipt> {
    const store = this.store()
    options.signal?.throwIfAborted()
    const receipt = await assertValidReceipt(text, libp2pVerifier, options.outputs !== undefined ? { outputs: options.outputs } : {})
    // a receipt already held (this node's own, or imported before) is kept as it is: its status, a retraction included, stands
    const existing = await store.getReceipt(receipt.jobId)
    if (existing != null) return existing
    const outputs = receipt.v === 2 && options.outputs !== undefined ? pickOutputs(receipt, options.outputs) : undefined
    const stored: StoredReceipt = { jobId: receipt.jobId, createdAt: Date.now(), modelHash: receipt.spec.modelHash, text, ...(outputs !== undefined ? { outputs } : {}), status: 'accepted' }
    await store.putReceipt(stored)
    const heard = this.heard.get(receipt.jobId) ?? []
    this.heard.delete(receipt.jobId)
    for (const record of heard) if (await this.applyRecord(record)) return { ...stored, status: 'invalid' }
    return stored
  }

  /** A retracted job: its receipt (when held; `receipt` if already read) is stored as invalid, and the history says retracted. */
  async markRetracted (jobId: string, receipt?: StoredReceipt): Promise<void> {
    const store = this.store()
    const held = receipt ?? await store.getReceipt(jobId)
    if (held != null && held.status !== 'invalid') await store.putReceipt({ ...held, status: 'invalid' })
    const job = await store.getJob(jobId)
    if (job != null && job.status !== 'retracted') await store.putJob({ ...job, status: 'retracted' })
  }

  private remember (jobId: string, recordText: string): void {
    const list = this.heard.get(jobId) ?? []
    if (list.includes(recordText) || list.length >= HEARD_PER_JOB) return
    list.push(recordText)
    this.heard.delete(jobId)
    this.heard.set(jobId, list)
    while (this.heard.size > HEARD_JOBS) this.heard.delete(this.heard.keys().next().value as string)
  }
}

/** The entries of `outputs` a receipt commits to (its accepted output and agreeing votes'), nothing else kept. */
function pickOutputs (receipt: Receipt, outputs: ReceiptOutputs): ReceiptOutputs | undefined {
  const wanted = new Set([receipt.accepted.outputHash, ...receipt.votes.filter(v => v.agrees).map(v => v.body.outputHash)])
  const kept = Object.fromEntries(Object.entries(outputs).filter(([hash]) => wanted.has(hash)))
  return Object.keys(kept).length > 0 ? kept : undefined
}
