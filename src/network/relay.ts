/**
 * The relay: browsers reach it over WebSockets; it reserves circuit slots so
 * peers can exchange WebRTC signalling, runs gossipsub (announce, observation
 * and discovery topics) and never carries jobs or models.
 *
 * @example
 * ```ts
 * const relay = await startRelay({ host: '127.0.0.1', port: 9090 })
 * console.log(relay.multiaddrs[0]) // /ip4/127.0.0.1/tcp/9090/ws/p2p/12D3…
 * await relay.stop()
 * ```
 */
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { createRelayLibp2p } from './libp2p.js'
import type { RelayLibp2p } from './libp2p.js'
import { ANNOUNCE_TOPIC, DEFAULT_DISCOVERY_INTERVAL_MS, OBSERVATION_TOPIC } from './constants.js'
import { createLogger } from '../logger.js'

const log = createLogger('relay')

export interface RelayInit {
  /** @default '127.0.0.1' */
  host?: string
  /** @default 0 (any free port) */
  port?: number
  /** Persist the relay id across restarts. @default a fresh key */
  privateKey?: PrivateKey
  /** @default 5000 */
  discoveryInterval?: number
  /** @default 256 (libp2p's own default of 15 is too few for a classroom) */
  maxReservations?: number
  /** Circuits (WebRTC signalling exchanges) one peer may have open through the relay at once. @default 128 */
  maxHopStreams?: number
}

export interface RelayStats {
  /** Open connections (one per peer page, plus any being set up). */
  connections: number
  /** Reservations held: peers others can reach through this relay. */
  reservations: number
  /** Streams open on all connections: gossip and identify per peer, plus one hop/stop pair per circuit being signalled. */
  streams: number
}

export interface Relay {
  peerId: string
  /** WebSocket multiaddrs with /p2p/<id>, e.g. /ip4/127.0.0.1/tcp/9090/ws/p2p/12D3... */
  multiaddrs: string[]
  stats: () => RelayStats
  stop: () => Promise<void>
}

/**
 * Releases the reservation of a peer whose last connection closed. The
 * circuit relay server otherwise keeps it for its full TTL (2 h): a departed
 * peer cannot be reached through it anyway, and every tab ever opened would
 * count against `maxReservations` until then.
 */
function releaseOnDisconnect (node: RelayLibp2p): (evt: CustomEvent<PeerId>) => void {
  return (evt) => {
    const peer = evt.detail
    const reservations = node.services.relay.reservations
    const reservation = reservations.get(peer)
    if (reservation == null) return
    // stop its expiry timer first: when it fired later it would delete a
    // newer reservation the same peer made after reconnecting
    reservation.signal.clear()
    reservations.delete(peer)
    log('released the reservation of departed peer %s', peer.toString())
  }
}

export async function startRelay (init: RelayInit = {}): Promise<Relay> {
  const node = await createRelayLibp2p({
    privateKey: init.privateKey,
    host: init.host ?? '127.0.0.1',
    port: init.port ?? 0,
    discoveryInterval: init.discoveryInterval ?? DEFAULT_DISCOVERY_INTERVAL_MS,
    maxReservations: init.maxReservations ?? 256,
    maxHopStreams: init.maxHopStreams ?? 128
  })
  node.addEventListener('peer:disconnect', releaseOnDisconnect(node))
  await node.start()
  // the relay subscribes so that it forwards announcements between peers that
  // are only connected to it
  node.services.pubsub.subscribe(ANNOUNCE_TOPIC)
  node.services.pubsub.subscribe(OBSERVATION_TOPIC)
  const multiaddrs = node.getMultiaddrs().map(String)
  log('relay %s listening on %s', node.peerId.toString(), multiaddrs.join(', '))
  return {
    peerId: node.peerId.toString(),
    multiaddrs,
    stats: () => {
      const connections = node.getConnections()
      return { connections: connections.length, reservations: node.services.relay.reservations.size, streams: connections.reduce((n, c) => n + c.streams.length, 0) }
    },
    stop: async () => { await node.stop() }
  }
}
