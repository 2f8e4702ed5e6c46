/**
 * DirectLinks against a scripted node: who dials on discovery, retries, a
 * link the other side opened, and closing the relayed connection afterwards.
 */
import { describe, it, expect, vi, afterEach } from 'vitest'
import type { Connection, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { DirectLinks } from './links.js'
import type { LinkNode } from './links.js'

const LOW = '12D3KooWAwtyRyyF34yTWBybNTTjqNxXciu7Vqq8kMV2mGNKBkVS'
const MID = '12D3KooWB9sAdc4a78WwSTXh4L8LgbQJvCUpGW7rgQ7NacwdRaAs'
const HIGH = '12D3KooWFitcfu6GJGZ7yaGniwf7wdViuTa8JYJz1E5LEzCZMF5e'
const RELAY = '/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWKYpvsr47MBwVJaj3LEfoexb3xv7LfQz6155AMeV4EDas'
const route = (peer: string): Multiaddr => multiaddr(`${RELAY}/p2p-circuit/webrtc/p2p/${peer}`)

function fakeConn (peer: string, kind: 'direct' | 'relayed'): Connection & { closed: boolean } {
  const c = {
    id: `${kind}-${peer.slice(-4)}`,
    remotePeer: { toString: () => peer, equals: (o: PeerId) => o.toString() === peer },
    status: 'open',
    limits: kind === 'relayed' ? { bytes: 1n } : undefined,
    multiplexer: kind === 'direct' ? '/webrtc' : '/yamux/1.0.0',
    remoteAddr: kind === 'direct' ? route(peer) : multiaddr(`${RELAY}/p2p-circuit/p2p/${peer}`),
    closed: false,
    close: async () => { c.closed = true; c.status = 'closed' },
    abort: () => { c.closed = true; c.status = 'closed' }
  }
  return c as unknown as Connection & { closed: boolean }
}

class ScriptedNode extends EventTarget implements LinkNode {
  readonly dials: string[] = []
  conns: Connection[] = []
  constructor (readonly self: string, private readonly outcomes: Array<'direct' | 'fail'>) { super() }
  get peerId (): { toString: () => string } { return { toString: () => this.self } }
  async dial (addr: Multiaddr): Promise<Connection> {
    const peer = addr.getComponents().filter(c => c.name === 'p2p').at(-1)!.value!
    this.dials.push(peer)
    if ((this.outcomes.shift() ?? 'direct') === 'fail') throw new Error('ICE failed')
    return this.open(fakeConn(peer, 'direct'))
  }

  open (c: Connection): Connection {
    this.conns.push(c)
    this.dispatchEvent(new CustomEvent('connection:open', { detail: c }))
    return c
  }

  getConnections (peerId?: PeerId): Connection[] {
    return this.conns.filter(c => c.status === 'open' && (peerId == null || c.remotePeer.toString() === peerId.toString()))
  }

  override addEventListener (type: string, listener: any): void { super.addEventListener(type, listener) }
  override removeEventListener (type: string, listener: any): void { super.removeEventListener(type, listener) }
}

function setup (self: string, outcomes: Array<'direct' | 'fail'> = []): { node: ScriptedNode, links: DirectLinks } {
  const node = new ScriptedNode(self, outcomes)
  const links = new DirectLinks({ node, routes: (peer) => [route(peer)], random: () => 1 }, { dialTimeout: 5_000, backoffInitial: 100, backoffMax: 400 })
  links.start()
  return { node, links }
}

afterEach(() => { vi.useRealTimers() })

describe('DirectLinks', () => {
  it('dials a discovered peer only from the lower id, and only if it lists a WebRTC address', async () => {
    const { node, links } = setup(MID)
    links.discovered(LOW, [route(LOW).toString()])
    links.discovered(HIGH, [`${RELAY}/p2p-circuit/p2p/${HIGH}`])
    expect(node.dials).toEqual([])
    links.discovered(HIGH, [route(HIGH).toString()])
    await vi.waitFor(() => { expect(links.find(HIGH)).toBeDefined() })
    expect(node.dials).toEqual([HIGH])
    // linked: further discoveries do not dial again
    links.discovered(HIGH, [route(HIGH).toString()])
    expect(node.dials).toEqual([HIGH])
    links.stop()
  })

  it('retries a failed dial within the same call', async () => {
    const { node, links } = setup(LOW, ['fail', 'fail', 'direct'])
    const conn = await links.ensureDirect(HIGH)
    expect(conn.multiplexer).toBe('/webrtc')
    expect(node.dials).toEqual([HIGH, HIGH, HIGH])
    links.stop()
  })

  it('takes the link the other side opened while its own dial failed', async () => {
    const { node, links } = setup(LOW, ['fail', 'fail', 'fail', 'fail'])
    const pending = links.ensureDirect(HIGH)
    await vi.waitFor(() => { expect(node.dials.length).toBeGreaterThan(0) })
    const theirs = node.open(fakeConn(HIGH, 'direct'))
    expect(await pending).toBe(theirs)
    links.stop()
  })

  it('shares one dial between concurrent callers, and lets a caller give up on its own signal', async () => {
    const { node, links } = setup(LOW, ['fail', 'fail', 'fail', 'fail', 'fail', 'fail'])
    const controller = new AbortController()
    const first = links.ensureDirect(HIGH)
    const second = links.ensureDirect(HIGH, { signal: controller.signal })
    controller.abort()
    await expect(second).rejects.toMatchObject({ name: 'AbortError' })
    node.open(fakeConn(HIGH, 'direct'))
    await first
    expect(new Set(node.dials)).toEqual(new Set([HIGH]))
    links.stop()
  })

  it('refuses to dial before start, by name', async () => {
    const links = new DirectLinks({ node: new ScriptedNode(LOW, []), routes: () => [] })
    await expect(links.ensureDirect(HIGH)).rejects.toMatchObject({ name: 'NotStartedError' })
  })

  it('closes the relayed connection to a peer a few seconds after a direct link to it opens', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const { node, links } = setup(LOW)
    const relayed = node.open(fakeConn(HIGH, 'relayed')) as Connection & { closed: boolean }
    const other = node.open(fakeConn(MID, 'relayed')) as Connection & { closed: boolean }
    node.open(fakeConn(HIGH, 'direct'))
    // a grace period first: the other side may still be finishing its half of the handshake
    await vi.advanceTimersByTimeAsync(1_000)
    expect(relayed.closed).toBe(false)
    await vi.advanceTimersByTimeAsync(5_000)
    expect(relayed.closed).toBe(true)
    expect(other.closed).toBe(false)
    links.stop()
  })
})
