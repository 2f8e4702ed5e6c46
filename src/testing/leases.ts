/** Lease fixtures for tests of code that takes checked leases (it never sees their signatures). */
import type { Lease } from '../network/lease.js'

/** A live, unpaused lease with free slots for model `'a' × 64`, unsigned (the directory server checked it). */
export function testLease (peerId: string, patch: Partial<Lease> = {}): Lease {
  return {
    peerId,
    models: ['a'.repeat(64)],
    numericClass: 'c1',
    backend: 'cpu',
    threads: 1,
    jobsDone: 0,
    at: 0,
    paused: false,
    seq: 1,
    ttl: 90_000,
    slots: 4,
    addrs: [],
    signed: { body: new Uint8Array(), sig: new Uint8Array() },
    ...patch
  }
}
