/**
 * Job specs: validation, canonical CBOR encoding, job ids.
 *
 * Canonical encoding: cborg sorts map keys length-first then bytewise (RFC 7049
 * canonical order, independent of insertion order), integers take their
 * shortest form, and `float64: true` writes every non-integer as a 64-bit
 * float so another implementation need not reproduce cborg's float-shrinking.
 * Validation first normalises the spec (no unknown or undefined fields, -0 is
 * 0, only safe integers), so equal specs always give equal bytes.
 */
import { decode, encode } from 'cborg'
import { InvalidMessageError, showValue } from '../errors.js'
import { isSha256Hex, sha256Hex } from '../tensor/index.js'
import { validatePolicy } from './compare.js'
import { MAX_NONCE_HEX, MAX_REPLICAS, MIN_NONCE_HEX } from './constants.js'
import { bytesEqual, checkKeys, isPeerIdString, isPlainObject, isTimestamp } from './util.js'
import type { JobSpec } from './types.js'

/** What createJobSpec needs: everything but the version. Time and nonce come from the caller. */
export type JobSpecFields = Omit<JobSpec, 'v'>

const JOB_FIELDS = ['v', 'modelHash', 'inputHash', 'policy', 'replicas', 'quorum', 'requester', 'nonce', 'createdAt', 'expiresAt'] as const
const NONCE = /^(?:[0-9a-f]{2})+$/

/** Encoder options shared by every canonical CBOR encoding in consensus. */
export const CBOR_ENCODE_OPTIONS = { float64: true } as const
const CBOR_DECODE_OPTIONS = { strict: true, rejectDuplicateMapKeys: true, allowUndefined: false, allowIndefinite: false, allowBigInt: false } as const

/** Builds a validated spec (v = 1). Throws InvalidMessageError naming the bad field. */
export function createJobSpec (fields: JobSpecFields): JobSpec {
  return validateJobSpec({ v: 1, ...fields })
}

/**
 * Validates a spec from the wire, a receipt or a user; returns a fresh,
 * normalised copy. Rules: lowercase sha256 hex hashes, a valid policy,
 * 1 <= quorum <= replicas <= MAX_REPLICAS, a base58 requester id, an even-length
 * lowercase hex nonce of 8-64 bytes, integer ms timestamps with
 * createdAt < expiresAt, and no other fields.
 */
export function validateJobSpec (value: unknown): JobSpec {
  if (!isPlainObject(value)) throw new InvalidMessageError('job spec must be an object')
  checkKeys(value, JOB_FIELDS, 'job spec', JOB_FIELDS)
  const s = value
  if (s.v !== 1) throw new InvalidMessageError(`job spec: unsupported version ${showValue(s.v)}`)
  if (!isSha256Hex(s.modelHash)) throw new InvalidMessageError('job spec: modelHash must be 64 lowercase hex characters')
  if (!isSha256Hex(s.inputHash)) throw new InvalidMessageError('job spec: inputHash must be 64 lowercase hex characters')
  const policy = validatePolicy(s.policy)
  if (typeof s.replicas !== 'number' || !Number.isSafeInteger(s.replicas) || s.replicas < 1 || s.replicas > MAX_REPLICAS) {
    throw new InvalidMessageError(`job spec: replicas must be an integer from 1 to ${MAX_REPLICAS}, got ${showValue(s.replicas)}`)
  }
  if (typeof s.quorum !== 'number' || !Number.isSafeInteger(s.quorum) || s.quorum < 1 || s.quorum > s.replicas) {
    throw new InvalidMessageError(`job spec: quorum must be an integer from 1 to replicas (${s.replicas}), got ${showValue(s.quorum)}`)
  }
  if (!isPeerIdString(s.requester)) throw new InvalidMessageError('job spec: requester must be a base58btc peer id')
  if (typeof s.nonce !== 'string' || s.nonce.length < MIN_NONCE_HEX || s.nonce.length > MAX_NONCE_HEX || !NONCE.test(s.nonce)) {
    throw new InvalidMessageError(`job spec: nonce must be ${MIN_NONCE_HEX}-${MAX_NONCE_HEX} lowercase hex characters (whole bytes)`)
  }
  if (!isTimestamp(s.createdAt)) throw new InvalidMessageError('job spec: createdAt must be integer ms since epoch')
  if (!isTimestamp(s.expiresAt)) throw new InvalidMessageError('job spec: expiresAt must be integer ms since epoch')
  if (s.expiresAt <= s.createdAt) throw new InvalidMessageError('job spec: expiresAt must be after createdAt')
  return {
    v: 1,
    modelHash: s.modelHash,
    inputHash: s.inputHash,
    policy,
    replicas: s.replicas,
    quorum: s.quorum,
    requester: s.requester,
    nonce: s.nonce,
    createdAt: s.createdAt === 0 ? 0 : s.createdAt,
    expiresAt: s.expiresAt
  }
}

/** Canonical CBOR of a (validated) spec. Throws InvalidMessageError for an invalid one. */
export function encodeJobSpec (spec: JobSpec): Uint8Array {
  return encode(validateJobSpec(spec), CBOR_ENCODE_OPTIONS)
}

/**
 * Decodes and validates a spec from CBOR, rejecting any encoding that is not
 * the canonical one (so a job id names exactly one byte string).
 */
export function decodeJobSpec (bytes: Uint8Array): JobSpec {
  let raw: unknown
  try {
    raw = decode(bytes, CBOR_DECODE_OPTIONS)
  } catch (err) {
    throw new InvalidMessageError('job spec: malformed CBOR', { cause: err })
  }
  const spec = validateJobSpec(raw)
  if (!bytesEqual(encodeJobSpec(spec), bytes)) throw new InvalidMessageError('job spec: CBOR is not canonical')
  return spec
}

/** Job id: sha256 (lowercase hex) of the canonical encoding. */
export function jobIdOf (spec: JobSpec): string {
  return sha256Hex(encodeJobSpec(spec))
}
