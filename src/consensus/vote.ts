/**
 * Votes: canonical signing bytes, signing, wire validation and verification.
 *
 * A vote signs `"crosscheck/vote/1\n" || cbor(body)`; the prefix keeps a vote
 * signature from ever validating as any other Crosscheck message. The output
 * itself is not signed, only its hash (`outputHash`), so the output can travel
 * beside the vote and be checked with `expected.output`.
 */
import { encode } from 'cborg'
import { InvalidMessageError, InvalidVoteError } from '../errors.js'
import { hashTensors, isSha256Hex } from '../tensor/index.js'
import { MAX_KEY_BYTES, MAX_NUMERIC_CLASS_LENGTH, VOTE_DOMAIN } from './constants.js'
import { CBOR_ENCODE_OPTIONS } from './job.js'
import { checkKeys, concatBytes, isPeerIdString, isPlainObject, isTimestamp, utf8 } from './util.js'
import type { NamedTensors } from '../tensor/index.js'
import type { SignatureVerifier, SignedVote, Signer, VoteBody } from './types.js'

const BODY_FIELDS = ['v', 'jobId', 'modelHash', 'inputHash', 'outputHash', 'numericClass', 'peerId', 'signedAt'] as const
// Printable ASCII without spaces, e.g. `ort-web/wasm/t1/chromium`.
const NUMERIC_CLASS = /^[\x21-\x7e]+$/

/** A vote body before signing; `v` and `peerId` default to 1 and the signer's id. */
export type VoteBodyFields = Omit<VoteBody, 'v' | 'peerId'> & Partial<Pick<VoteBody, 'v' | 'peerId'>>

export interface ExpectedVote {
  jobId: string
  modelHash: string
  inputHash: string
  /** When given, the vote's outputHash must equal hashTensors(output). */
  output?: NamedTensors
  /** When given, the vote's outputHash must equal it. */
  outputHash?: string
  /** The job's expiresAt: a vote with signedAt after it is expired. */
  expiresAt?: number
  /** Current time (ms); with expiresAt, a vote received after expiry is expired too. */
  now?: number
}

/** Printable ASCII without spaces, 1-MAX_NUMERIC_CLASS_LENGTH characters. */
export function isNumericClass (v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_NUMERIC_CLASS_LENGTH && NUMERIC_CLASS.test(v)
}

/** Validates a vote body; returns a fresh copy with fields in a fixed order. Throws InvalidMessageError. */
export function validateVoteBody (value: unknown): VoteBody {
  if (!isPlainObject(value)) throw new InvalidMessageError('vote body must be an object')
  checkKeys(value, BODY_FIELDS, 'vote body', BODY_FIELDS)
  const b = value
  if (b.v !== 1) throw new InvalidMessageError(`vote body: unsupported version ${String(b.v)}`)
  for (const f of ['jobId', 'modelHash', 'inputHash', 'outputHash'] as const) {
    if (!isSha256Hex(b[f])) throw new InvalidMessageError(`vote body: ${f} must be 64 lowercase hex characters`)
  }
  if (!isNumericClass(b.numericClass)) {
    throw new InvalidMessageError(`vote body: numericClass must be 1-${MAX_NUMERIC_CLASS_LENGTH} printable ASCII characters`)
  }
  if (!isPeerIdString(b.peerId)) throw new InvalidMessageError('vote body: peerId must be a base58btc peer id')
  if (!isTimestamp(b.signedAt)) throw new InvalidMessageError('vote body: signedAt must be integer ms since epoch')
  return {
    v: 1,
    jobId: b.jobId as string,
    modelHash: b.modelHash as string,
    inputHash: b.inputHash as string,
    outputHash: b.outputHash as string,
    numericClass: b.numericClass,
    peerId: b.peerId,
    signedAt: b.signedAt === 0 ? 0 : b.signedAt
  }
}

/** Validates a signed vote from the wire (structure and sizes only; verifyVote checks the signature). */
export function validateSignedVote (value: unknown): SignedVote {
  if (!isPlainObject(value)) throw new InvalidMessageError('vote must be an object')
  checkKeys(value, ['body', 'signature', 'publicKey'], 'vote', ['body', 'signature', 'publicKey'])
  const body = validateVoteBody(value.body)
  for (const f of ['signature', 'publicKey'] as const) {
    const v = value[f]
    if (!(v instanceof Uint8Array) || v.length === 0 || v.length > MAX_KEY_BYTES) {
      throw new InvalidMessageError(`vote: ${f} must be 1-${MAX_KEY_BYTES} bytes`)
    }
  }
  return { body, signature: Uint8Array.from(value.signature as Uint8Array), publicKey: Uint8Array.from(value.publicKey as Uint8Array) }
}

/** The exact bytes a vote signature covers. Throws InvalidMessageError for an invalid body. */
export function voteSigningBytes (body: VoteBody): Uint8Array {
  return concatBytes(utf8(VOTE_DOMAIN), encode(validateVoteBody(body), CBOR_ENCODE_OPTIONS))
}

/** Signs a vote body. Throws InvalidVoteError when `body.peerId` is not the signer's. */
export async function signVote (signer: Signer, fields: VoteBodyFields): Promise<SignedVote> {
  if (fields.peerId !== undefined && fields.peerId !== signer.peerId) {
    throw new InvalidVoteError(`vote peerId ${fields.peerId} is not the signer's ${signer.peerId}`)
  }
  const body = validateVoteBody({ ...fields, v: fields.v ?? 1, peerId: signer.peerId })
  const signature = await signer.sign(voteSigningBytes(body))
  return { body, signature: Uint8Array.from(signature), publicKey: Uint8Array.from(signer.publicKey) }
}

/**
 * Verifies a vote against what the requester expects. Throws InvalidVoteError
 * whose message starts with the reason: `malformed`, `bad public key`,
 * `peerId does not match publicKey`, `<field> mismatch`, `expired`,
 * `output does not match outputHash`, `bad signature`.
 * Note that `signedAt` is the voter's own claim: only `now` proves timeliness.
 */
export async function verifyVote (vote: unknown, verifier: SignatureVerifier, expected: ExpectedVote): Promise<SignedVote> {
  let v: SignedVote
  try {
    v = validateSignedVote(vote)
  } catch (err) {
    throw new InvalidVoteError(`malformed: ${(err as Error).message}`, { cause: err })
  }
  const b = v.body
  let keyPeer: string
  try {
    keyPeer = verifier.peerIdFromPublicKey(v.publicKey)
  } catch (err) {
    throw new InvalidVoteError('bad public key', { cause: err })
  }
  if (keyPeer !== b.peerId) throw new InvalidVoteError(`peerId does not match publicKey: vote says ${b.peerId}, key is ${keyPeer}`)
  for (const f of ['jobId', 'modelHash', 'inputHash'] as const) {
    if (b[f] !== expected[f]) throw new InvalidVoteError(`${f} mismatch: vote has ${b[f]}, expected ${expected[f]}`)
  }
  if (expected.outputHash !== undefined && b.outputHash !== expected.outputHash) {
    throw new InvalidVoteError(`outputHash mismatch: vote has ${b.outputHash}, expected ${expected.outputHash}`)
  }
  if (expected.expiresAt !== undefined) {
    if (b.signedAt > expected.expiresAt) throw new InvalidVoteError(`expired: signed at ${b.signedAt}, job expired at ${expected.expiresAt}`)
    if (expected.now !== undefined && expected.now > expected.expiresAt) {
      throw new InvalidVoteError(`expired: received at ${expected.now}, job expired at ${expected.expiresAt}`)
    }
  }
  if (expected.output !== undefined && hashTensors(expected.output) !== b.outputHash) {
    throw new InvalidVoteError('output does not match outputHash')
  }
  let ok: boolean
  try {
    ok = await verifier.verify(v.publicKey, voteSigningBytes(b), v.signature)
  } catch (err) {
    throw new InvalidVoteError('bad signature', { cause: err })
  }
  if (!ok) throw new InvalidVoteError(`bad signature from ${b.peerId}`)
  return v
}
