/**
 * Receipts: a permanent, offline-verifiable JSON proof that a job's output was
 * accepted by a quorum of signed votes.
 *
 * Version 2 (written by this code) commits to outputs by hash and keeps their
 * bytes apart (fixed key order; `serializeReceipt` is the only accepted spelling):
 * ```
 * { v: 2, type: 'crosscheck/receipt', jobId, spec: JobSpec,
 *   accepted: { outputHash, numericClass },
 *   votes: [{ body: VoteBody, signature, publicKey, agrees }],  // sorted by peerId
 *   assurance?: { kind: 'replicated' } | { kind: 'provisional', until },
 *   requesterPublicKey, signature }
 * ```
 * The bytes travel beside it as `ReceiptOutputs` (output hash → tensors;
 * `serializeReceiptOutputs` writes them as a file): the accepted output, and
 * the output of every vote that agrees with a different hash (a tolerance or
 * cross-class agreement), so a verifier can re-run that comparison. Given
 * them, verifyReceipt hashes each and re-checks agreement; without them it
 * checks everything the hashes decide (signatures, quorum, agreement by equal
 * hash) and fails `agreement` only where a vote agreed with other bytes.
 * The requester signs `"crosscheck/receipt/2\n" || serializeReceipt(receipt
 * without signature)`: a few KiB however large the output.
 *
 * Version 1 (older receipts) embedded the outputs: `accepted.output` and, on a
 * vote that agrees with a different hash, `output`, as tensors
 * `{ name, dtype, dims, data }` sorted by name, `data` being the canonical
 * little-endian bytes in strict base64, signed under `"crosscheck/receipt/1\n"`.
 * They still verify exactly as before. Any other `v` fails the `version` check
 * (ReceiptVersionError from parseReceipt).
 *
 * `assurance` (settlement.ts) says whether the receipt is final on acceptance
 * or provisional until a recheck window closes; it is signed like the rest.
 * Receipts made before the field existed have none and are read as
 * `replicated`: they were accepted by the same quorum rule, and their
 * signature covers no claim either way.
 *
 * Verification is all-or-nothing on the text: the `canonical` check requires
 * the text to equal serializeReceipt(parse(text)), so any changed byte,
 * whitespace included, fails.
 */
import { InvalidMessageError, ReceiptInvalidError, ReceiptOutputMissingError, ReceiptVersionError } from '../errors.js'
import { hashTensors, isDType, isSha256Hex, MAX_TENSORS, tensorBytes, tensorFromBytes } from '../tensor/index.js'
import { explainDisagreement } from './compare.js'
import { MAX_CLOCK_SKEW_MS, MAX_RECEIPT_CHARS, MAX_RECEIPT_VOTES, RECEIPT_DOMAIN, RECEIPT_DOMAIN_V2, RECEIPT_OUTPUTS_TYPE, RECEIPT_TYPE, RECEIPT_VERSIONS } from './constants.js'
import { jobIdOf, validateJobSpec } from './job.js'
import { judgeCounts, requiredAgreeing } from './rule.js'
import { checkRecord, describeStatus, parseRecord, resolveStatus, validateAssurance } from './settlement.js'
import { checkKeys, fromBase64, isPlainObject, parseJsonObject, toBase64, utf8 } from './util.js'
import { isNumericClass, validateVoteBody, voteSigningBytes } from './vote.js'
import type { DType, NamedTensors } from '../tensor/index.js'
import type { Assurance, ReceiptStatus, SettlementRecord } from './settlement.js'
import type { Ballot, JobSpec, NumericClass, SignatureVerifier, Signer, VoteBody } from './types.js'

/** A tensor inside a receipt: canonical little-endian bytes as base64. */
export interface ReceiptTensor {
  name: string
  dtype: DType
  dims: number[]
  data: string
}

export interface ReceiptVote {
  body: VoteBody
  /** base64 signature over voteSigningBytes(body). */
  signature: string
  /** base64 libp2p protobuf public key. */
  publicKey: string
  /** Whether the requester counted this vote towards the quorum. */
  agrees: boolean
  /** v1 only: present exactly when `agrees` and body.outputHash differs from the accepted hash. */
  output?: ReceiptTensor[]
}

export type ReceiptVersion = typeof RECEIPT_VERSIONS[number]

/**
 * The output bytes a v2 receipt commits to, by output hash: the accepted
 * output and those of votes that agreed with a different hash.
 */
export type ReceiptOutputs = Readonly<Record<string, NamedTensors>>

export interface Receipt {
  /** 2 for receipts written now; 1 for older ones (outputs embedded). */
  v: ReceiptVersion
  type: typeof RECEIPT_TYPE
  jobId: string
  spec: JobSpec
  accepted: {
    outputHash: string
    /** Class of the accepted output (an agreeing vote with this hash and class vouches for it). */
    numericClass: NumericClass
    /** v1 only: the accepted output's bytes (v2 keeps them apart, in ReceiptOutputs). */
    output?: ReceiptTensor[]
  }
  votes: ReceiptVote[]
  /** Absent in receipts older than the field: read as `replicated`. */
  assurance?: Assurance
  /** base64 libp2p protobuf public key of spec.requester. */
  requesterPublicKey: string
  /** base64 requester signature over receiptSigningBytes(receipt). */
  signature: string
}

export interface ReceiptCheck {
  /** version | format | canonical | outputs | jobId | output | vote | agreement | quorum | requester | time | record */
  name: string
  ok: boolean
  detail?: string
}

export interface ReceiptVerification {
  ok: boolean
  checks: ReceiptCheck[]
  /** The parsed receipt when at least the format check passed. */
  receipt?: Receipt
  /** Settlement status (final, provisional until, retracted) when the receipt itself verified. */
  status?: ReceiptStatus
  /** `status` in words. */
  statusText?: string
}

export interface VerifyReceiptOptions {
  /** When given, adds a `time` check: no timestamp may lie more than MAX_CLOCK_SKEW_MS after it. Expiry never fails a receipt. */
  now?: number
  /**
   * The output bytes a v2 receipt commits to (parseReceiptOutputs reads them
   * from a file). Each given entry is hashed (`outputs` check); the accepted
   * one and those of votes that agreed with a different hash let `output` and
   * `agreement` re-check the bytes. Ignored for v1 receipts (theirs are inside).
   */
  outputs?: ReceiptOutputs
  /**
   * Settlement and retraction record texts (settlement.ts). Each adds a
   * `record` check (a record for another receipt or signer fails it); valid
   * ones decide `status`.
   */
  records?: readonly string[]
}

export interface BuildReceiptInput {
  spec: JobSpec
  /** Checked against jobIdOf(spec) when given. */
  jobId?: string
  /**
   * The tally's accepted result (pass the TallyResult itself). `numericClass`
   * is the cluster centre's class; when left out, the classes of agreeing
   * ballots with the accepted hash are tried in sorted order and the first
   * under which every agreeing vote re-checks is used.
   */
  accepted: { output: NamedTensors, outputHash: string, numericClass?: NumericClass }
  /** Every counted ballot, agreeing and dissenting (one per peer). Signatures must already be verified. */
  ballots: readonly Ballot[]
  /** Peer ids of the agreeing ballots. */
  agreeingPeers: Iterable<string>
  /** The requester's key (its peerId must be spec.requester). */
  signer: Signer
  /** What the receipt claims about its finality. @default { kind: 'replicated' } */
  assurance?: Assurance
  /** Which layout to write (1 only to reproduce older receipts). @default 2 */
  version?: ReceiptVersion
}

// ---------------------------------------------------------------- tensors

function tensorsToReceipt (tensors: NamedTensors): ReceiptTensor[] {
  return Object.keys(tensors).sort().map((name) => {
    const t = tensors[name]
    return { name, dtype: t.dtype, dims: [...t.dims], data: toBase64(tensorBytes(t)) }
  })
}

/** Decodes receipt tensors (strict: sorted unique names, canonical base64). Throws InvalidMessageError. */
export function tensorsFromReceipt (value: unknown, where: string): NamedTensors {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_TENSORS) {
    throw new InvalidMessageError(`${where}: must be an array of 1-${MAX_TENSORS} tensors`)
  }
  const out: NamedTensors = {}
  let prev: string | undefined
  for (const [i, t] of value.entries()) {
    const at = `${where}[${i}]`
    if (!isPlainObject(t)) throw new InvalidMessageError(`${at}: must be { name, dtype, dims, data }`)
    checkKeys(t, ['name', 'dtype', 'dims', 'data'], at, ['name', 'dtype', 'dims', 'data'])
    if (typeof t.name !== 'string') throw new InvalidMessageError(`${at}: name must be a string`)
    if (prev !== undefined && !(prev < t.name)) throw new InvalidMessageError(`${at}: names must be unique and sorted`)
    prev = t.name
    if (!isDType(t.dtype)) throw new InvalidMessageError(`${at}: unknown dtype`)
    if (!Array.isArray(t.dims)) throw new InvalidMessageError(`${at}: dims must be an array`)
    if (typeof t.data !== 'string') throw new InvalidMessageError(`${at}: data must be base64`)
    try {
      out[t.name] = tensorFromBytes(t.dtype, t.dims as number[], fromBase64(t.data, `${at}.data`))
    } catch (err) {
      throw new InvalidMessageError(`${at}: ${(err as Error).message}`, { cause: err })
    }
  }
  return out
}

// ---------------------------------------------------------------- canonical form

function normalizeTensor (t: ReceiptTensor): ReceiptTensor {
  return { name: t.name, dtype: t.dtype, dims: [...t.dims], data: t.data }
}

const byName = (a: ReceiptTensor, b: ReceiptTensor): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/**
 * A copy in canonical key order, votes sorted by peer id, tensors by name (v1);
 * `signature` left out when `withSignature` is false. A v2 receipt has no bytes to copy.
 */
function canonicalObject (r: Receipt, withSignature: boolean): Record<string, unknown> {
  const votes = [...r.votes]
    .sort((a, b) => (a.body.peerId < b.body.peerId ? -1 : a.body.peerId > b.body.peerId ? 1 : 0))
    .map((v) => {
      const out: Record<string, unknown> = { body: validateVoteBody(v.body), signature: v.signature, publicKey: v.publicKey, agrees: v.agrees }
      if (r.v === 1 && v.output !== undefined) out.output = [...v.output].sort(byName).map(normalizeTensor)
      return out
    })
  const accepted: Record<string, unknown> = { outputHash: r.accepted.outputHash, numericClass: r.accepted.numericClass }
  if (r.v === 1) accepted.output = [...(r.accepted.output ?? [])].sort(byName).map(normalizeTensor)
  const out: Record<string, unknown> = {
    v: r.v,
    type: r.type,
    jobId: r.jobId,
    spec: validateJobSpec(r.spec),
    accepted,
    votes
  }
  if (r.assurance !== undefined) out.assurance = r.assurance.kind === 'replicated' ? { kind: 'replicated' } : { kind: 'provisional', until: r.assurance.until }
  out.requesterPublicKey = r.requesterPublicKey
  if (withSignature) out.signature = r.signature
  return out
}

/** Canonical text: 2-space JSON in the fixed key order, one trailing newline. */
export function serializeReceipt (r: Receipt): string {
  return JSON.stringify(canonicalObject(r, true), null, 2) + '\n'
}

/** The bytes the requester signs: the version's domain prefix + canonical text of everything but `signature`. */
export function receiptSigningBytes (r: Receipt): Uint8Array {
  return utf8((r.v === 1 ? RECEIPT_DOMAIN : RECEIPT_DOMAIN_V2) + JSON.stringify(canonicalObject(r, false), null, 2) + '\n')
}

// ---------------------------------------------------------------- outputs apart (v2)

/**
 * The outputs a v2 receipt commits to, taken from what the job produced: the
 * accepted output and the output of each vote that agreed with another hash.
 */
export function receiptOutputsOf (receipt: Receipt, accepted: NamedTensors, ballots: readonly Ballot[]): ReceiptOutputs {
  const out: Record<string, NamedTensors> = { [receipt.accepted.outputHash]: accepted }
  const agreeing = new Set(receipt.votes.filter((v) => v.agrees).map((v) => v.body.peerId))
  for (const b of ballots) {
    const { peerId, outputHash } = b.vote.body
    if (agreeing.has(peerId) && out[outputHash] === undefined) out[outputHash] = b.output
  }
  return out
}

/**
 * The receipt outputs file: `{ v: 1, type: 'crosscheck/receipt-outputs',
 * jobId, outputs: [{ outputHash, tensors }] }` (sorted by hash, tensors in the
 * v1 receipt form), canonical 2-space JSON with one trailing newline.
 */
export function serializeReceiptOutputs (jobId: string, outputs: ReceiptOutputs): string {
  const entries = Object.keys(outputs).sort().map((outputHash) => ({ outputHash, tensors: tensorsToReceipt(outputs[outputHash]) }))
  return JSON.stringify({ v: 1, type: RECEIPT_OUTPUTS_TYPE, jobId, outputs: entries }, null, 2) + '\n'
}

/**
 * Reads a receipt outputs file. Strict: every entry must hash to its
 * `outputHash` (a receipt commits to hashes, so bytes that do not hash are
 * refused here, before any comparison). Throws InvalidMessageError, or
 * ReceiptVersionError for another `v`.
 */
export function parseReceiptOutputs (text: string): { jobId: string, outputs: ReceiptOutputs } {
  const raw = parseJsonObject(text, 'receipt outputs', MAX_RECEIPT_CHARS, ['v', 'type', 'jobId', 'outputs'], ['v', 'type', 'jobId', 'outputs'])
  if (raw.v !== 1) throw new ReceiptVersionError(raw.v, `receipt outputs: unsupported version ${JSON.stringify(raw.v)} (this code reads 1)`)
  if (raw.type !== RECEIPT_OUTPUTS_TYPE) throw new InvalidMessageError(`receipt outputs: type must be ${RECEIPT_OUTPUTS_TYPE}`)
  if (!isSha256Hex(raw.jobId)) throw new InvalidMessageError('receipt outputs: jobId must be 64 lowercase hex characters')
  if (!Array.isArray(raw.outputs) || raw.outputs.length === 0 || raw.outputs.length > MAX_RECEIPT_VOTES) {
    throw new InvalidMessageError(`receipt outputs: outputs must be an array of 1-${MAX_RECEIPT_VOTES} entries`)
  }
  const outputs: Record<string, NamedTensors> = {}
  let prev: string | undefined
  for (const [i, e] of raw.outputs.entries()) {
    const at = `receipt outputs.outputs[${i}]`
    if (!isPlainObject(e)) throw new InvalidMessageError(`${at}: must be { outputHash, tensors }`)
    checkKeys(e, ['outputHash', 'tensors'], at, ['outputHash', 'tensors'])
    if (!isSha256Hex(e.outputHash)) throw new InvalidMessageError(`${at}: outputHash must be 64 lowercase hex characters`)
    if (prev !== undefined && !(prev < e.outputHash)) throw new InvalidMessageError(`${at}: hashes must be unique and sorted`)
    prev = e.outputHash
    const tensors = tensorsFromReceipt(e.tensors, `${at}.tensors`)
    const hash = hashTensors(tensors)
    if (hash !== e.outputHash) throw new InvalidMessageError(`${at}: tensors hash to ${hash}, not ${e.outputHash}`)
    outputs[e.outputHash] = tensors
  }
  return { jobId: raw.jobId, outputs }
}

// ---------------------------------------------------------------- parsing

const RECEIPT_FIELDS = ['v', 'type', 'jobId', 'spec', 'accepted', 'votes', 'assurance', 'requesterPublicKey', 'signature'] as const
const RECEIPT_REQUIRED = ['v', 'type', 'jobId', 'spec', 'accepted', 'votes', 'requesterPublicKey', 'signature'] as const

/** A receipt with the output bytes it carries (v1) or was given (v2). */
interface Parsed {
  receipt: Receipt
  /** The accepted output, when its bytes are at hand. */
  output: NamedTensors | undefined
  /** Per vote (receipt order): its output when it agreed with another hash and its bytes are at hand. */
  voteOutputs: Array<NamedTensors | undefined>
}

function isReceiptVersion (v: unknown): v is ReceiptVersion {
  return (RECEIPT_VERSIONS as readonly unknown[]).includes(v)
}

function parseStrict (text: string): Parsed {
  const raw = parseJsonObject(text, 'receipt', MAX_RECEIPT_CHARS, RECEIPT_FIELDS, RECEIPT_REQUIRED)
  const v = raw.v
  if (!isReceiptVersion(v)) throw new ReceiptVersionError(v, `receipt: unsupported version ${JSON.stringify(v) ?? typeof v} (this code reads ${RECEIPT_VERSIONS.join(' and ')})`)
  if (raw.type !== RECEIPT_TYPE) throw new InvalidMessageError(`receipt: type must be ${RECEIPT_TYPE}`)
  if (!isSha256Hex(raw.jobId)) throw new InvalidMessageError('receipt: jobId must be 64 lowercase hex characters')
  const spec = validateJobSpec(raw.spec)

  const acc = raw.accepted
  if (!isPlainObject(acc)) throw new InvalidMessageError('receipt: accepted must be an object')
  const accKeys = v === 1 ? ['outputHash', 'numericClass', 'output'] : ['outputHash', 'numericClass']
  checkKeys(acc, accKeys, 'receipt.accepted', accKeys)
  if (!isSha256Hex(acc.outputHash)) throw new InvalidMessageError('receipt.accepted: outputHash must be 64 lowercase hex characters')
  if (!isNumericClass(acc.numericClass)) throw new InvalidMessageError('receipt.accepted: bad numericClass')
  const output = v === 1 ? tensorsFromReceipt(acc.output, 'receipt.accepted.output') : undefined

  if (!Array.isArray(raw.votes) || raw.votes.length === 0 || raw.votes.length > MAX_RECEIPT_VOTES) {
    throw new InvalidMessageError(`receipt: votes must be an array of 1-${MAX_RECEIPT_VOTES} votes`)
  }
  const votes: ReceiptVote[] = []
  const voteOutputs: Array<NamedTensors | undefined> = []
  const peers = new Set<string>()
  const voteKeys = v === 1 ? ['body', 'signature', 'publicKey', 'agrees', 'output'] : ['body', 'signature', 'publicKey', 'agrees']
  for (const [i, raw1] of raw.votes.entries()) {
    const at = `receipt.votes[${i}]`
    if (!isPlainObject(raw1)) throw new InvalidMessageError(`${at}: must be an object`)
    checkKeys(raw1, voteKeys, at, ['body', 'signature', 'publicKey', 'agrees'])
    const body = validateVoteBody(raw1.body)
    if (peers.has(body.peerId)) throw new InvalidMessageError(`${at}: second vote from ${body.peerId}`)
    peers.add(body.peerId)
    if (typeof raw1.signature !== 'string' || typeof raw1.publicKey !== 'string') throw new InvalidMessageError(`${at}: signature and publicKey must be base64`)
    fromBase64(raw1.signature, `${at}.signature`)
    fromBase64(raw1.publicKey, `${at}.publicKey`)
    if (typeof raw1.agrees !== 'boolean') throw new InvalidMessageError(`${at}: agrees must be a boolean`)
    const vote: ReceiptVote = { body, signature: raw1.signature, publicKey: raw1.publicKey, agrees: raw1.agrees }
    if (v === 1) {
      const needsOutput = raw1.agrees && body.outputHash !== acc.outputHash
      if (needsOutput !== (raw1.output !== undefined)) {
        throw new InvalidMessageError(`${at}: output must be present exactly when the vote agrees with a different outputHash`)
      }
      if (raw1.output !== undefined) {
        voteOutputs.push(tensorsFromReceipt(raw1.output, `${at}.output`))
        vote.output = raw1.output as ReceiptTensor[]
      } else {
        voteOutputs.push(undefined)
      }
    } else {
      voteOutputs.push(undefined)
    }
    votes.push(vote)
  }
  if (typeof raw.requesterPublicKey !== 'string' || typeof raw.signature !== 'string') throw new InvalidMessageError('receipt: requesterPublicKey and signature must be base64')
  fromBase64(raw.requesterPublicKey, 'receipt.requesterPublicKey')
  fromBase64(raw.signature, 'receipt.signature')
  const accepted: Receipt['accepted'] = { outputHash: acc.outputHash, numericClass: acc.numericClass }
  if (v === 1) accepted.output = acc.output as ReceiptTensor[]
  const receipt: Receipt = {
    v,
    type: RECEIPT_TYPE,
    jobId: raw.jobId,
    spec,
    accepted,
    votes,
    ...(raw.assurance !== undefined ? { assurance: validateAssurance(raw.assurance, 'receipt.assurance') } : {}),
    requesterPublicKey: raw.requesterPublicKey,
    signature: raw.signature
  }
  return { receipt, output, voteOutputs }
}

/** A v2 receipt's bytes from `outputs` (entries already hashed by outputsCheck), placed as a v1 receipt carries them. */
function withOutputs (p: Parsed, outputs: ReceiptOutputs | undefined): Parsed {
  const r = p.receipt
  if (r.v === 1 || outputs === undefined) return p
  const at = (hash: string): NamedTensors | undefined => Object.hasOwn(outputs, hash) ? outputs[hash] : undefined
  return {
    receipt: r,
    output: at(r.accepted.outputHash),
    voteOutputs: r.votes.map((v) => (v.agrees && v.body.outputHash !== r.accepted.outputHash ? at(v.body.outputHash) : undefined))
  }
}

/**
 * Parses a receipt: strict format plus the canonical-text check; no
 * signatures. Throws ReceiptVersionError for a version this code does not
 * read, else ReceiptInvalidError with check `format` or `canonical`.
 */
export function parseReceipt (text: string): Receipt {
  let parsed: Parsed
  try {
    parsed = parseStrict(text)
  } catch (err) {
    if ((err as Error).name === 'ReceiptVersionError') throw err
    throw new ReceiptInvalidError('format', (err as Error).message, { cause: err })
  }
  if (serializeReceipt(parsed.receipt) !== text) throw new ReceiptInvalidError('canonical', 'text is not the canonical serialization')
  return parsed.receipt
}

/**
 * The accepted output of a (parsed) receipt as tensors: a v1 receipt's own,
 * a v2 receipt's from `outputs` (hashed against the receipt's outputHash).
 * Throws ReceiptOutputMissingError when a v2 receipt's bytes are not given,
 * InvalidMessageError when they do not hash.
 */
export function receiptOutput (r: Receipt, outputs?: ReceiptOutputs): NamedTensors {
  if (r.v === 1) return tensorsFromReceipt(r.accepted.output, 'receipt.accepted.output')
  const hash = r.accepted.outputHash
  const out = outputs !== undefined && Object.hasOwn(outputs, hash) ? outputs[hash] : undefined
  if (out === undefined) throw new ReceiptOutputMissingError(hash, `the receipt commits to output ${hash.slice(0, 12)}… by hash; its bytes were not given`)
  if (hashTensors(out) !== hash) throw new InvalidMessageError(`the output given for ${hash.slice(0, 12)}… hashes to ${hashTensors(out).slice(0, 12)}…`)
  return out
}

// ---------------------------------------------------------------- checks

/** Each given output must hash to the hash it is given under; `valid` keeps those that do (the others are used for nothing). */
function outputsCheck (outputs: ReceiptOutputs): { check: ReceiptCheck, valid: ReceiptOutputs } {
  const bad: string[] = []
  const valid: Record<string, NamedTensors> = {}
  for (const [hash, tensors] of Object.entries(outputs)) {
    let got: string
    try {
      got = hashTensors(tensors)
    } catch (err) {
      bad.push(`${hash.slice(0, 12)}…: ${(err as Error).message}`)
      continue
    }
    if (got !== hash) bad.push(`${hash.slice(0, 12)}… hashes to ${got.slice(0, 12)}…`)
    else valid[hash] = tensors
  }
  const check: ReceiptCheck = bad.length === 0 ? { name: 'outputs', ok: true, detail: `${Object.keys(outputs).length} given, each hashes to its key` } : { name: 'outputs', ok: false, detail: bad.join('; ') }
  return { check, valid }
}

/** The checks that need no keys: jobId, output, agreement, quorum. */
function contentChecks (p: Parsed): ReceiptCheck[] {
  const { receipt: r, output } = p
  const checks: ReceiptCheck[] = []
  const recomputed = jobIdOf(r.spec)
  checks.push(recomputed === r.jobId ? { name: 'jobId', ok: true } : { name: 'jobId', ok: false, detail: `spec hashes to ${recomputed}, receipt says ${r.jobId}` })

  const outHash = output !== undefined ? hashTensors(output) : r.accepted.outputHash
  if (outHash !== r.accepted.outputHash) {
    checks.push({ name: 'output', ok: false, detail: `accepted output hashes to ${outHash}, receipt says ${r.accepted.outputHash}` })
  } else if (!r.votes.some((v) => v.agrees && v.body.outputHash === outHash && v.body.numericClass === r.accepted.numericClass)) {
    checks.push({ name: 'output', ok: false, detail: `no agreeing vote in class ${r.accepted.numericClass} produced the accepted output` })
  } else {
    checks.push(output === undefined ? { name: 'output', ok: true, detail: 'committed to by hash (bytes not given)' } : { name: 'output', ok: true })
  }

  const disagreements: string[] = []
  r.votes.forEach((v, i) => {
    if (!v.agrees) return
    const same = v.body.outputHash === r.accepted.outputHash
    if (output === undefined) {
      // v2 without the accepted bytes: equal hashes are equal bytes, which agree under every policy
      if (!same) disagreements.push(`${v.body.peerId}: agreed with output ${v.body.outputHash.slice(0, 12)}…, not the accepted bytes; checking that needs the receipt's outputs`)
      return
    }
    const theirs = same ? output : p.voteOutputs[i]
    if (theirs === undefined) {
      disagreements.push(`${v.body.peerId}: agreed with output ${v.body.outputHash.slice(0, 12)}…, whose bytes were not given`)
      return
    }
    const why = explainDisagreement(output, theirs, r.spec.policy, r.accepted.numericClass, v.body.numericClass)
    if (why !== undefined) disagreements.push(`${v.body.peerId}: ${why}`)
  })
  checks.push(disagreements.length === 0 ? { name: 'agreement', ok: true } : { name: 'agreement', ok: false, detail: disagreements.join('; ') })

  // The job run's own rule (rule.ts judgeCounts), replayed on the receipt's
  // votes as a finished job: every vote in, nothing in flight, no room for
  // more. The clustering the run did is what the `agreement` check above
  // re-checks vote by vote; a receipt carries dissenting votes' hashes only.
  const agreeing = r.votes.filter((v) => v.agrees).length
  const dissenting = r.votes.length - agreeing
  const decision = judgeCounts({ agreeing, dissenting, quorum: r.spec.quorum, outstanding: 0, dispatched: r.votes.length, maxReplicas: r.votes.length, recheckPending: false })
  if (decision.kind !== 'accept') {
    const required = requiredAgreeing(r.spec.quorum, dissenting)
    checks.push({ name: 'quorum', ok: false, detail: dissenting === 0 ? `${agreeing} agreeing peers, quorum is ${r.spec.quorum}` : `${agreeing} agreeing peers against ${dissenting} dissenting; the rule needs ${required}` })
  } else {
    checks.push({ name: 'quorum', ok: true, detail: `${agreeing} of ${r.votes.length} votes agree, ${decision.required} needed (quorum ${r.spec.quorum})` })
  }
  return checks
}

async function safeVerify (verifier: SignatureVerifier, publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  try {
    return await verifier.verify(publicKey, data, signature)
  } catch {
    return false
  }
}

function safePeerId (verifier: SignatureVerifier, publicKey: Uint8Array): string | undefined {
  try {
    return verifier.peerIdFromPublicKey(publicKey)
  } catch {
    return undefined
  }
}

async function voteCheck (r: Receipt, v: ReceiptVote, out: NamedTensors | undefined, verifier: SignatureVerifier): Promise<ReceiptCheck> {
  const b = v.body
  const fail = (why: string): ReceiptCheck => ({ name: 'vote', ok: false, detail: `${b.peerId}: ${why}` })
  const publicKey = fromBase64(v.publicKey, 'publicKey')
  const keyPeer = safePeerId(verifier, publicKey)
  if (keyPeer !== b.peerId) return fail(keyPeer === undefined ? 'bad public key' : `peerId does not match publicKey (${keyPeer})`)
  if (b.jobId !== r.jobId) return fail('jobId mismatch (vote for another job)')
  if (b.modelHash !== r.spec.modelHash) return fail('modelHash mismatch')
  if (b.inputHash !== r.spec.inputHash) return fail('inputHash mismatch')
  if (b.signedAt > r.spec.expiresAt) return fail(`signed at ${b.signedAt}, after the job expired at ${r.spec.expiresAt}`)
  if (out !== undefined && hashTensors(out) !== b.outputHash) return fail('included output does not match outputHash')
  if (!await safeVerify(verifier, publicKey, voteSigningBytes(b), fromBase64(v.signature, 'signature'))) return fail('bad signature')
  return { name: 'vote', ok: true, detail: b.peerId }
}

async function requesterCheck (r: Receipt, verifier: SignatureVerifier): Promise<ReceiptCheck> {
  const publicKey = fromBase64(r.requesterPublicKey, 'requesterPublicKey')
  const keyPeer = safePeerId(verifier, publicKey)
  if (keyPeer !== r.spec.requester) {
    return { name: 'requester', ok: false, detail: keyPeer === undefined ? 'bad public key' : `key is ${keyPeer}, spec.requester is ${r.spec.requester}` }
  }
  const ok = await safeVerify(verifier, publicKey, receiptSigningBytes(r), fromBase64(r.signature, 'signature'))
  return ok ? { name: 'requester', ok: true } : { name: 'requester', ok: false, detail: 'bad signature' }
}

function timeCheck (r: Receipt, now: number): ReceiptCheck {
  const limit = now + MAX_CLOCK_SKEW_MS
  if (r.spec.createdAt > limit) return { name: 'time', ok: false, detail: `job created at ${r.spec.createdAt}, in the future` }
  const late = r.votes.find((v) => v.body.signedAt > limit)
  if (late !== undefined) return { name: 'time', ok: false, detail: `${late.body.peerId} signed at ${late.body.signedAt}, in the future` }
  return { name: 'time', ok: true }
}

/**
 * Verifies a receipt text offline. Runs every check it can (version or format
 * failing stops the rest) and reports each; `ok` is true only if all pass.
 * Checks: format (or `version`, for a version this code does not read),
 * canonical, `outputs` (v2, when outputs are given), jobId, output, one
 * `vote` per vote, agreement, quorum, requester, and `time` when `opts.now`
 * is given. A receipt never fails for being old; votes signed after
 * spec.expiresAt do fail.
 */
export async function verifyReceipt (text: string, verifier: SignatureVerifier, opts: VerifyReceiptOptions = {}): Promise<ReceiptVerification> {
  let parsed: Parsed
  try {
    parsed = parseStrict(text)
  } catch (err) {
    const name = (err as Error).name === 'ReceiptVersionError' ? 'version' : 'format'
    return { ok: false, checks: [{ name, ok: false, detail: (err as Error).message }] }
  }
  const r = parsed.receipt
  const checks: ReceiptCheck[] = [{ name: 'format', ok: true }]
  checks.push(serializeReceipt(r) === text ? { name: 'canonical', ok: true } : { name: 'canonical', ok: false, detail: 'text is not the canonical serialization (whitespace, key order, number or string spelling)' })
  let outputs: ReceiptOutputs | undefined
  if (r.v === 2 && opts.outputs !== undefined) {
    const given = outputsCheck(opts.outputs)
    checks.push(given.check)
    outputs = given.valid
  }
  parsed = withOutputs(parsed, outputs)
  checks.push(...contentChecks(parsed))
  for (const [i, v] of r.votes.entries()) checks.push(await voteCheck(r, v, parsed.voteOutputs[i], verifier))
  checks.push(await requesterCheck(r, verifier))
  if (opts.now !== undefined) checks.push(timeCheck(r, opts.now))
  const valid: SettlementRecord[] = []
  for (const recordText of opts.records ?? []) {
    let rec: SettlementRecord
    try {
      rec = parseRecord(recordText)
    } catch (err) {
      checks.push({ name: 'record', ok: false, detail: (err as Error).message })
      continue
    }
    const why = await checkRecord(rec, r, text, verifier)
    if (why !== undefined) {
      checks.push({ name: 'record', ok: false, detail: `${rec.status}: ${why}` })
    } else {
      valid.push(rec)
      checks.push({ name: 'record', ok: true, detail: rec.status })
    }
  }
  const ok = checks.every((c) => c.ok)
  if (!checks.filter((c) => c.name !== 'record').every((c) => c.ok)) return { ok, checks, receipt: r }
  const status = resolveStatus(r.assurance, valid, opts.now)
  return { ok, checks, receipt: r, status, statusText: describeStatus(status) }
}

/**
 * Like verifyReceipt but throws naming the first failed check:
 * ReceiptVersionError for a version this code does not read, else
 * ReceiptInvalidError. Returns the receipt.
 */
export async function assertValidReceipt (text: string, verifier: SignatureVerifier, opts: VerifyReceiptOptions = {}): Promise<Receipt> {
  const result = await verifyReceipt(text, verifier, opts)
  const failed = result.checks.find((c) => !c.ok)
  if (failed?.name === 'version') parseReceipt(text) // throws the ReceiptVersionError itself
  if (failed !== undefined || result.receipt === undefined) {
    throw new ReceiptInvalidError(failed?.name ?? 'format', failed?.detail ?? 'invalid receipt')
  }
  return result.receipt
}

// ---------------------------------------------------------------- building

/**
 * Builds and signs a receipt for an accepted job (v2 unless `version` says 1;
 * receiptOutputsOf gives the bytes a v2 receipt commits to). Runs the same
 * content checks a verifier will (jobId, output, agreement, quorum) on the
 * outputs themselves and throws ReceiptInvalidError naming the failed one, so
 * a bad receipt is never signed. Vote signatures are not re-checked here:
 * verify votes first.
 */
export async function buildReceipt (input: BuildReceiptInput): Promise<Receipt> {
  const wrap = <T>(check: string, fn: () => T): T => {
    try {
      return fn()
    } catch (err) {
      throw new ReceiptInvalidError(check, (err as Error).message, { cause: err })
    }
  }
  const version = input.version ?? 2
  if (!isReceiptVersion(version)) throw new ReceiptVersionError(version, `cannot write receipt version ${String(version)}`)
  const spec = wrap('format', () => validateJobSpec(input.spec))
  const jobId = jobIdOf(spec)
  if (input.jobId !== undefined && input.jobId !== jobId) throw new ReceiptInvalidError('jobId', `spec hashes to ${jobId}, not ${input.jobId}`)
  if (input.signer.peerId !== spec.requester) throw new ReceiptInvalidError('requester', `signer ${input.signer.peerId} is not spec.requester ${spec.requester}`)
  const { accepted } = input
  if (accepted.numericClass !== undefined && !isNumericClass(accepted.numericClass)) throw new ReceiptInvalidError('format', 'accepted.numericClass is not a valid numeric class')
  const agreeing = new Set(input.agreeingPeers)
  if (input.ballots.length > MAX_RECEIPT_VOTES) throw new ReceiptInvalidError('format', `more than ${MAX_RECEIPT_VOTES} ballots`)
  const seen = new Set<string>()
  const entries: Array<{ vote: ReceiptVote, output: NamedTensors | undefined }> = []
  for (const ballot of input.ballots) {
    const body = wrap('format', () => validateVoteBody(ballot.vote.body))
    if (seen.has(body.peerId)) throw new ReceiptInvalidError('vote', `two ballots from ${body.peerId}`)
    seen.add(body.peerId)
    if (body.jobId !== jobId || body.modelHash !== spec.modelHash || body.inputHash !== spec.inputHash) {
      throw new ReceiptInvalidError('vote', `${body.peerId}: vote is for another job, model or input`)
    }
    if (body.signedAt > spec.expiresAt) throw new ReceiptInvalidError('vote', `${body.peerId}: signed after the job expired`)
    const agrees = agreeing.has(body.peerId)
    const vote: ReceiptVote = { body, signature: toBase64(ballot.vote.signature), publicKey: toBase64(ballot.vote.publicKey), agrees }
    let output: NamedTensors | undefined
    if (agrees && body.outputHash !== accepted.outputHash) {
      if (hashTensors(ballot.output) !== body.outputHash) throw new ReceiptInvalidError('vote', `${body.peerId}: output does not match outputHash`)
      output = ballot.output
      if (version === 1) vote.output = tensorsToReceipt(output)
    }
    entries.push({ vote, output })
  }
  for (const peer of agreeing) {
    if (!seen.has(peer)) throw new ReceiptInvalidError('vote', `agreeing peer ${peer} has no ballot`)
  }
  entries.sort((a, b) => (a.vote.body.peerId < b.vote.body.peerId ? -1 : 1))
  const voteOutputs = entries.map((e) => e.output)
  const classes = accepted.numericClass !== undefined
    ? [accepted.numericClass]
    : [...new Set(entries.filter((e) => e.vote.agrees && e.vote.body.outputHash === accepted.outputHash).map((e) => e.vote.body.numericClass))].sort()
  if (classes.length === 0) throw new ReceiptInvalidError('output', 'no agreeing ballot has the accepted outputHash')
  const embedded = version === 1 ? tensorsToReceipt(accepted.output) : undefined
  let firstFailure: ReceiptCheck | undefined
  for (const numericClass of classes) {
    const unsigned: Receipt = {
      v: version,
      type: RECEIPT_TYPE,
      jobId,
      spec,
      accepted: embedded !== undefined ? { outputHash: accepted.outputHash, numericClass, output: embedded } : { outputHash: accepted.outputHash, numericClass },
      votes: entries.map((e) => e.vote),
      assurance: input.assurance === undefined ? { kind: 'replicated' } : wrap('format', () => validateAssurance(input.assurance)),
      requesterPublicKey: toBase64(input.signer.publicKey),
      signature: ''
    }
    // checked on the outputs themselves, whichever layout carries them
    const failed = contentChecks({ receipt: unsigned, output: accepted.output, voteOutputs }).find((c) => !c.ok)
    if (failed !== undefined) {
      firstFailure ??= failed
      continue
    }
    const signature = await input.signer.sign(receiptSigningBytes(unsigned))
    return { ...unsigned, signature: toBase64(signature) }
  }
  throw new ReceiptInvalidError(firstFailure?.name ?? 'output', firstFailure?.detail ?? 'failed')
}
