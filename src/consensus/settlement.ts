/**
 * Settlement records: what a receipt's requester later says about it.
 *
 * A receipt states its assurance when signed: `replicated` (final on
 * acceptance) or `provisional` until a time (a sole or lightly checked answer
 * whose hidden recheck may still land). A record, signed by the same
 * requester key, binds the job id and the sha256 of the receipt text to a
 * status: `final` (the recheck window closed clean) or `retracted` (a later
 * recheck convicted an answer the receipt accepted), with a reason and time.
 *
 * Layout (fixed key order; `serializeRecord` is the only accepted spelling):
 * ```
 * { v: 1, type: 'crosscheck/settlement', jobId, receiptHash, status, reason?, at,
 *   requesterPublicKey, signature }
 * ```
 * The requester signs `"crosscheck/settlement/1\n" || serializeRecord(record without signature)`.
 *
 * @example
 * ```ts
 * const rec = await signSettlement({ receiptText, status: 'retracted', reason: 'recheck disagreed', at: now, signer })
 * const status = await settlementStatus(receipt, receiptText, [serializeRecord(rec)], verifier, now)
 * ```
 */
import { InvalidMessageError } from '../errors.js'
import { isSha256Hex, sha256Hex } from '../tensor/index.js'
import { MAX_REASON_CHARS, MAX_RECORD_CHARS, SETTLEMENT_DOMAIN, SETTLEMENT_TYPE } from './constants.js'
import { checkKeys, fromBase64, isPlainObject, isTimestamp, parseJsonObject, toBase64, utf8 } from './util.js'
import type { SignatureVerifier, Signer } from './types.js'

/** What a receipt says about itself (covered by the requester's signature). */
export type Assurance =
  | { kind: 'replicated' }
  | { kind: 'provisional', until: number }

export type SettlementStatus = 'final' | 'retracted'

export interface SettlementRecord {
  v: 1
  type: typeof SETTLEMENT_TYPE
  jobId: string
  /** sha256 of the receipt's canonical text. */
  receiptHash: string
  status: SettlementStatus
  /** Why (required for `retracted`, at most MAX_REASON_CHARS). */
  reason?: string
  /** ms since epoch when the requester decided. */
  at: number
  /** base64 libp2p protobuf public key of the receipt's requester. */
  requesterPublicKey: string
  /** base64 signature over settlementSigningBytes(record). */
  signature: string
}

/** The status a verifier reports for a receipt once its records are weighed. */
export type ReceiptStatus =
  | { kind: 'final', by: 'replicated' | 'record' | 'window' }
  | { kind: 'provisional', until: number }
  | { kind: 'retracted', reason: string, at: number }

/** sha256 of a receipt's canonical text: what records bind to. */
export function receiptHashOf (receiptText: string): string {
  return sha256Hex(utf8(receiptText))
}

/** Validates an assurance value (InvalidMessageError). */
export function validateAssurance (value: unknown, where = 'assurance'): Assurance {
  if (!isPlainObject(value)) throw new InvalidMessageError(`${where}: must be an object`)
  if (value.kind === 'replicated') {
    checkKeys(value, ['kind'], where, ['kind'])
    return { kind: 'replicated' }
  }
  if (value.kind === 'provisional') {
    checkKeys(value, ['kind', 'until'], where, ['kind', 'until'])
    if (!isTimestamp(value.until)) throw new InvalidMessageError(`${where}: until must be a timestamp`)
    return { kind: 'provisional', until: value.until }
  }
  throw new InvalidMessageError(`${where}: kind must be replicated or provisional`)
}

function canonicalObject (r: SettlementRecord, withSignature: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { v: r.v, type: r.type, jobId: r.jobId, receiptHash: r.receiptHash, status: r.status }
  if (r.reason !== undefined) out.reason = r.reason
  out.at = r.at
  out.requesterPublicKey = r.requesterPublicKey
  if (withSignature) out.signature = r.signature
  return out
}

/** Canonical text: compact JSON in the fixed key order (records are small and travel on gossip). */
export function serializeRecord (r: SettlementRecord): string {
  return JSON.stringify(canonicalObject(r, true))
}

export function settlementSigningBytes (r: SettlementRecord): Uint8Array {
  return utf8(SETTLEMENT_DOMAIN + JSON.stringify(canonicalObject(r, false)))
}

const FIELDS = ['v', 'type', 'jobId', 'receiptHash', 'status', 'reason', 'at', 'requesterPublicKey', 'signature'] as const
const REQUIRED = ['v', 'type', 'jobId', 'receiptHash', 'status', 'at', 'requesterPublicKey', 'signature'] as const

/** Strict parse (shape and canonical spelling; no signature check). Throws InvalidMessageError. */
export function parseRecord (text: string): SettlementRecord {
  const raw = parseJsonObject(text, 'record', MAX_RECORD_CHARS, FIELDS, REQUIRED)
  if (raw.v !== 1) throw new InvalidMessageError('record: unsupported version')
  if (raw.type !== SETTLEMENT_TYPE) throw new InvalidMessageError(`record: type must be ${SETTLEMENT_TYPE}`)
  if (!isSha256Hex(raw.jobId) || !isSha256Hex(raw.receiptHash)) throw new InvalidMessageError('record: jobId and receiptHash must be 64 lowercase hex characters')
  if (raw.status !== 'final' && raw.status !== 'retracted') throw new InvalidMessageError('record: status must be final or retracted')
  if (raw.reason !== undefined && (typeof raw.reason !== 'string' || raw.reason.length === 0 || raw.reason.length > MAX_REASON_CHARS)) {
    throw new InvalidMessageError(`record: reason must be 1-${MAX_REASON_CHARS} characters`)
  }
  if (raw.status === 'retracted' && raw.reason === undefined) throw new InvalidMessageError('record: a retraction must say why')
  if (!isTimestamp(raw.at)) throw new InvalidMessageError('record: at must be a timestamp')
  if (typeof raw.requesterPublicKey !== 'string' || typeof raw.signature !== 'string') throw new InvalidMessageError('record: requesterPublicKey and signature must be base64')
  fromBase64(raw.requesterPublicKey, 'record.requesterPublicKey')
  fromBase64(raw.signature, 'record.signature')
  const rec: SettlementRecord = {
    v: 1,
    type: SETTLEMENT_TYPE,
    jobId: raw.jobId,
    receiptHash: raw.receiptHash,
    status: raw.status,
    ...(raw.reason !== undefined ? { reason: raw.reason as string } : {}),
    at: raw.at,
    requesterPublicKey: raw.requesterPublicKey,
    signature: raw.signature
  }
  if (serializeRecord(rec) !== text) throw new InvalidMessageError('record: text is not the canonical serialization')
  return rec
}

export interface SignSettlementInput {
  jobId: string
  /** The receipt's canonical text (its hash is bound). */
  receiptText: string
  status: SettlementStatus
  reason?: string
  at: number
  /** The receipt's requester key. */
  signer: Signer
}

/** Signs a settlement or retraction record. Throws InvalidMessageError on a bad field. */
export async function signSettlement (input: SignSettlementInput): Promise<SettlementRecord> {
  const unsigned: SettlementRecord = {
    v: 1,
    type: SETTLEMENT_TYPE,
    jobId: input.jobId,
    receiptHash: receiptHashOf(input.receiptText),
    status: input.status,
    ...(input.reason !== undefined ? { reason: input.reason } : {}),
    at: input.at,
    requesterPublicKey: toBase64(input.signer.publicKey),
    signature: toBase64(new Uint8Array(1))
  }
  parseRecord(serializeRecord(unsigned)) // same rules as a reader's
  const signature = await input.signer.sign(settlementSigningBytes(unsigned))
  return { ...unsigned, signature: toBase64(signature) }
}

/**
 * Checks a record against a receipt: canonical, same job and receipt text,
 * signed by the receipt's requester. Returns why not, or undefined when valid.
 */
export async function checkRecord (rec: SettlementRecord, receipt: { jobId: string, spec: { requester: string } }, receiptText: string, verifier: SignatureVerifier): Promise<string | undefined> {
  if (rec.jobId !== receipt.jobId) return 'record is for another job'
  if (rec.receiptHash !== receiptHashOf(receiptText)) return 'record is for another receipt text'
  let publicKey: Uint8Array
  try {
    publicKey = fromBase64(rec.requesterPublicKey, 'requesterPublicKey')
    if (verifier.peerIdFromPublicKey(publicKey) !== receipt.spec.requester) return 'record is not signed by the receipt\'s requester'
  } catch {
    return 'bad public key'
  }
  try {
    const ok = await verifier.verify(publicKey, settlementSigningBytes(rec), fromBase64(rec.signature, 'signature'))
    return ok ? undefined : 'bad signature'
  } catch {
    return 'bad signature'
  }
}

/**
 * Pure status resolution over already-checked records. A retraction wins over
 * everything (the earliest one is reported); a `final` record settles a
 * provisional receipt early; otherwise a provisional receipt is final once
 * `now` has passed its window (when `now` is known). Receipts with no
 * assurance field predate it and were accepted by the full rule: replicated.
 */
export function resolveStatus (assurance: Assurance | undefined, records: readonly SettlementRecord[], now?: number): ReceiptStatus {
  const retractions = records.filter((r) => r.status === 'retracted').sort((a, b) => a.at - b.at)
  if (retractions.length > 0) return { kind: 'retracted', reason: retractions[0].reason ?? 'retracted', at: retractions[0].at }
  const a = assurance ?? { kind: 'replicated' }
  if (a.kind === 'replicated') return { kind: 'final', by: 'replicated' }
  if (records.some((r) => r.status === 'final')) return { kind: 'final', by: 'record' }
  if (now !== undefined && now >= a.until) return { kind: 'final', by: 'window' }
  return { kind: 'provisional', until: a.until }
}

/** One line for people: `final`, `provisional until <ISO>`, `retracted (<why>)`. */
export function describeStatus (s: ReceiptStatus): string {
  if (s.kind === 'final') return s.by === 'replicated' ? 'final (replicated)' : s.by === 'record' ? 'final (settled by the requester)' : 'final (recheck window passed)'
  if (s.kind === 'provisional') return `provisional until ${new Date(s.until).toISOString()}`
  return `retracted at ${new Date(s.at).toISOString()} (${s.reason})`
}
