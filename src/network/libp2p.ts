/**
 * libp2p node construction for the two roles: peer (browser page, Node CLI
 * or library) and relay. The only place that wires transports, encryption,
 * muxers and services.
 */
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { webRTC } from '@libp2p/webrtc'
import { circuitRelayTransport, circuitRelayServer } from '@libp2p/circuit-relay-v2'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipsubOpts } from '@libp2p/gossipsub'
import { defaultLogger } from '@libp2p/logger'
import type { ComponentLogger, Logger, PrivateKey } from '@libp2p/interface'
import { WEBRTC_MAX_MESSAGE_BYTES } from './constants.js'

export type PeerLibp2p = Libp2p<{ identify: ReturnType<ReturnType<typeof identify>>, pubsub: ReturnType<ReturnType<typeof gossipsub>> }>

export interface PeerLibp2pInit {
  privateKey: PrivateKey
  /** Allow dialling plain ws:// and loopback/private addresses (local/dev networks). */
  allowLocal: boolean
  /** How many relays to hold a reservation on at once (one per configured relay). */
  relayCount: number
  /** A relay answered a reservation request with a refusal (or it failed otherwise). */
  onReservationFailed?: (failure: ReservationFailure) => void
}

export interface ReservationFailure {
  /** The relay's peer id. */
  relay: string
  /** The relay's answer when it refused (`RESERVATION_REFUSED`: out of capacity; `PERMISSION_DENIED`), else undefined. */
  status?: string
  error: Error
}

/** The circuit relay transport component that takes reservations. */
const RESERVATION_STORE = 'libp2p:circuit-relay:transport:reservation-store'
/** How the transport words a relay's refusal (circuit-relay-v2 4.x, reservation-store.ts). */
const REFUSAL = /reservation failed with status (\w+)/

/**
 * libp2p's logger, except that the reservation store's errors are also
 * reported to `onFailure`. The circuit relay transport takes reservations on
 * its own and only logs a refusal ("reservation failed with status
 * RESERVATION_REFUSED"): no event or API tells it, and without it a peer on a
 * full relay just waits, connected but unreachable, until its join times out.
 */
function reservationWatcher (onFailure: (failure: ReservationFailure) => void): ComponentLogger {
  const base = defaultLogger()
  return {
    forComponent (name: string): Logger {
      const log = base.forComponent(name)
      if (name !== RESERVATION_STORE) return log
      const error = (formatter: unknown, ...args: unknown[]): void => {
        const err = args.find((a): a is Error => a instanceof Error)
        const peer = args.find((a): a is { toString: () => string } => a != null && typeof a === 'object' && typeof (a as { toMultihash?: unknown }).toMultihash === 'function')
        if (err != null && peer != null) {
          try {
            onFailure({ relay: peer.toString(), status: REFUSAL.exec(err.message)?.[1], error: err })
          } catch {}
        }
        log.error(formatter, ...args)
      }
      return new Proxy(log, { get: (target, prop, receiver) => (prop === 'error' ? error : Reflect.get(target, prop, receiver)) })
    }
  }
}

// Relayed inbound connections all count as the relay's IP: the default of 5/s
// stalls handshakes with 6+ peers (NOTES), so browsers and relay raise it.
const CONNECTION_MANAGER = { inboundConnectionThreshold: 200, maxIncomingPendingConnections: 64, maxConnections: 300 }
/** A relay seats thousands of peers, each one WebSocket connection. */
const RELAY_CONNECTION_MANAGER = { inboundConnectionThreshold: 1000, maxIncomingPendingConnections: 256, maxConnections: 10_000 }

/**
 * Gossipsub scores down peers that share an IP (more than 10 per IP, each
 * surplus peer squared × -5) and remembers departed peers' IPs for an hour.
 * Here every browser reaches the relay from one address (loopback, or a
 * classroom's NAT), and a WebRTC dialler's remote address is the relay's: so
 * after ~10 pages had come and gone, every new page scored below zero, was
 * pruned from the relay's mesh and never heard discovery or announcements
 * again until the relay restarted (NOTES, Churn). Sybil resistance here comes
 * from quorum and reputation, not IP diversity, so the penalty is off.
 */
const GOSSIP: Partial<GossipsubOpts> = { allowPublishToZeroTopicPeers: true, emitSelf: false, scoreParams: { IPColocationFactorWeight: 0 } }

function gater (allowLocal: boolean): { denyDialMultiaddr: () => boolean } | undefined {
  // libp2p's browser default refuses ws:// and private addresses; a local
  // network needs them. For public relays the strict default is kept.
  return allowLocal ? { denyDialMultiaddr: () => false } : undefined
}

/** A contributor or requester peer: reaches relays over WebSockets, other peers over direct WebRTC. */
export async function createPeerLibp2p (init: PeerLibp2pInit): Promise<PeerLibp2p> {
  return await createLibp2p({
    privateKey: init.privateKey,
    ...(init.onReservationFailed != null ? { logger: reservationWatcher(init.onReservationFailed) } : {}),
    // one '/p2p-circuit' per relay: each asks the circuit transport for one
    // more reservation, which it takes on the next relay we connect to
    addresses: { listen: [...Array<string>(Math.max(1, init.relayCount)).fill('/p2p-circuit'), '/webrtc'] },
    transports: [
      webSockets(),
      webRTC({ rtcConfiguration: { iceServers: [] }, dataChannel: { maxMessageSize: WEBRTC_MAX_MESSAGE_BYTES } }),
      circuitRelayTransport()
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: gater(init.allowLocal),
    connectionManager: CONNECTION_MANAGER,
    // no peer discovery: peers find each other through their relays' lease
    // samples, never by broadcast (pubsub discovery cost every peer O(N))
    // libp2p's connection monitor pings every connection every 10 s on a new
    // stream, which on WebRTC is a new data channel per link per ping. WebRTC
    // has its own liveness (ICE consent, SCTP heartbeats); the relay pings
    // its WebSocket connections, and the lease renewal uses them too.
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      pubsub: gossipsub(GOSSIP)
    }
  }) as unknown as PeerLibp2p
}

export interface RelayLibp2pInit {
  privateKey?: PrivateKey
  host: string
  port: number
  maxReservations: number
  /** Concurrent circuits one peer may open through the relay (hop streams per connection). */
  maxHopStreams: number
}

export type RelayLibp2p = Libp2p<{ relay: CircuitRelayService, pubsub: ReturnType<ReturnType<typeof gossipsub>> }>

/** The relay: WebSockets listener, circuit relay v2 (signalling only), lease directory and the relays' gossip backbone. */
export async function createRelayLibp2p (init: RelayLibp2pInit): Promise<RelayLibp2p> {
  return await createLibp2p({
    ...(init.privateKey != null ? { privateKey: init.privateKey } : {}),
    addresses: { listen: [`/ip4/${init.host}/tcp/${init.port}/ws`] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: gater(true),
    connectionManager: RELAY_CONNECTION_MANAGER,
    // a dead WebSocket (a tab that vanished without closing) is found within
    // two pings; 30 s instead of 10 s: one small stream per peer per 30 s
    connectionMonitor: { pingInterval: 30_000 },
    services: {
      identify: identify(),
      // libp2p's default of 32 inbound hop streams per connection caps how
      // many peers one page can be signalling with at once
      relay: circuitRelayServer({ reservations: { maxReservations: init.maxReservations }, maxInboundHopStreams: init.maxHopStreams }),
      pubsub: gossipsub(GOSSIP)
    }
  }) as unknown as RelayLibp2p
}
