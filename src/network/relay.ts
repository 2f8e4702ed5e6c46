/**
 * The relay: browsers reach it over WebSockets; it reserves circuit slots so
 * peers can exchange WebRTC signalling, holds the signed leases of the
 * contributors connected to it and answers requesters' samples from them
 * (`/crosscheck/directory/1.0.0`). It never carries jobs or models.
 *
 * Relays scale out: each relay dials the others it is given (`peers`) and
 * they gossip leases among themselves on one backbone topic (gossipsub among
 * relays only; peers never subscribe to it), so any relay answers a sample
 * over the whole crowd. Peers pick their home relays by rendezvous hash of
 * their id, so load spreads as relays are added.
 *
 * @example
 * ```ts
 * const a = await startRelay({ host: '127.0.0.1', port: 9090 })
 * const b = await startRelay({ port: 9091, peers: a.multiaddrs })
 * console.log(b.stats().leases) // leases of peers on a and on b
 * await b.stop(); await a.stop()
 * ```
 */
import type { Connection, PeerId, PrivateKey } from '@libp2p/interface'
import type { Message } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { encode, decode } from 'cborg'
import { createRelayLibp2p } from './libp2p.js'
import type { RelayLibp2p } from './libp2p.js'
import { LEASE_TOPIC, MAX_LEASE_BYTES, OBSERVATION_TOPIC, RETRACTION_TOPIC } from './constants.js'
import { LeaseBook } from './lease-book.js'
import { openLease } from './lease.js'
import type { Lease, SignedLease } from './lease.js'
import { DirectoryServer } from './protocols/directory/index.js'
import { parseRelays } from './relays.js'
import { createLogger } from '../logger.js'

const log = createLogger('relay')

/** How often expired leases are swept (they are also dropped when their peer disconnects). */
const PRUNE_MS = 10_000

export interface RelayInit {
  /** @default '127.0.0.1' */
  host?: string
  /** @default 0 (any free port) */
  port?: number
  /** Persist the relay id across restarts. @default a fresh key */
  privateKey?: PrivateKey
  /** @default 4096 (libp2p's own default of 15 is too few for a classroom) */
  maxReservations?: number
  /** Circuits (WebRTC signalling exchanges) one peer may have open through the relay at once. @default 128 */
  maxHopStreams?: number
  /** Other relays (multiaddrs with /p2p/<id>) to form the backbone with; redialled while down. @default [] */
  peers?: string[]
  /** First wait before redialling a backbone relay (ms). @default 1000 */
  peerBackoffInitial?: number
}

export interface RelayStats {
  /** Open connections (peers, backbone relays, any being set up). */
  connections: number
  /** Reservations held: peers others can reach through this relay. */
  reservations: number
  /** Streams open on all connections. */
  streams: number
  /** Leases held: of peers on this relay (`own`) and in all, backbone included. */
  leases: { own: number, total: number }
  /** Backbone relays connected now. */
  backbone: number
  /** Directory requests served since start, by type. */
  requests: { lease: number, sample: number, leave: number, bad: number }
  /** Backbone messages received since start. */
  backboneMessages: number
  /** This process: resident memory and heap (bytes), CPU time used (µs). Several relays in one process share these. */
  process: { rss: number, heapUsed: number, cpuUser: number, cpuSystem: number }
}

export interface Relay {
  peerId: string
  /** WebSocket multiaddrs with /p2p/<id>, e.g. /ip4/127.0.0.1/tcp/9090/ws/p2p/12D3... */
  multiaddrs: string[]
  stats: () => RelayStats
  /** The lease book, for tests and the swarm's measurements. */
  readonly book: LeaseBook
  stop: () => Promise<void>
}

/**
 * Releases the reservation of a peer whose last connection closed. The
 * circuit relay server otherwise keeps it for its full TTL (2 h): a departed
 * peer cannot be reached through it anyway, and every tab ever opened would
 * count against `maxReservations` until then.
 */
function releaseReservation (node: RelayLibp2p, peer: PeerId): void {
  const reservations = node.services.relay.reservations
  const reservation = reservations.get(peer)
  if (reservation == null) return
  // stop its expiry timer first: when it fired later it would delete a
  // newer reservation the same peer made after reconnecting
  reservation.signal.clear()
  reservations.delete(peer)
  log('released the reservation of departed peer %s', peer.toString())
}

type BackboneMessage = { type: 'lease', lease: SignedLease } | { type: 'drop', peerId: string }

function encodeBackbone (m: BackboneMessage): Uint8Array {
  return encode({ v: 1, ...m })
}

function decodeBackbone (bytes: Uint8Array): BackboneMessage | undefined {
  if (bytes.byteLength > MAX_LEASE_BYTES + 256) return undefined
  const m = decode(bytes, { strict: true, useMaps: false }) as Record<string, unknown>
  if (m?.v !== 1) return undefined
  if (m.type === 'drop' && typeof m.peerId === 'string' && m.peerId.length <= 128) return { type: 'drop', peerId: m.peerId }
  const l = m.lease as Record<string, unknown> | undefined
  if (m.type === 'lease' && l?.body instanceof Uint8Array && l.sig instanceof Uint8Array) return { type: 'lease', lease: { body: l.body, sig: l.sig } }
  return undefined
}

export async function startRelay (init: RelayInit = {}): Promise<Relay> {
  const node = await createRelayLibp2p({
    privateKey: init.privateKey,
    host: init.host ?? '127.0.0.1',
    port: init.port ?? 0,
    maxReservations: init.maxReservations ?? 4096,
    maxHopStreams: init.maxHopStreams ?? 128
  })
  const self = node.peerId.toString()
  const book = new LeaseBook()
  const backbonePeers = (init.peers ?? []).length > 0 ? parseRelays(init.peers ?? []).filter(p => p.peerId !== self) : []
  const pubsub = node.services.pubsub
  let backboneMessages = 0
  let stopped = false

  const publish = (m: BackboneMessage): void => {
    pubsub.publish(LEASE_TOPIC, encodeBackbone(m)).catch((err: Error) => { log('backbone publish failed: %s', err.message) })
  }
  const directory = new DirectoryServer({
    registrar: node,
    book,
    self,
    changed: (peerId, lease) => { publish(lease != null ? { type: 'lease', lease: lease.signed } : { type: 'drop', peerId }) }
  })

  // a peer that is connected to this relay holds its lease here; a backbone
  // message never takes such a lease away from this relay
  const isClient = (id: string): boolean => node.services.relay.reservations.has(peerIdFromString(id))
  const onBackbone = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    if (msg.topic !== LEASE_TOPIC || msg.type !== 'signed') return
    const from = msg.from.toString()
    if (from === self || isClient(from)) return
    backboneMessages++
    let m: BackboneMessage | undefined
    try {
      m = decodeBackbone(msg.data)
    } catch {}
    if (m == null) return
    if (m.type === 'drop') { book.drop(m.peerId, from); return }
    openLease(m.lease, { now: Date.now() }).then((lease: Lease) => {
      const held = book.get(lease.peerId)
      if (held != null && isConnected(node, lease.peerId)) return
      book.put(lease, from)
    }, (err: Error) => { log('dropping a bad backbone lease from %s: %s', from, err.message) })
  }

  const onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail
    const id = peer.toString()
    releaseReservation(node, peer)
    if (book.drop(id, self)) publish({ type: 'drop', peerId: id })
    // a backbone relay went away: the leases it held go too (its peers re-home and lease again elsewhere)
    if (backbonePeers.some(p => p.peerId === id)) {
      const n = book.dropOrigin(id)
      if (n > 0) log('backbone relay %s left: dropped the %d leases it held', id, n)
      scheduleBackboneDial(id)
    }
  }

  // a backbone relay that (re)joined the topic learns the leases held here at once, not at their next renewal
  const onSubscription = (evt: CustomEvent<{ peerId: PeerId, subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    const id = evt.detail.peerId.toString()
    if (isClient(id) || !evt.detail.subscriptions.some(s => s.topic === LEASE_TOPIC && s.subscribe)) return
    for (const l of book.heldBy(self)) publish({ type: 'lease', lease: l.signed })
  }

  const timers = new Map<string, ReturnType<typeof setTimeout>>()
  const attempts = new Map<string, number>()
  const dialBackbone = (id: string): void => {
    const p = backbonePeers.find(b => b.peerId === id)
    if (p == null || stopped) return
    node.dial(multiaddr(p.text), { signal: AbortSignal.timeout(10_000) }).then(() => {
      attempts.set(id, 0)
      log('backbone: connected to relay %s', p.text)
    }, (err: Error) => {
      log('backbone: dialling relay %s failed: %s', p.text, err.message)
      scheduleBackboneDial(id)
    })
  }
  const scheduleBackboneDial = (id: string): void => {
    if (stopped || timers.has(id)) return
    const n = attempts.get(id) ?? 0
    attempts.set(id, n + 1)
    const delay = Math.min(30_000, (init.peerBackoffInitial ?? 1_000) * 2 ** n)
    timers.set(id, setTimeout(() => { timers.delete(id); if (!isConnected(node, id)) dialBackbone(id) }, delay))
  }

  node.addEventListener('peer:disconnect', onDisconnect)
  pubsub.addEventListener('message', onBackbone)
  pubsub.addEventListener('subscription-change', onSubscription as EventListener)
  const prune = setInterval(() => { book.prune() }, PRUNE_MS)
  await node.start()
  await directory.start()
  pubsub.subscribe(LEASE_TOPIC)
  // peers share observations and retractions through the relays
  pubsub.subscribe(OBSERVATION_TOPIC)
  pubsub.subscribe(RETRACTION_TOPIC)
  for (const p of backbonePeers) dialBackbone(p.peerId)
  const multiaddrs = node.getMultiaddrs().map(String)
  log('relay %s listening on %s', self, multiaddrs.join(', '))
  return {
    peerId: self,
    multiaddrs,
    book,
    stats: () => {
      const connections = node.getConnections()
      const mem = process.memoryUsage()
      const cpu = process.cpuUsage()
      // subscribers read once: per connection it was O(peers²) on a relay seating thousands
      const relays = new Set([...backbonePeers.map(p => p.peerId), ...pubsub.getSubscribers(LEASE_TOPIC).map(String)])
      const backbone = new Set(connections.map(c => c.remotePeer.toString()).filter(id => relays.has(id)))
      return {
        connections: connections.length,
        reservations: node.services.relay.reservations.size,
        streams: connections.reduce((n, c) => n + c.streams.length, 0),
        leases: { own: book.countFrom(self), total: book.size },
        backbone: backbone.size,
        requests: { ...directory.counts },
        backboneMessages,
        process: { rss: mem.rss, heapUsed: mem.heapUsed, cpuUser: cpu.user, cpuSystem: cpu.system }
      }
    },
    stop: async () => {
      stopped = true
      clearInterval(prune)
      for (const t of timers.values()) clearTimeout(t)
      node.removeEventListener('peer:disconnect', onDisconnect)
      pubsub.removeEventListener('message', onBackbone)
      pubsub.removeEventListener('subscription-change', onSubscription as EventListener)
      await directory.stop()
      await node.stop()
    }
  }
}

function isConnected (node: RelayLibp2p, id: string): boolean {
  return node.getConnections().some((c: Connection) => c.remotePeer.toString() === id && c.status === 'open')
}
