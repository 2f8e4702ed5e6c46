/**
 * Leases: a contributor's capabilities, signed with its own key, with a
 * lifetime. A contributor hands its lease to its home relays, which hold it
 * while the peer stays connected and answer requesters' samples with it.
 * Because the peer signs it, a relay (or anyone on the way) can omit a lease
 * but never forge or alter one, so it cannot choose a requester's replicas:
 * the requester draws them itself from the leases it checked.
 *
 * @example
 * ```ts
 * const signed = await signLease(privateKey, { ...capabilities, peerId, at: Date.now(), seq: 1, ttl: 90_000, slots: 4, addrs })
 * const lease = await openLease(signed, { now: Date.now() }) // throws InvalidMessageError if forged or stale
 * ```
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { InvalidMessageError, MessageTooLargeError } from '../errors.js'
import { concatBytes, utf8 } from '../consensus/util.js'
import { decodeLeaseBody, encodeLeaseBody } from './codec.js'
import type { LeaseBody } from './codec.js'
import { LEASE_CLOCK_SKEW_MS, MAX_LEASE_BYTES } from './constants.js'

export type { LeaseBody }

/** A lease on the wire: the CBOR body and the peer's signature over it. */
export interface SignedLease {
  body: Uint8Array
  sig: Uint8Array
}

/** A checked lease: the decoded body, with the signed form kept to pass on unchanged. */
export interface Lease extends LeaseBody {
  signed: SignedLease
}

/** Domain separation: a lease signature can never be replayed as a vote or receipt signature. */
const DOMAIN = utf8('crosscheck-lease/1.0.0\n')

/** Signs a lease body with the key of the peer it describes. */
export async function signLease (key: PrivateKey, body: LeaseBody): Promise<SignedLease> {
  const bytes = encodeLeaseBody(body)
  if (bytes.byteLength > MAX_LEASE_BYTES) throw new MessageTooLargeError(`lease of ${bytes.byteLength} bytes exceeds ${MAX_LEASE_BYTES}`)
  return { body: bytes, sig: await key.sign(concatBytes(DOMAIN, bytes)) }
}

export interface OpenLeaseOptions {
  /** The reader's clock (ms since epoch): a lease issued longer ago than its TTL plus the skew allowance is stale. */
  now: number
  /** @default LEASE_CLOCK_SKEW_MS */
  skew?: number
}

/**
 * Decodes and checks a signed lease: size, shape, the signature against the
 * public key inside its own peer id (Ed25519 ids carry the key), and
 * freshness. Throws InvalidMessageError (MessageTooLargeError for size).
 */
export async function openLease (signed: SignedLease, options: OpenLeaseOptions): Promise<Lease> {
  if (!(signed.body instanceof Uint8Array) || !(signed.sig instanceof Uint8Array)) throw new InvalidMessageError('lease must be { body, sig } bytes')
  if (signed.body.byteLength + signed.sig.byteLength > MAX_LEASE_BYTES) throw new MessageTooLargeError(`lease exceeds ${MAX_LEASE_BYTES} bytes`)
  const body = decodeLeaseBody(signed.body, MAX_LEASE_BYTES)
  let publicKey
  try {
    publicKey = peerIdFromString(body.peerId).publicKey
  } catch (err) {
    throw new InvalidMessageError(`lease names a bad peer id ${body.peerId}`, { cause: err })
  }
  if (publicKey == null) throw new InvalidMessageError(`lease peer id ${body.peerId} carries no public key`)
  let ok = false
  try {
    ok = await publicKey.verify(concatBytes(DOMAIN, signed.body), signed.sig)
  } catch {}
  if (!ok) throw new InvalidMessageError(`lease of ${body.peerId} has a bad signature`)
  if (options.now - body.at > body.ttl + (options.skew ?? LEASE_CLOCK_SKEW_MS)) throw new InvalidMessageError(`lease of ${body.peerId} is stale (issued ${options.now - body.at} ms ago, ttl ${body.ttl} ms)`)
  return { ...body, signed }
}

/** The capabilities two leases differ in that matter to requesters (not `at`, `seq`, `jobsDone`). */
export function leaseChanged (a: Omit<LeaseBody, 'at' | 'seq'> | undefined, b: Omit<LeaseBody, 'at' | 'seq'>): boolean {
  if (a == null) return true
  const key = (l: Omit<LeaseBody, 'at' | 'seq'>): string => JSON.stringify([l.models, l.numericClass, l.backend, l.threads, l.runtime ?? '', l.paused, l.slots > 0, l.addrs, l.identityNonce ?? '', l.ttl])
  return key(a) !== key(b)
}
