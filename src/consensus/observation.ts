/**
 * Signed reputation observations, shared between requesters.
 *
 * An observation is one requester's claim about one peer on one job, signed
 * over `"crosscheck/observation/1\n" || cbor(body)` (canonical CBOR as in
 * vote.ts). Claims are cheap: a sybil can sign any number of them. So a
 * receiver never moves trust on a claim alone:
 * - positive observations (`agreed`, `canary-passed`) are ignored for trust
 *   (anyone can vouch for their own sybils);
 * - a negative one counts only with evidence the receiver checks itself:
 *   `equivocation` (two valid votes by the subject for the same job with
 *   different output hashes: a peer may never change its answer) flags the
 *   subject; `contradiction` (a valid vote by the subject plus its output,
 *   and a receipt that verifies for the same job whose accepted output
 *   disagrees with it under the job's policy) counts as one `dissented` vote
 *   (a receipt is only as good as its quorum, so it does not flag alone).
 * The observer's signature makes the report attributable, not true.
 */
import { encode } from 'cborg'
import { InvalidMessageError, showValue } from '../errors.js'
import { hashTensors, isSha256Hex } from '../tensor/index.js'
import { outputsAgree } from './compare.js'
import { MAX_KEY_BYTES } from './constants.js'
import { CBOR_ENCODE_OPTIONS } from './job.js'
import { receiptOutput, verifyReceipt } from './receipt.js'
import { checkKeys, concatBytes, isPeerIdString, isPlainObject, isTimestamp, utf8 } from './util.js'
import { verifyVote } from './vote.js'
import type { ReceiptOutputs } from './receipt.js'
import type { NamedTensors } from '../tensor/index.js'
import type { SignatureVerifier, SignedVote, Signer } from './types.js'

export const OBSERVATION_DOMAIN = 'crosscheck/observation/1\n'

export type ObservedOutcome = 'agreed' | 'dissented' | 'canary-passed' | 'canary-failed' | 'equivocated'
const OUTCOMES: readonly ObservedOutcome[] = ['agreed', 'dissented', 'canary-passed', 'canary-failed', 'equivocated']

export interface ObservationBody {
  v: 1
  /** Peer the observation is about. */
  subject: string
  outcome: ObservedOutcome
  jobId: string
  modelHash: string
  /** Peer making the observation (must match the signing key). */
  observer: string
  /** ms since epoch. */
  at: number
}

export interface SignedObservation {
  body: ObservationBody
  signature: Uint8Array
  publicKey: Uint8Array
}

export type ObservationEvidence =
  | { kind: 'equivocation', votes: [SignedVote, SignedVote] }
  /**
   * `receiptOutputs`: the bytes a v2 receipt commits to by hash (the accepted
   * output, and those of votes that agreed with another hash); a v1 receipt
   * carries its own.
   */
  | { kind: 'contradiction', vote: SignedVote, output: NamedTensors, receiptText: string, receiptOutputs?: ReceiptOutputs }

const FIELDS = ['v', 'subject', 'outcome', 'jobId', 'modelHash', 'observer', 'at'] as const

export function validateObservationBody (value: unknown): ObservationBody {
  if (!isPlainObject(value)) throw new InvalidMessageError('observation must be an object')
  checkKeys(value, FIELDS, 'observation', FIELDS)
  if (value.v !== 1) throw new InvalidMessageError(`observation: unsupported version ${showValue(value.v)}`)
  if (!isPeerIdString(value.subject)) throw new InvalidMessageError('observation: subject must be a base58btc peer id')
  if (!isPeerIdString(value.observer)) throw new InvalidMessageError('observation: observer must be a base58btc peer id')
  if (!OUTCOMES.includes(value.outcome as ObservedOutcome)) throw new InvalidMessageError(`observation: unknown outcome ${showValue(value.outcome)}`)
  if (!isSha256Hex(value.jobId) || !isSha256Hex(value.modelHash)) throw new InvalidMessageError('observation: jobId and modelHash must be 64 lowercase hex characters')
  if (!isTimestamp(value.at)) throw new InvalidMessageError('observation: at must be integer ms since epoch')
  return { v: 1, subject: value.subject, outcome: value.outcome as ObservedOutcome, jobId: value.jobId, modelHash: value.modelHash, observer: value.observer, at: value.at }
}

export function observationSigningBytes (body: ObservationBody): Uint8Array {
  return concatBytes(utf8(OBSERVATION_DOMAIN), encode(validateObservationBody(body), CBOR_ENCODE_OPTIONS))
}

export async function signObservation (signer: Signer, fields: Omit<ObservationBody, 'v' | 'observer'>): Promise<SignedObservation> {
  const body = validateObservationBody({ ...fields, v: 1, observer: signer.peerId })
  const signature = await signer.sign(observationSigningBytes(body))
  return { body, signature: Uint8Array.from(signature), publicKey: Uint8Array.from(signer.publicKey) }
}

/** Checks shape, key binding and signature. Throws InvalidMessageError; returns a fresh copy. */
export async function verifyObservation (value: unknown, verifier: SignatureVerifier): Promise<SignedObservation> {
  if (!isPlainObject(value)) throw new InvalidMessageError('signed observation must be an object')
  checkKeys(value, ['body', 'signature', 'publicKey'], 'signed observation', ['body', 'signature', 'publicKey'])
  const body = validateObservationBody(value.body)
  for (const f of ['signature', 'publicKey'] as const) {
    const v = value[f]
    if (!(v instanceof Uint8Array) || v.length === 0 || v.length > MAX_KEY_BYTES) throw new InvalidMessageError(`signed observation: ${f} must be 1-${MAX_KEY_BYTES} bytes`)
  }
  const publicKey = value.publicKey as Uint8Array
  let keyPeer: string
  try {
    keyPeer = verifier.peerIdFromPublicKey(publicKey)
  } catch (err) {
    throw new InvalidMessageError('observation: bad public key', { cause: err })
  }
  if (keyPeer !== body.observer) throw new InvalidMessageError(`observation: observer ${body.observer} does not match key ${keyPeer}`)
  let ok = false
  try {
    ok = await verifier.verify(publicKey, observationSigningBytes(body), value.signature as Uint8Array)
  } catch { ok = false }
  if (!ok) throw new InvalidMessageError('observation: bad signature')
  return { body, signature: Uint8Array.from(value.signature as Uint8Array), publicKey: Uint8Array.from(publicKey) }
}

/** What a receiver should do with someone else's observation. */
export type ObservationWeight =
  | { action: 'ignore', reason: string }
  | { action: 'dissented' | 'flag', reason: string }

/**
 * Weighs a (verified) observation by its evidence; see the module doc.
 * Never throws for bad evidence: it is ignored with the reason.
 */
export async function weighObservation (obs: SignedObservation, evidence: ObservationEvidence | undefined, verifier: SignatureVerifier): Promise<ObservationWeight> {
  const b = obs.body
  if (b.outcome === 'agreed' || b.outcome === 'canary-passed') return { action: 'ignore', reason: 'positive observations are not transferable' }
  if (evidence === undefined) return { action: 'ignore', reason: 'no evidence' }
  try {
    if (evidence.kind === 'equivocation') {
      const [x, y] = evidence.votes
      const expected = { jobId: b.jobId, modelHash: b.modelHash, inputHash: x.body.inputHash }
      const vx = await verifyVote(x, verifier, expected)
      const vy = await verifyVote(y, verifier, expected)
      if (vx.body.peerId !== b.subject || vy.body.peerId !== b.subject) return { action: 'ignore', reason: 'votes are not the subject\'s' }
      if (vx.body.outputHash === vy.body.outputHash) return { action: 'ignore', reason: 'votes do not differ' }
      return { action: 'flag', reason: 'equivocation: two signed answers to one job' }
    }
    const outputs = evidence.receiptOutputs
    const r = await verifyReceipt(evidence.receiptText, verifier, outputs !== undefined ? { outputs } : {})
    if (!r.ok || r.receipt === undefined) return { action: 'ignore', reason: 'receipt does not verify' }
    const receipt = r.receipt
    if (receipt.jobId !== b.jobId || receipt.spec.modelHash !== b.modelHash) return { action: 'ignore', reason: 'receipt is for another job' }
    if (receipt.votes.some((v) => v.agrees && v.body.peerId === b.subject)) return { action: 'ignore', reason: 'subject agreed in the receipt' }
    const vote = await verifyVote(evidence.vote, verifier, { jobId: b.jobId, modelHash: b.modelHash, inputHash: receipt.spec.inputHash, output: evidence.output })
    if (vote.body.peerId !== b.subject) return { action: 'ignore', reason: 'vote is not the subject\'s' }
    if (hashTensors(evidence.output) !== vote.body.outputHash) return { action: 'ignore', reason: 'output does not match vote' }
    if (outputsAgree(receiptOutput(receipt, outputs), evidence.output, receipt.spec.policy, receipt.accepted.numericClass, vote.body.numericClass)) {
      return { action: 'ignore', reason: 'the subject\'s output agrees with the receipt' }
    }
    return { action: 'dissented', reason: 'signed vote contradicts an accepted receipt' }
  } catch (err) {
    return { action: 'ignore', reason: `evidence invalid: ${(err as Error).message}` }
  }
}
