/**
 * Directory protocol messages (CBOR, strict, size-bounded). One request and
 * one response per stream.
 */
import { encode, decode } from 'cborg'
import { InvalidMessageError, MessageTooLargeError, showValue } from '../../../errors.js'
import type { SignedLease } from '../../lease.js'
import { MAX_LEASE_BYTES } from '../../constants.js'
import { isSha256Hex } from '../../../tensor/index.js'
import { MAX_DIRECTORY_MESSAGE_BYTES, MAX_SAMPLE_EXCLUDE, MAX_SAMPLE_SIZE } from './constants.js'

export interface SampleRequest {
  type: 'sample'
  /** Leases wanted (1..MAX_SAMPLE_SIZE). */
  count: number
  /** Only holders of this model hash. */
  model?: string
  numericClass?: string
  /** Peer ids not to include. */
  exclude: string[]
  /** Peer ids whose current lease is wanted too, whatever their state (the requester's pool). */
  renew: string[]
}

export type DirectoryRequest =
  | { type: 'lease', lease: SignedLease }
  | { type: 'leave' }
  | SampleRequest

export type DirectoryResponse =
  | { type: 'ack', held: number }
  | { type: 'leases', leases: SignedLease[], renewed: SignedLease[], total: number, held: number }
  | { type: 'error', error: { name: string, message: string } }

const DECODE_OPTIONS = { strict: true, rejectDuplicateMapKeys: true, useMaps: false, allowUndefined: false, allowIndefinite: false }

export function encodeDirectoryMessage (m: DirectoryRequest | DirectoryResponse): Uint8Array {
  // cborg refuses undefined: optional fields are left out
  return encode(Object.fromEntries(Object.entries({ v: 1, ...m }).filter(([, v]) => v !== undefined)))
}

function decodeMap (bytes: Uint8Array): Record<string, unknown> {
  if (bytes.byteLength > MAX_DIRECTORY_MESSAGE_BYTES) throw new MessageTooLargeError(`directory message of ${bytes.byteLength} bytes exceeds ${MAX_DIRECTORY_MESSAGE_BYTES}`)
  let value: unknown
  try {
    value = decode(bytes, DECODE_OPTIONS)
  } catch (err) {
    throw new InvalidMessageError('directory message is not valid CBOR', { cause: err })
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) throw new InvalidMessageError('directory message must be a map')
  const m = value as Record<string, unknown>
  if (m.v !== 1) throw new InvalidMessageError(`unsupported directory message version ${showValue(m.v)}`)
  return m
}

function signedLease (v: unknown, where: string): SignedLease {
  const o = v as Record<string, unknown> | null
  if (o == null || typeof o !== 'object' || !(o.body instanceof Uint8Array) || !(o.sig instanceof Uint8Array)) throw new InvalidMessageError(`${where} must be { body, sig }`)
  if (o.body.byteLength + o.sig.byteLength > MAX_LEASE_BYTES) throw new MessageTooLargeError(`${where} exceeds ${MAX_LEASE_BYTES} bytes`)
  return { body: o.body, sig: o.sig }
}

function leaseList (v: unknown, where: string): SignedLease[] {
  if (!Array.isArray(v) || v.length > MAX_SAMPLE_SIZE) throw new InvalidMessageError(`${where} must be at most ${MAX_SAMPLE_SIZE} leases`)
  return v.map((l, i) => signedLease(l, `${where}[${i}]`))
}

function idList (v: unknown, where: string): string[] {
  if (v === undefined) return []
  if (!Array.isArray(v) || v.length > MAX_SAMPLE_EXCLUDE || !v.every(x => typeof x === 'string' && x.length > 0 && x.length <= 128)) throw new InvalidMessageError(`${where} must be at most ${MAX_SAMPLE_EXCLUDE} peer ids`)
  return [...v] as string[]
}

function count (v: unknown, where: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new InvalidMessageError(`${where} must be an integer in ${min}..${max}`)
  return v
}

export function decodeDirectoryRequest (bytes: Uint8Array): DirectoryRequest {
  const m = decodeMap(bytes)
  switch (m.type) {
    case 'lease': return { type: 'lease', lease: signedLease(m.lease, 'lease') }
    case 'leave': return { type: 'leave' }
    case 'sample': {
      if (m.model !== undefined && !isSha256Hex(m.model)) throw new InvalidMessageError('model must be a sha256 hex string')
      if (m.numericClass !== undefined && (typeof m.numericClass !== 'string' || m.numericClass.length > 128)) throw new InvalidMessageError('numericClass must be a string of at most 128 characters')
      return {
        type: 'sample',
        count: count(m.count, 'count', 1, MAX_SAMPLE_SIZE),
        ...(m.model !== undefined ? { model: m.model as string } : {}),
        ...(m.numericClass !== undefined ? { numericClass: m.numericClass as string } : {}),
        exclude: idList(m.exclude, 'exclude'),
        renew: idList(m.renew, 'renew')
      }
    }
    default: throw new InvalidMessageError(`unknown directory request ${showValue(m.type)}`)
  }
}

export function decodeDirectoryResponse (bytes: Uint8Array): DirectoryResponse {
  const m = decodeMap(bytes)
  switch (m.type) {
    case 'ack': return { type: 'ack', held: count(m.held, 'held', 0, Number.MAX_SAFE_INTEGER) }
    case 'leases': return { type: 'leases', leases: leaseList(m.leases, 'leases'), renewed: leaseList(m.renewed ?? [], 'renewed'), total: count(m.total, 'total', 0, Number.MAX_SAFE_INTEGER), held: count(m.held, 'held', 0, Number.MAX_SAFE_INTEGER) }
    case 'error': {
      const e = m.error as Record<string, unknown> | null
      if (e == null || typeof e !== 'object' || typeof e.name !== 'string') throw new InvalidMessageError('error must be { name, message }')
      return { type: 'error', error: { name: e.name.slice(0, 64), message: typeof e.message === 'string' ? e.message.slice(0, 1024) : '' } }
    }
    default: throw new InvalidMessageError(`unknown directory response ${showValue(m.type)}`)
  }
}
