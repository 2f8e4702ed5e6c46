/**
 * Churn, as NOTES describes it: after ~10 pages had opened and closed, new
 * pages kept their relay WebSocket but formed no links until the relay
 * restarted. Cause: gossipsub's IP-colocation penalty on the relay (every
 * page comes from one IP, and departed peers' IPs are remembered for an hour)
 * pushed every newcomer's score below zero, so the relay no longer forwarded
 * discovery or announcements to it. Capabilities are leased now, not
 * gossiped, but the relays still gossip (observations, retractions). Also
 * checked: reservations and leases of departed peers are released at once,
 * not after their TTL.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startRelay } from './relay.js'
import type { Relay } from './relay.js'
import { Network } from './network.js'
import { generateIdentity } from './keys.js'

/** More than gossipsub's IPColocationFactorThreshold (10) peers from one IP. */
const DEPARTED = 14

let relay: Relay
const live: Network[] = []

async function peer (): Promise<Network> {
  const n = new Network({ privateKey: await generateIdentity(), relays: [relay.multiaddrs[0]] })
  live.push(n)
  return n
}

beforeAll(async () => {
  relay = await startRelay({ port: 0 })
})

afterAll(async () => {
  await Promise.all(live.map(async n => { await n.stop() }))
  await relay?.stop()
})

describe('churn through one relay', () => {
  it(`links two new peers after ${DEPARTED} others came and went, and holds no reservation for the departed`, async () => {
    // two waves of pages that join (gossip and reservation included) and leave
    for (const wave of [0, 1]) {
      const peers = await Promise.all(Array.from({ length: DEPARTED / 2 }, async () => await peer()))
      await Promise.all(peers.map(async n => { await n.start() }))
      expect(relay.stats().reservations, `wave ${wave}`).toBe(DEPARTED / 2)
      await Promise.all(peers.map(async n => { await n.stop() }))
    }
    await expect.poll(() => { const s = relay.stats(); return { connections: s.connections, reservations: s.reservations, streams: s.streams, leases: s.leases } }, { timeout: 10_000 }).toEqual({ connections: 0, reservations: 0, streams: 0, leases: { own: 0, total: 0 } })

    const [x, y] = [await peer(), await peer()]
    await Promise.all([x.start(), y.start()])
    expect(relay.stats().reservations).toBe(2)
    // y leases itself to the relay; x samples it from there and links to it on demand
    await y.announce({ models: [], numericClass: 'ort-node/cpu/t1/linux', backend: 'cpu', threads: 1, jobsDone: 0, runtime: 'ort-node' })
    await expect.poll(async () => { await x.waitForContributors(); return x.getContributors().map(p => p.peerId) }, { timeout: 10_000 }).toEqual([y.peerId])
    await x.ensureDirect(y.peerId)
    expect(x.getPeers().find(p => p.peerId === y.peerId)?.direct).toBe(true)
  }, 90_000)
})
