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
  constructor (private readonly outcomes: Array<'ok' | 'fail' | 'hang' | 'connect-only' | 'listening'>) { super() }

  async dial (addr: Multiaddr, options: { signal: AbortSignal }): Promise<Connection> {
    this.dialTimes.push(Date.now())
    const outcome = this.outcomes.shift() ?? 'ok'
    if (outcome === 'fail') throw Object.assign(new Error('connection refused'), { name: 'DialError' })
    if (outcome === 'hang') {
      return await new Promise((_resolve, reject) => { options.signal.addEventListener('abort', () => { reject(options.signal.reason) }) })
    }
    const conn = { remotePeer: { toString: () => RELAY_ID }, status: 'open', remoteAddr: addr, close: async () => { this.drop() } } as unknown as Connection
    this.conns.push(conn)
    this.dispatchEvent(new CustomEvent('connection:open', { detail: conn }))
    if (outcome === 'connect-only') return conn
    if (outcome === 'listening') {
      // as libp2p does: the reservation comes after the connection; the circuit listener
      // says 'listening' at once, while self:peer:update comes only 1 s later (debounced)
      setTimeout(() => {
        this.addrs = [multiaddr(`${RELAY}/p2p-circuit/webrtc/p2p/${SELF}`)]
        this.dispatchEvent(new CustomEvent('transport:listening', { detail: {} }))
      }, 10)
      return conn
    }
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

  it('resolves start when the reservation\'s listener says so, not a debounced self:peer:update or the status poll later', async () => {
    vi.useFakeTimers()
    const node = new ScriptedNode(['listening'])
    const relays = new RelayManager({ node }, { relays: [RELAY] })
    let started = false
    const starting = relays.start().then(() => { started = true })
    // the reservation lands at 10 ms; the 1 s status poll must not be what resolves start
    await vi.advanceTimersByTimeAsync(50)
    expect(started).toBe(true)
    await starting
    expect(relays.reachable()).toBe(true)
    relays.stop()
  })

  it('fails start with RelayUnreachableError naming the relay and what failed when the dial fails', async () => {
    const relays = new RelayManager({ node: new ScriptedNode(['fail']) }, { relays: [RELAY] })
    const err = await relays.start().catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'RelayUnreachableError', relays: [RELAY], cause: { name: 'DialError' } })
    expect((err as Error).message).toBe(`could not reach relay ${RELAY}: DialError: connection refused`)
    relays.stop()
  })

  it('fails start with RelayUnreachableError when the relay does not answer in time', async () => {
    const relays = new RelayManager({ node: new ScriptedNode(['hang']) }, { relays: [RELAY], dialTimeout: 50 })
    const err = await relays.start().catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'RelayUnreachableError', relays: [RELAY] })
    expect((err as Error).message).toBe(`could not reach relay ${RELAY}: no answer within 50 ms`)
    relays.stop()
  })

  it('fails start with TimeoutError when connected but no reservation comes in time', async () => {
    const relays = new RelayManager({ node: new ScriptedNode(['connect-only']) }, { relays: [RELAY], dialTimeout: 100 })
    const err = await relays.start().catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'TimeoutError' })
    expect((err as Error).message).toContain(`connected to ${RELAY}, but no reservation came within 100 ms`)
    relays.stop()
  })

  it('fails start with ReservationRefusedError when the relay is out of capacity, shows it, and asks again with backoff', async () => {
    const node = new ScriptedNode(['connect-only', 'connect-only', 'ok'])
    const relays = new RelayManager({ node, random: () => 1 }, { relays: [RELAY], backoffInitial: 50, backoffMax: 200 })
    const starting = relays.start().catch((e: unknown) => e)
    await Promise.resolve()
    const error = new Error('reservation failed with status RESERVATION_REFUSED')
    relays.reservationFailed({ relay: RELAY_ID, status: 'RESERVATION_REFUSED', error })
    const err = await starting
    expect(err).toMatchObject({ name: 'ReservationRefusedError', status: 'RESERVATION_REFUSED', relays: [RELAY], cause: error })
    expect((err as Error).message).toBe(`relay ${RELAY} refused a reservation (RESERVATION_REFUSED): it is out of reservation capacity (its maxReservations are all taken); other peers cannot reach this one through it`)
    expect(relays.status()).toEqual([{ addr: RELAY, connected: false, reserved: false, refused: 'RESERVATION_REFUSED' }])
    // the connection was closed so that the next dial asks again; refused once more, then accepted
    await expect.poll(() => node.dialTimes.length, { timeout: 2_000 }).toBe(2)
    relays.reservationFailed({ relay: RELAY_ID, status: 'RESERVATION_REFUSED', error })
    await expect.poll(() => relays.reachable(), { timeout: 2_000 }).toBe(true)
    expect(node.dialTimes[2] - node.dialTimes[1]).toBeGreaterThanOrEqual(90) // second wait: twice the first
    expect(relays.status()).toEqual([{ addr: RELAY, connected: true, reserved: true }])
    relays.stop()
  })

  it('ignores failures that carry no refusal, and relays it does not manage', async () => {
    const node = new ScriptedNode(['ok'])
    const relays = new RelayManager({ node }, { relays: [RELAY] })
    await relays.start()
    relays.reservationFailed({ relay: RELAY_ID, error: new Error('timed out') })
    relays.reservationFailed({ relay: SELF, status: 'RESERVATION_REFUSED', error: new Error('x') })
    expect(relays.status()).toEqual([{ addr: RELAY, connected: true, reserved: true }])
    relays.stop()
  })

  it('names every relay and its failure when all of several fail', async () => {
    const other = `/ip4/127.0.0.1/tcp/9091/ws/p2p/${SELF}`
    const relays = new RelayManager({ node: new ScriptedNode(['fail', 'fail']) }, { relays: [RELAY, other] })
    const err = await relays.start().catch((e: unknown) => e)
    // both are joined at once (fanout 2), so they fail in whichever order their dials end
    expect(err).toMatchObject({ name: 'RelayUnreachableError' })
    expect([...(err as { relays: string[] }).relays].sort()).toEqual([RELAY, other].sort())
    expect((err as Error).message).toMatch(/^could not join any of the 2 relays: /)
    for (const r of [RELAY, other]) expect((err as Error).message).toContain(`could not reach relay ${r}: DialError: connection refused`)
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
