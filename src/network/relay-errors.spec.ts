/**
 * Joining fails with an error that names the relay and what went wrong, on
 * loopback with real sockets: nothing listening, a web server that is not a
 * relay, a relay that answers with another peer id, a relay out of
 * reservation capacity. A peer with a second relay joins anyway, shows the
 * refusal, and takes the full relay's reservation once it has room again.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startRelay } from './relay.js'
import type { Relay } from './relay.js'
import { Network } from './network.js'
import { generateIdentity } from './keys.js'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { closedPort } from '../testing/net.js'

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {})
})

async function someId (): Promise<string> {
  return peerIdFromPrivateKey(await generateIdentity()).toString()
}

async function peer (relays: string[], dialTimeout = 10_000): Promise<Network> {
  const n = new Network({ privateKey: await generateIdentity(), relays, dialTimeout, relayBackoffInitial: 200, relayBackoffMax: 1000 })
  cleanup.push(async () => { await n.stop() })
  return n
}

async function relay (init: Parameters<typeof startRelay>[0] = {}): Promise<Relay> {
  const r = await startRelay({ port: 0, ...init })
  cleanup.push(async () => { await r.stop() })
  return r
}

describe('joining a relay: named errors', () => {
  it('says connection refused, with the address, when nothing listens', async () => {
    const port = await closedPort()
    const addr = `/ip4/127.0.0.1/tcp/${port}/ws/p2p/${await someId()}`
    const err = await (await peer([addr])).start().catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'RelayUnreachableError', relays: [addr] })
    expect((err as Error).message).toBe(`could not reach relay ${addr}: connection refused (nothing listens on 127.0.0.1:${port})`)
  })

  it('says the WebSocket handshake failed when the port is a plain web server', async () => {
    const server = createHttpServer((_req, res) => { res.writeHead(404).end() })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    cleanup.push(async () => { await new Promise<void>(resolve => { server.close(() => { resolve() }); server.closeAllConnections() }) })
    const { port } = server.address() as AddressInfo
    const addr = `/ip4/127.0.0.1/tcp/${port}/ws/p2p/${await someId()}`
    const err = await (await peer([addr])).start().catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'RelayUnreachableError' })
    expect((err as Error).message).toBe(`could not reach relay ${addr}: 127.0.0.1:${port} accepts connections but the WebSocket handshake at ws://127.0.0.1:${port} failed (not a relay, or another service on that port)`)
  })

  it('says another peer answered when the address carries an old relay id', async () => {
    const r = await relay()
    const old = await someId()
    const addr = r.multiaddrs[0].replace(r.peerId, old)
    const err = await (await peer([addr])).start().catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'RelayUnreachableError', relays: [addr] })
    expect((err as Error).message).toMatch(new RegExp(`^could not reach relay ${addr}: a peer other than the one in the address answered on 127\\.0\\.0\\.1:\\d+: it is ${r.peerId}, not ${old} \\(`))
  })

  it('says the relay is out of reservation capacity, at once rather than at the timeout', async () => {
    const r = await relay({ maxReservations: 1 })
    await (await peer([r.multiaddrs[0]])).start()
    const t0 = Date.now()
    const err = await (await peer([r.multiaddrs[0]], 30_000)).start().catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'ReservationRefusedError', status: 'RESERVATION_REFUSED', relays: [r.multiaddrs[0]] })
    expect((err as Error).message).toBe(`relay ${r.multiaddrs[0]} refused a reservation (RESERVATION_REFUSED): it is out of reservation capacity (its maxReservations are all taken); other peers cannot reach this one through it`)
    expect(Date.now() - t0).toBeLessThan(10_000)
  })

  it('joins through a second relay when one is full, shows the refusal, and reserves on the full one once it has room', async () => {
    const full = await relay({ maxReservations: 1 })
    const spare = await relay()
    const holder = await peer([full.multiaddrs[0]])
    await holder.start()
    const n = await peer([full.multiaddrs[0], spare.multiaddrs[0]])
    await n.start()
    await expect.poll(() => n.relayStatus(), { timeout: 10_000 }).toEqual([
      expect.objectContaining({ addr: full.multiaddrs[0], reserved: false, refused: 'RESERVATION_REFUSED' }),
      { addr: spare.multiaddrs[0], connected: true, reserved: true }
    ])
    expect(n.reachable()).toBe(true)
    // room again: the manager asks again (the transport never would)
    await holder.stop()
    await expect.poll(() => n.relayStatus()[0], { timeout: 20_000 }).toEqual({ addr: full.multiaddrs[0], connected: true, reserved: true })
    expect(full.stats().reservations).toBe(1)
  }, 40_000)
})
