/**
 * Gossip topics: shared reputation observations and retraction records, the
 * rare events every holder of a receipt may need to hear. Capabilities are
 * not gossiped: contributors lease them to their relays (lease.ts), so no
 * peer pays for every other peer's presence.
 * Every message is size-bounded and decoded strictly before use; a bad one is
 * logged and dropped, never thrown at the pubsub layer.
 *
 * Periodic cost: gossipsub's 1 s heartbeat over this peer's own connections
 * (its relays and at most 16 links); messages only when a peer is flagged or
 * a receipt retracted.
 *
 * @example
 * ```ts
 * const gossip = new Gossip({ pubsub: node.services.pubsub, peerId: node.peerId.toString() })
 * gossip.addEventListener('network:retraction', (evt) => apply(evt.detail.record))
 * gossip.start()
 * await gossip.publishRetraction(recordText)
 * ```
 */
import { TypedEventEmitter } from '@libp2p/interface'
import type { Startable } from '@libp2p/interface'
import type { Message } from '@libp2p/gossipsub'
import { createLogger } from '../logger.js'
import { decodeObservationMessage, decodeRetraction, encodeObservationMessage, encodeRetraction } from './codec.js'
import type { ObservationMessage } from './codec.js'
import { MAX_OBSERVATION_BYTES, MAX_RETRACTION_BYTES, OBSERVATION_TOPIC, RETRACTION_TOPIC } from './constants.js'

const log = createLogger('network:gossip')

/** The part of a pubsub service (gossipsub) this module uses. */
export interface PubSubLike {
  subscribe: (topic: string) => void
  unsubscribe: (topic: string) => void
  publish: (topic: string, data: Uint8Array) => Promise<unknown>
  addEventListener: (type: 'message', listener: (evt: CustomEvent<Message>) => void) => void
  removeEventListener: (type: 'message', listener: (evt: CustomEvent<Message>) => void) => void
}

export interface GossipComponents {
  pubsub: PubSubLike
  /** This peer's id. */
  peerId: string
}

export interface GossipInit {
  /** Largest observation accepted or sent (bytes). @default 524288 */
  maxObservationBytes?: number
}

export interface ObservationEvent {
  /** Gossip author ('' for an unsigned message); the observation's own signature is checked by consensus code. */
  from: string
  message: ObservationMessage
}

export interface GossipEvents {
  /** A reputation observation another peer shared (shape-checked; its signature and evidence are not yet). */
  'network:observation': CustomEvent<ObservationEvent>
  /** A retraction record's text (size-checked; its signature is checked against the receipt it names by consensus code). */
  'network:retraction': CustomEvent<{ from: string, record: string }>
}

/** Every topic this service joins, in one list, so joining and leaving cannot drift apart. */
const TOPICS = [OBSERVATION_TOPIC, RETRACTION_TOPIC] as const

export class Gossip extends TypedEventEmitter<GossipEvents> implements Startable {
  private readonly components: GossipComponents
  private readonly maxObservationBytes: number
  private started = false

  constructor (components: GossipComponents, init: GossipInit = {}) {
    super()
    this.components = components
    this.maxObservationBytes = init.maxObservationBytes ?? MAX_OBSERVATION_BYTES
  }

  isStarted (): boolean { return this.started }

  start (): void {
    if (this.started) return
    this.components.pubsub.addEventListener('message', this.onMessage)
    for (const topic of TOPICS) this.components.pubsub.subscribe(topic)
    this.started = true
  }

  stop (): void {
    if (!this.started) return
    this.started = false
    this.components.pubsub.removeEventListener('message', this.onMessage)
    for (const topic of TOPICS) {
      try {
        this.components.pubsub.unsubscribe(topic)
      } catch (err) {
        log('unsubscribing from %s failed: %s', topic, (err as Error).message)
      }
    }
  }

  /** Shares a reputation observation; false when it is over the size limit or could not be sent. */
  async publishObservation (message: ObservationMessage): Promise<boolean> {
    const bytes = encodeObservationMessage(message)
    if (bytes.byteLength > this.maxObservationBytes) return false
    return await this.publish(OBSERVATION_TOPIC, bytes)
  }

  /** Shares a signed retraction record; false when it is over the size limit or could not be sent. */
  async publishRetraction (record: string): Promise<boolean> {
    const bytes = encodeRetraction(record)
    if (bytes.byteLength > MAX_RETRACTION_BYTES) return false
    return await this.publish(RETRACTION_TOPIC, bytes)
  }

  private async publish (topic: string, bytes: Uint8Array): Promise<boolean> {
    try {
      await this.components.pubsub.publish(topic, bytes)
      return true
    } catch (err) {
      log('publishing on %s failed: %s', topic, (err as Error).message)
      return false
    }
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    if (msg.topic === OBSERVATION_TOPIC) this.onObservation(msg)
    else if (msg.topic === RETRACTION_TOPIC) this.onRetraction(msg)
  }

  private onRetraction (msg: Message): void {
    try {
      const record = decodeRetraction(msg.data, MAX_RETRACTION_BYTES)
      this.safeDispatchEvent('network:retraction', { detail: { from: msg.type === 'signed' ? msg.from.toString() : '', record } })
    } catch (err) {
      log('dropping bad retraction: %s', (err as Error).message)
    }
  }

  private onObservation (msg: Message): void {
    try {
      const message = decodeObservationMessage(msg.data, this.maxObservationBytes)
      const from = msg.type === 'signed' ? msg.from.toString() : ''
      this.safeDispatchEvent('network:observation', { detail: { from, message } })
    } catch (err) {
      log('dropping bad observation: %s', (err as Error).message)
    }
  }
}
