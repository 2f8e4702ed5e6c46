import { createRelayLibp2p } from './libp2p.js'
import type { RelayLibp2p } from './libp2p.js'
import { ANNOUNCE_TOPIC, DEFAULT_DISCOVERY_INTERVAL_MS, OBSERVATION_TOPIC } from './constants.js'
import { createLogger } from '../logger.js'
import type { PrivateKey } from '@libp2p/interface'

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
}

export interface Relay {
  peerId: string
  /** WebSocket multiaddrs with /p2p/<id>, e.g. /ip4/127.0.0.1/tcp/9090/ws/p2p/12D3... */
  multiaddrs: string[]
  /** Number of open connections. */
  connections: () => number
  stop: () => Promise<void>
}

/**
 * Starts a relay: browsers reach it over WebSockets; it reserves circuit
 * slots so peers can exchange WebRTC signalling, runs gossipsub (announce and
 * discovery topics) and never carries jobs or models.
 */
export async function startRelay (init: RelayInit = {}): Promise<Relay> {
  const node: RelayLibp2p = await createRelayLibp2p({
    privateKey: init.privateKey,
    host: init.host ?? '127.0.0.1',
    port: init.port ?? 0,
    discoveryInterval: init.discoveryInterval ?? DEFAULT_DISCOVERY_INTERVAL_MS,
    maxReservations: init.maxReservations ?? 256
  })
  await node.start()
  // the relay subscribes so that it forwards announcements between peers that
  // are only connected to it
  ;(node.services as any).pubsub.subscribe(ANNOUNCE_TOPIC)
  ;(node.services as any).pubsub.subscribe(OBSERVATION_TOPIC)
  const multiaddrs = node.getMultiaddrs().map(String)
  log('relay %s listening on %s', node.peerId.toString(), multiaddrs.join(', '))
  return {
    peerId: node.peerId.toString(),
    multiaddrs,
    connections: () => node.getConnections().length,
    stop: async () => { await node.stop() }
  }
}
