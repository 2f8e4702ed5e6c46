/**
 * DirectLinks against a scripted node: links only on demand, retries, a link
 * the other side opened, the bound, idle close, the lifetime budget, and
 * closing the relayed connection afterwards.
 */
import { idleJobStreams } from './protocols/job/framing.js'
import { describe, it, expect, vi, afterEach } from 'vitest'
import type { Connection, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { DirectLinks } from './links.js'
import type { LinkInit, LinkNode } from './links.js'
import { JOB_PROTOCOL } from './constants.js'

/** A peer id per index (base58 of nothing real: DirectLinks only compares strings). */
const peer = (i: number): string => `12D3KooWPeer${String(i).padStart(4, '0')}`

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
    streams: [] as Array<{ protocol?: string }>,
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

function setup (self: string, outcomes: Array<'direct' | 'fail'> = [], init: LinkInit = {}, now?: () => number): { node: ScriptedNode, links: DirectLinks } {
  const node = new ScriptedNode(self, outcomes)
  const links = new DirectLinks({ node, routes: (peer) => [route(peer)], ...(now != null ? { now } : {}) }, { dialTimeout: 5_000, backoffInitial: 100, backoffMax: 400, ...init })
  links.start()
  return { node, links }
}

afterEach(() => { vi.useRealTimers() })

describe('DirectLinks', () => {
  it('dials only when asked, and reuses an open link', async () => {
    const { node, links } = setup(MID)
    node.dispatchEvent(new CustomEvent('peer:discovery', { detail: { id: HIGH } }))
    expect(node.dials).toEqual([])
    const a = await links.ensureDirect(HIGH)
    const b = await links.ensureDirect(HIGH)
    expect(b).toBe(a)
    expect(node.dials).toEqual([HIGH])
    expect(links.stats()).toMatchObject({ links: 1, created: 1 })
    links.stop()
  })

  it('holds at most maxLinks: a new link closes the least recently used idle one, and is refused when all carry work', async () => {
    let clock = 0
    const { node, links } = setup(MID, [], { maxLinks: 3 }, () => ++clock)
    const conns = [] as Array<Connection & { closed: boolean, streams: Array<{ protocol?: string }> }>
    for (let i = 0; i < 3; i++) conns.push(await links.ensureDirect(peer(i)) as never)
    // peer 0 used again: peer 1 is now the least recently used
    await links.ensureDirect(peer(0))
    await links.ensureDirect(peer(3))
    expect(conns[1].closed).toBe(true)
    expect(conns[0].closed).toBe(false)
    expect(links.stats().links).toBe(3)
    // every link carries a job: no room, by name, and nothing closed
    for (const c of node.getConnections()) (c as unknown as { streams: Array<{ protocol?: string }> }).streams.push({ protocol: JOB_PROTOCOL })
    await expect(links.ensureDirect(peer(4))).rejects.toMatchObject({ name: 'LinkLimitError' })
    expect(node.getConnections().length).toBe(3)
    // a job stream pooled between exchanges is not work: its link gives way
    const first = node.getConnections()[0] as unknown as { closed: boolean, streams: object[] }
    idleJobStreams.add(first.streams[0])
    await links.ensureDirect(peer(4))
    expect(first.closed).toBe(true)
    expect(links.stats().links).toBe(3)
    links.stop()
  })

  it('closes a link idle for idleMs, but not one carrying work', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
    const { links } = setup(MID, [], { idleMs: 60_000 })
    const idle = await links.ensureDirect(peer(1)) as Connection & { closed: boolean }
    const busy = await links.ensureDirect(peer(2)) as unknown as Connection & { closed: boolean, streams: Array<{ protocol?: string }> }
    busy.streams.push({ protocol: JOB_PROTOCOL })
    await vi.advanceTimersByTimeAsync(50_000)
    expect(idle.closed).toBe(false)
    await vi.advanceTimersByTimeAsync(20_000)
    expect(idle.closed).toBe(true)
    expect(busy.closed).toBe(false)
    // work done: it goes idle from its last use
    busy.streams.length = 0
    await vi.advanceTimersByTimeAsync(50_000)
    expect(busy.closed).toBe(false)
    await vi.advanceTimersByTimeAsync(20_000)
    expect(busy.closed).toBe(true)
    links.stop()
  })

  it('closes links a crowd dialled to it beyond the bound', async () => {
    const { node, links } = setup(MID, [], { maxLinks: 2 })
    const theirs = [0, 1, 2, 3].map(i => node.open(fakeConn(peer(i), 'direct')) as Connection & { closed: boolean })
    expect(theirs.filter(c => !c.closed).length).toBe(2)
    expect(links.stats()).toMatchObject({ links: 2, created: 4 })
    links.stop()
  })

  it('creates no more links than its lifetime budget, by name, and reuses the open ones', async () => {
    const { links } = setup(MID, [], { budget: 3, maxLinks: 2 })
    for (let i = 0; i < 3; i++) await links.ensureDirect(peer(i))
    expect(links.budgetLeft()).toBe(0)
    await expect(links.ensureDirect(peer(9))).rejects.toMatchObject({ name: 'LinkBudgetError' })
    // the links still open keep working
    expect(links.find(peer(2))).toBeDefined()
    await links.ensureDirect(peer(2))
    expect(links.stats()).toMatchObject({ created: 3, budgetLeft: 0 })
    links.stop()
  })

  it('retries a failed dial within the same call', async () => {
    const { node, links } = setup(LOW, ['fail', 'fail', 'direct'])
    const conn = await links.ensureDirect(HIGH)
    expect(conn.multiplexer).toBe('/webrtc')
    expect(node.dials).toEqual([HIGH, HIGH, HIGH])
    // each failed WebRTC dial made an RTCPeerConnection too
    expect(links.stats()).toMatchObject({ links: 1, created: 3 })
    links.stop()
  })

  it('stops retrying by name once failed dials spent the lifetime budget', async () => {
    const { node, links } = setup(LOW, ['fail', 'fail', 'fail', 'fail'], { budget: 2 })
    await expect(links.ensureDirect(HIGH)).rejects.toMatchObject({ name: 'LinkBudgetError' })
    expect(node.dials).toEqual([HIGH, HIGH])
    expect(links.stats()).toMatchObject({ links: 0, created: 2, budgetLeft: 0 })
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
