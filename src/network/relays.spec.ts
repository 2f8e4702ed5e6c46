/**
 * RelayManager against a scripted node: joins, notices a dropped relay,
 * redials with capped exponential backoff, and reports reachability.
 */
import { describe, it, expect, vi, afterEach } from 'vitest'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { RelayManager } from './relays.js'
import type { RelayChange, RelayNode } from './relays.js'

const RELAY_ID = '12D3KooWKYpvsr47MBwVJaj3LEfoexb3xv7LfQz6155AMeV4EDas'
const RELAY = `/ip4/127.0.0.1/tcp/9090/ws/p2p/${RELAY_ID}`
const SELF = '12D3KooWFitcfu6GJGZ7yaGniwf7wdViuTa8JYJz1E5LEzCZMF5e'

/** A node whose relay dials succeed or fail as scripted; a success also "reserves". */
class ScriptedNode extends EventTarget implements RelayNode {
  readonly dialTimes: number[] = []
  private conns: Connection[] = []
  private addrs: Multiaddr[] = []
  constructor (private readonly outcomes: Array<'ok' | 'fail' | 'hang'>) { super() }

  async dial (addr: Multiaddr, options: { signal: AbortSignal }): Promise<Connection> {
    this.dialTimes.push(Date.now())
    const outcome = this.outcomes.shift() ?? 'ok'
    if (outcome === 'fail') throw Object.assign(new Error('connection refused'), { name: 'DialError' })
    if (outcome === 'hang') {
      return await new Promise((_resolve, reject) => { options.signal.addEventListener('abort', () => { reject(options.signal.reason) }) })
    }
    const conn = { remotePeer: { toString: () => RELAY_ID }, status: 'open', remoteAddr: addr } as unknown as Connection
    this.conns.push(conn)
    this.dispatchEvent(new CustomEvent('connection:open', { detail: conn }))
    this.addrs = [multiaddr(`${RELAY}/p2p-circuit/webrtc/p2p/${SELF}`)]
    this.dispatchEvent(new CustomEvent('self:peer:update', { detail: {} }))
    return conn
  }

  /** The relay went away: connection and reservation gone. */
  drop (): void {
    const closed = this.conns
    this.conns = []
    this.addrs = []
    for (const c of closed) this.dispatchEvent(new CustomEvent('connection:close', { detail: c }))
  }

  getConnections (): Connection[] { return this.conns }
  getMultiaddrs (): Multiaddr[] { return this.addrs }
  override addEventListener (type: string, listener: any): void { super.addEventListener(type, listener) }
  override removeEventListener (type: string, listener: any): void { super.removeEventListener(type, listener) }
}

afterEach(() => { vi.useRealTimers() })

describe('RelayManager', () => {
  it('resolves start once a reservation is held, and reports status', async () => {
    const node = new ScriptedNode(['ok'])
    const relays = new RelayManager({ node }, { relays: [RELAY] })
    const changes: RelayChange[] = []
    relays.addEventListener('network:relay', (evt) => { changes.push(evt.detail) })
    await relays.start()
    expect(relays.reachable()).toBe(true)
    expect(relays.status()).toEqual([{ addr: RELAY, connected: true, reserved: true }])
    expect(changes.at(-1)).toMatchObject({ connected: true, reachable: true })
    relays.stop()
  })

  it('fails start with the dial error when every relay refuses', async () => {
    const relays = new RelayManager({ node: new ScriptedNode(['fail']) }, { relays: [RELAY] })
    await expect(relays.start()).rejects.toMatchObject({ name: 'DialError' })
    relays.stop()
  })

  it('fails start with TimeoutError when no reservation comes in time', async () => {
    const relays = new RelayManager({ node: new ScriptedNode(['hang']) }, { relays: [RELAY], dialTimeout: 50 })
    await expect(relays.start()).rejects.toMatchObject({ name: 'TimeoutError' })
    relays.stop()
  })

  it('gives up a start still waiting for a reservation when stopped, by name', async () => {
    const relays = new RelayManager({ node: new ScriptedNode(['hang']) }, { relays: [RELAY] })
    const starting = relays.start()
    relays.stop()
    await expect(starting).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('redials a dropped relay with exponential backoff capped at the maximum, and starts over after a success', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
    const node = new ScriptedNode(['ok', 'fail', 'fail', 'fail', 'fail', 'ok', 'ok'])
    // random() = 1: no jitter, so the delays are exact
    const relays = new RelayManager({ node, random: () => 1 }, { relays: [RELAY], backoffInitial: 1_000, backoffMax: 4_000 })
    await relays.start()
    const changes: RelayChange[] = []
    relays.addEventListener('network:relay', (evt) => { changes.push(evt.detail) })

    const t0 = Date.now()
    node.drop()
    expect(relays.reachable()).toBe(false)
    expect(changes.at(-1)).toMatchObject({ connected: false, reachable: false })
    await vi.advanceTimersByTimeAsync(20_000)
    expect(node.dialTimes.slice(1).map(t => t - t0)).toEqual([1_000, 3_000, 7_000, 11_000, 15_000])
    expect(relays.reachable()).toBe(true)
    expect(changes.at(-1)).toMatchObject({ connected: true, reachable: true })

    // attempts were reset by the success
    const t1 = Date.now()
    node.drop()
    await vi.advanceTimersByTimeAsync(5_000)
    expect(node.dialTimes.at(-1)! - t1).toBe(1_000)
    relays.stop()
  })

  it('stops redialling once stopped', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
    const node = new ScriptedNode(['ok'])
    const relays = new RelayManager({ node, random: () => 1 }, { relays: [RELAY] })
    await relays.start()
    node.drop()
    relays.stop()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(node.dialTimes).toHaveLength(1)
  })

  it('applies jitter within half to all of the backoff step', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
    const node = new ScriptedNode(['ok', 'ok'])
    const relays = new RelayManager({ node, random: () => 0 }, { relays: [RELAY], backoffInitial: 1_000 })
    await relays.start()
    const t0 = Date.now()
    node.drop()
    await vi.advanceTimersByTimeAsync(2_000)
    expect(node.dialTimes[1] - t0).toBe(500)
    relays.stop()
  })
})
