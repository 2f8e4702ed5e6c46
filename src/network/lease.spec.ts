/**
 * Leases: only the key inside a lease's own peer id can make one that opens;
 * any change to its bytes, a stale issue time or an oversized lease is refused
 * by name; and `leaseChanged` tells apart what requesters care about from
 * routine renewals.
 */
import { describe, it, expect } from 'vitest'
import { identityFromSeed, peerIdOf } from './keys.js'
import { leaseChanged, openLease, signLease } from './lease.js'
import type { LeaseBody, SignedLease } from './lease.js'
import { decodeLeaseBody } from './codec.js'
import { LEASE_CLOCK_SKEW_MS, MAX_ANNOUNCED_MODELS, MAX_LEASE_BYTES } from './constants.js'
import { rejection } from '../testing/async.js'

const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n)
const key = await identityFromSeed(seed(1))
const other = await identityFromSeed(seed(2))
const peerId = peerIdOf(key)
const NOW = 1_700_000_000_000
const MODEL = 'a'.repeat(64)

function body (patch: Partial<LeaseBody> = {}): LeaseBody {
  return {
    peerId,
    models: [MODEL],
    numericClass: 'test/cpu/t1/node',
    backend: 'cpu',
    threads: 1,
    jobsDone: 7,
    at: NOW,
    paused: false,
    runtime: 'ort-node',
    identityNonce: '00ff',
    seq: 3,
    ttl: 90_000,
    slots: 4,
    addrs: [`/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWRelay/p2p-circuit/webrtc/p2p/${peerId}`],
    ...patch
  }
}

/** A copy of `bytes` with the first occurrence of `from` (ASCII) replaced by `to`, same length. */
function replaceAscii (bytes: Uint8Array, from: string, to: string): Uint8Array {
  expect(to.length).toBe(from.length)
  const needle = new TextEncoder().encode(from)
  for (let i = 0; i + needle.length <= bytes.length; i++) {
    if (needle.every((b, j) => bytes[i + j] === b)) {
      const out = bytes.slice()
      out.set(new TextEncoder().encode(to), i)
      return out
    }
  }
  throw new Error(`${from} not found in the lease body`)
}


describe('signLease / openLease', () => {
  it('opens with exactly the fields the signer put in, and keeps the signed form', async () => {
    const b = body()
    const signed = await signLease(key, b)
    const lease = await openLease(signed, { now: NOW + 1_000 })
    expect({ ...lease, signed: undefined }).toEqual({ ...b, signed: undefined })
    expect(lease.signed).toBe(signed)
  })

  it('refuses a body with one character changed, even though the body still decodes', async () => {
    const signed = await signLease(key, body())
    const tampered = replaceAscii(signed.body, 'cpu', 'gpu')
    expect(decodeLeaseBody(tampered, MAX_LEASE_BYTES).backend).toBe('gpu')
    const err = await rejection(openLease({ body: tampered, sig: signed.sig }, { now: NOW }))
    expect(err.name).toBe('InvalidMessageError')
  })

  it('refuses a signature with one bit flipped', async () => {
    const signed = await signLease(key, body())
    for (const i of [0, 31, signed.sig.length - 1]) {
      const sig = signed.sig.slice()
      sig[i] ^= 0x01
      const err = await rejection(openLease({ body: signed.body, sig }, { now: NOW }))
      expect(err.name).toBe('InvalidMessageError')
    }
  })

  it('refuses a lease about this peer signed by another key', async () => {
    const forged = await signLease(other, body({ peerId }))
    const err = await rejection(openLease(forged, { now: NOW }))
    expect(err.name).toBe('InvalidMessageError')
    // the same key signing for its own id is fine: it is the pairing that fails
    await expect(openLease(await signLease(other, body({ peerId: peerIdOf(other) })), { now: NOW })).resolves.toMatchObject({ peerId: peerIdOf(other) })
  })

  it('refuses a peer id that is not one, or that carries no public key to check against', async () => {
    const bad = await signLease(key, body({ peerId: 'not-a-peer-id' }))
    expect((await rejection(openLease(bad, { now: NOW }))).name).toBe('InvalidMessageError')
    // an RSA-style id is a hash of its key: nothing to verify with
    const hashed = await signLease(key, body({ peerId: 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N' }))
    expect((await rejection(openLease(hashed, { now: NOW }))).name).toBe('InvalidMessageError')
  })

  it('is stale once now - at exceeds ttl + skew, and not a millisecond before', async () => {
    const signed = await signLease(key, body({ ttl: 90_000 }))
    const edge = NOW + 90_000 + LEASE_CLOCK_SKEW_MS
    await expect(openLease(signed, { now: edge })).resolves.toMatchObject({ peerId })
    expect((await rejection(openLease(signed, { now: edge + 1 }))).name).toBe('InvalidMessageError')
    // the reader's own skew allowance applies
    expect((await rejection(openLease(signed, { now: NOW + 90_001, skew: 0 }))).name).toBe('InvalidMessageError')
    await expect(openLease(signed, { now: NOW + 90_000, skew: 0 })).resolves.toMatchObject({ peerId })
  })

  it('accepts a lease issued a little in the future (clock skew the other way)', async () => {
    const signed = await signLease(key, body({ at: NOW + 30_000 }))
    await expect(openLease(signed, { now: NOW })).resolves.toMatchObject({ at: NOW + 30_000 })
  })

  it('will not sign an oversized lease, and will not open one', async () => {
    const models = Array.from({ length: MAX_ANNOUNCED_MODELS }, (_, i) => i.toString(16).padStart(64, '0'))
    expect((await rejection(signLease(key, body({ models })))).name).toBe('MessageTooLargeError')
    const big: SignedLease = { body: new Uint8Array(MAX_LEASE_BYTES - 10), sig: new Uint8Array(64) }
    expect((await rejection(openLease(big, { now: NOW }))).name).toBe('MessageTooLargeError')
  })

  it('refuses a lease that is not { body, sig } bytes, or whose body is not a lease', async () => {
    const signed = await signLease(key, body())
    expect((await rejection(openLease({ body: 'x', sig: signed.sig } as unknown as SignedLease, { now: NOW }))).name).toBe('InvalidMessageError')
    expect((await rejection(openLease({ body: signed.body, sig: [1, 2] } as unknown as SignedLease, { now: NOW }))).name).toBe('InvalidMessageError')
    expect((await rejection(openLease({ body: Uint8Array.of(0xff), sig: signed.sig }, { now: NOW }))).name).toBe('InvalidMessageError')
  })

  it('carries identityNonce through, leaves it out when absent, and refuses one that is not lowercase hex of 1..32', async () => {
    const withNonce = await openLease(await signLease(key, body({ identityNonce: '0123456789abcdef0123456789abcdef' })), { now: NOW })
    expect(withNonce.identityNonce).toBe('0123456789abcdef0123456789abcdef')
    const { identityNonce: _, ...noNonce } = body()
    const without = await openLease(await signLease(key, noNonce), { now: NOW })
    expect('identityNonce' in without).toBe(false)
    for (const bad of ['00FF', 'xyz', '0'.repeat(33)]) {
      const err = await rejection(openLease(await signLease(key, body({ identityNonce: bad })), { now: NOW }))
      expect(err.name).toBe('InvalidMessageError')
    }
  })
})

describe('leaseChanged', () => {
  const base = body()

  it('is true when there was no lease before', () => {
    expect(leaseChanged(undefined, base)).toBe(true)
  })

  it('ignores at, seq and jobsDone (routine renewals)', () => {
    const renewal: LeaseBody = { ...base, at: base.at + 45_000, seq: base.seq + 1, jobsDone: base.jobsDone + 10 }
    expect(leaseChanged(base, renewal)).toBe(false)
  })

  it('ignores a change of free slots that keeps the peer open', () => {
    expect(leaseChanged(base, { ...base, slots: 1 })).toBe(false)
  })

  it('sees a peer turning full or open again (slots 0 <-> more)', () => {
    expect(leaseChanged(base, { ...base, slots: 0 })).toBe(true)
    expect(leaseChanged({ ...base, slots: 0 }, { ...base, slots: 2 })).toBe(true)
  })

  it('sees paused, models and addrs', () => {
    expect(leaseChanged(base, { ...base, paused: true })).toBe(true)
    expect(leaseChanged(base, { ...base, models: [MODEL, 'b'.repeat(64)] })).toBe(true)
    expect(leaseChanged(base, { ...base, models: [] })).toBe(true)
    expect(leaseChanged(base, { ...base, addrs: [] })).toBe(true)
    expect(leaseChanged(base, { ...base, addrs: [...base.addrs, '/ip4/10.0.0.1/tcp/1/ws/p2p-circuit/webrtc'] })).toBe(true)
  })
})
