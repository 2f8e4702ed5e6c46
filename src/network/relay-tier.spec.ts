/**
 * The relay tier scales out: two relays form a lease backbone, each
 * contributor leases itself to its home relay only (fanout 1 here, so homes
 * are plain to see), and a requester on either relay samples the whole crowd.
 * Then the fault: one relay is killed while contributors are reserved on it.
 * They re-home to the other relay by themselves (their lease moves with
 * them), and verified jobs go on.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startRelay } from './relay.js'
import type { Relay } from './relay.js'
import { homeOrder } from './relays.js'
import { generateIdentity, peerIdOf, privateKeyToBytes } from './keys.js'
import { MemoryStore } from '../core/memory-store.js'
import type { CrosscheckNode } from '../index.node.js'
import { MLP_INPUT, startNodes, startRequester, until } from '../reliability/harness.js'

let a: Relay
let b: Relay
const nodes: CrosscheckNode[] = []

/** A store holding a fresh identity whose home relay (rendezvous order) is `home`. */
async function storeHomedOn (home: Relay, relays: Relay[]): Promise<MemoryStore> {
  for (;;) {
    const key = await generateIdentity()
    if (homeOrder(peerIdOf(key), relays)[0] !== home) continue
    const store = new MemoryStore()
    await store.putIdentity({ privateKey: privateKeyToBytes(key), createdAt: Date.now() })
    return store
  }
}

beforeAll(async () => {
  a = await startRelay({ port: 0 })
  b = await startRelay({ port: 0, peers: [a.multiaddrs[0]] })
  await until('the relays form a backbone', () => a.stats().backbone === 1 && b.stats().backbone === 1, 20_000)
}, 60_000)

afterAll(async () => {
  await Promise.all(nodes.map(async n => { await n.stop() }))
  await a?.stop().catch(() => {})
  await b?.stop()
})

describe('a relay tier of two', () => {
  it('holds each lease on its home relay, answers samples across relays, and re-homes peers when a relay dies', async () => {
    const relays = [a.multiaddrs[0], b.multiaddrs[0]]
    const tier = [a, b]
    for (const home of [a, a, b, b]) {
      const [worker] = await startNodes(relays, 1, { init: { store: await storeHomedOn(home, tier), network: { relayFanout: 1 } } })
      nodes.push(worker)
    }
    const [onA1, onA2, onB1, onB2] = nodes.map(n => n.peerId)
    await until('each relay holds the leases of its own peers, and the backbone passes them on', () =>
      a.stats().leases.own === 2 && b.stats().leases.own === 2 && a.book.size === 4 && b.book.size === 4, 30_000)

    // a requester joined to relay b alone still samples the peers homed on a
    const requester = await startRequester([b.multiaddrs[0]])
    nodes.push(requester)
    await until('the requester samples all four through one relay', async () => (await requester.findContributors()).length === 4, 30_000)
    const first = await requester.run('mlp', MLP_INPUT, { replicas: 3, quorum: 2 })
    expect(first.agreeing.length).toBeGreaterThanOrEqual(2)

    // kill relay a: its two peers move to b (their spare) and lease themselves there
    await a.stop()
    const moved = nodes.filter(n => [onA1, onA2].includes(n.peerId))
    // the relay holds a lease before its ack reaches the peer: wait for both ends
    await until('the peers of the dead relay re-home to the other one', () => b.stats().leases.own === 4 && b.stats().reservations >= 4 && moved.every(n => n.stats().lease.held), 60_000)
    for (const id of [onA1, onA2]) expect(b.book.get(id)).toBeDefined()
    for (const n of moved) {
      expect(n.stats().lease.held).toBe(true)
      expect(n.stats().relays.find(r => r.addr === b.multiaddrs[0])).toMatchObject({ connected: true })
    }
    expect([onB1, onB2].every(id => b.book.get(id) != null)).toBe(true)

    // jobs go on, and may land on the re-homed peers
    await until('the requester samples all four again', async () => (await requester.findContributors()).length === 4, 30_000)
    for (let i = 0; i < 3; i++) {
      const r = await requester.run('mlp', MLP_INPUT, { replicas: 3, quorum: 2 })
      expect(r.agreeing.length).toBeGreaterThanOrEqual(2)
    }
  }, 180_000)
})
