/**
 * The relay's DirectoryServer over in-memory stream pairs, fed streams as
 * libp2p would feed its registered handler: it holds a lease only from the
 * peer the lease describes and tells the backbone, refuses forged, stale or
 * misdelivered ones by name, never offers an asker itself, and answers bytes
 * that are not a directory request with a named error.
 */
import { describe, it, expect } from 'vitest'
import { lpStream, streamPair } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, PrivateKey, StreamHandler } from '@libp2p/interface'
import { DIRECTORY_PROTOCOL, DirectoryServer, directoryRequest } from './index.js'
import type { DirectoryServerComponents } from './index.js'
import { decodeDirectoryResponse } from './messages.js'
import { LeaseBook } from '../../lease-book.js'
import { openLease, signLease } from '../../lease.js'
import type { Lease, LeaseBody, SignedLease } from '../../lease.js'
import { identityFromSeed, peerIdOf } from '../../keys.js'
import { createRng } from '../../../consensus/select.js'
import { rejection } from '../../../testing/async.js'

const NOW = 1_700_000_000_000
const RELAY = '12D3KooWRelaySelf'
const keys = await Promise.all([1, 2, 3, 4].map(async n => await identityFromSeed(new Uint8Array(32).fill(n))))
const [alice, bob, carol, dave] = keys.map(peerIdOf)


async function leaseOf (key: PrivateKey, patch: Partial<LeaseBody> = {}): Promise<SignedLease> {
  return await signLease(key, { peerId: peerIdOf(key), models: ['a'.repeat(64)], numericClass: 'c1', backend: 'cpu', threads: 1, jobsDone: 0, at: NOW, paused: false, seq: 1, ttl: 90_000, slots: 4, addrs: [], ...patch })
}

interface Relay {
  server: DirectoryServer
  book: LeaseBook
  changes: Array<[string, Lease | undefined]>
  handles: () => number
  /** Whether a handler for the directory protocol is registered now. */
  registered: () => boolean
  /** A peer's connection to this relay: each new stream is handed to the relay's registered handler. */
  connFrom: (peerId: string) => Connection
}

async function relay (init: { maxLeases?: number } = {}): Promise<Relay> {
  const handlers = new Map<string, StreamHandler>()
  let handles = 0
  const registrar = {
    handle: async (protocol: string, handler: StreamHandler) => { handles++; handlers.set(protocol, handler) },
    unhandle: async (protocol: string) => { handlers.delete(protocol) }
  } as unknown as DirectoryServerComponents['registrar']
  const book = new LeaseBook({ now: () => NOW }, { maxLeases: init.maxLeases })
  const changes: Array<[string, Lease | undefined]> = []
  const server = new DirectoryServer({ registrar, book, self: RELAY, random: createRng(1), now: () => NOW, changed: (id, l) => { changes.push([id, l]) } })
  await server.start()
  const connFrom = (peerId: string): Connection => {
    const remotePeer = peerIdFromString(peerId)
    return {
      remotePeer,
      newStream: async (protocol: string) => {
        const handler = handlers.get(protocol)
        if (handler == null) throw new Error(`no handler for ${protocol}`)
        const [outbound, inbound] = await streamPair()
        void handler(inbound, { remotePeer } as unknown as Connection)
        return outbound
      }
    } as unknown as Connection
  }
  return { server, book, changes, handles: () => handles, registered: () => handlers.has(DIRECTORY_PROTOCOL), connFrom }
}


async function sampledIds (leases: SignedLease[]): Promise<string[]> {
  return (await Promise.all(leases.map(async l => await openLease(l, { now: NOW })))).map(l => l.peerId).sort()
}

describe('DirectoryServer', () => {
  it('holds a lease from the peer it describes, and tells the backbone', async () => {
    const r = await relay()
    const res = await directoryRequest(r.connFrom(alice), { type: 'lease', lease: await leaseOf(keys[0]) })
    expect(res).toEqual({ type: 'ack', held: 1 })
    expect(r.book.get(alice)).toMatchObject({ peerId: alice, seq: 1 })
    expect(r.book.countFrom(RELAY)).toBe(1)
    expect(r.changes.map(([id, l]) => [id, l?.peerId])).toEqual([[alice, alice]])
    expect(r.server.counts).toMatchObject({ lease: 1, bad: 0 })
  })

  it("refuses a lease sent by a peer other than the one it describes, even a valid one", async () => {
    const r = await relay()
    const err = await rejection(directoryRequest(r.connFrom(bob), { type: 'lease', lease: await leaseOf(keys[0]) }))
    expect(err.name).toBe('InvalidMessageError')
    expect(r.book.get(alice)).toBeUndefined()
    expect(r.book.size).toBe(0)
    expect(r.changes).toEqual([])
    expect(r.server.counts.bad).toBe(1)
  })

  it('refuses a forged or a stale lease by name', async () => {
    const r = await relay()
    const forged = await signLease(keys[1], { ...(await openLease(await leaseOf(keys[0]), { now: NOW })), peerId: alice })
    expect((await rejection(directoryRequest(r.connFrom(alice), { type: 'lease', lease: forged }))).name).toBe('InvalidMessageError')
    const stale = await leaseOf(keys[0], { at: NOW - 3_600_000 })
    expect((await rejection(directoryRequest(r.connFrom(alice), { type: 'lease', lease: stale }))).name).toBe('InvalidMessageError')
    expect(r.book.size).toBe(0)
    expect(r.changes).toEqual([])
  })

  it('acks an older lease without holding it or telling the backbone', async () => {
    const r = await relay()
    await directoryRequest(r.connFrom(alice), { type: 'lease', lease: await leaseOf(keys[0], { seq: 5 }) })
    await directoryRequest(r.connFrom(alice), { type: 'lease', lease: await leaseOf(keys[0], { seq: 4, slots: 1 }) })
    expect(r.book.get(alice)).toMatchObject({ seq: 5, slots: 4 })
    expect(r.changes).toHaveLength(1)
  })

  it('refuses a new peer by name when the book is full', async () => {
    const r = await relay({ maxLeases: 1 })
    await directoryRequest(r.connFrom(alice), { type: 'lease', lease: await leaseOf(keys[0]) })
    expect((await rejection(directoryRequest(r.connFrom(bob), { type: 'lease', lease: await leaseOf(keys[1]) }))).name).toBe('InvalidMessageError')
    expect(r.book.get(bob)).toBeUndefined()
  })

  it('never offers the asker itself, nor the ids it excludes or renews, and returns the renewed leases', async () => {
    const r = await relay()
    for (const [i, id] of [alice, bob, carol, dave].entries()) await directoryRequest(r.connFrom(id), { type: 'lease', lease: await leaseOf(keys[i]) })
    const all = await directoryRequest(r.connFrom(alice), { type: 'sample', count: 64, exclude: [], renew: [] })
    if (all.type !== 'leases') throw new Error(`expected leases, got ${all.type}`)
    expect(await sampledIds(all.leases)).toEqual([bob, carol, dave].sort())
    expect(all).toMatchObject({ total: 4, held: 4, renewed: [] })
    const some = await directoryRequest(r.connFrom(alice), { type: 'sample', count: 64, exclude: [carol], renew: [bob, 'gone-peer'] })
    if (some.type !== 'leases') throw new Error(`expected leases, got ${some.type}`)
    expect(await sampledIds(some.leases)).toEqual([dave])
    expect(await sampledIds(some.renewed)).toEqual([bob])
    expect(r.server.counts.sample).toBe(2)
  })

  it('takes a lease back on leave, only one it holds itself', async () => {
    const r = await relay()
    await directoryRequest(r.connFrom(alice), { type: 'lease', lease: await leaseOf(keys[0]) })
    r.book.put(await openLease(await leaseOf(keys[1]), { now: NOW }), 'another-relay')
    expect(await directoryRequest(r.connFrom(bob), { type: 'leave' })).toEqual({ type: 'ack', held: 2 })
    expect(r.book.get(bob)).toBeDefined()
    expect(await directoryRequest(r.connFrom(alice), { type: 'leave' })).toEqual({ type: 'ack', held: 1 })
    expect(r.book.get(alice)).toBeUndefined()
    expect(r.changes.map(([id, l]) => [id, l?.peerId])).toEqual([[alice, alice], [alice, undefined]])
  })

  it('answers bytes that are not a directory request with a named error', async () => {
    const r = await relay()
    const stream = await r.connFrom(alice).newStream(DIRECTORY_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(Uint8Array.of(0x82, 0x01, 0x02)) // a CBOR array, not a map
    const res = decodeDirectoryResponse((await lp.read()).subarray())
    expect(res).toMatchObject({ type: 'error', error: { name: 'InvalidMessageError' } })
    expect(r.server.counts.bad).toBe(1)
  })

  it('registers its handler once however often it is started, and removes it on stop', async () => {
    const r = await relay()
    await r.server.start()
    expect(r.handles()).toBe(1)
    expect(r.server.isStarted()).toBe(true)
    expect(r.registered()).toBe(true)
    await r.server.stop()
    await r.server.stop()
    expect(r.server.isStarted()).toBe(false)
    expect(r.registered()).toBe(false)
  })
})
