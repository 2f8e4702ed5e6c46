/**
 * Gossip topics: capability announcements, shared reputation observations
 * and retraction records.
 * Every message is size-bounded and decoded strictly before use; a bad one is
 * logged and dropped, never thrown at the pubsub layer.
 *
 * Gossipsub signs messages, so the author of an announcement is known: an
 * announcement is accepted only from the peer it describes (nobody can
 * announce, or pause, somebody else), and this peer's own are ignored.
 *
 * @example
 * ```ts
 * const gossip = new Gossip({ pubsub: node.services.pubsub, peerId: node.peerId.toString() })
 * gossip.addEventListener('network:announcement', (evt) => directory.announced(evt.detail))
 * await gossip.start()
 * await gossip.announce({ ...capabilities, peerId, at: Date.now(), paused: false })
 * ```
 */
import { TypedEventEmitter } from '@libp2p/interface'
import type { Startable } from '@libp2p/interface'
import type { Message } from '@libp2p/gossipsub'
import { createLogger } from '../logger.js'
import { decodeAnnouncement, decodeObservationMessage, decodeRetraction, encodeAnnouncement, encodeObservationMessage, encodeRetraction } from './codec.js'
import type { Announcement, ObservationMessage } from './codec.js'
import { ANNOUNCE_TOPIC, MAX_ANNOUNCE_BYTES, MAX_OBSERVATION_BYTES, MAX_RETRACTION_BYTES, OBSERVATION_TOPIC, RETRACTION_TOPIC } from './constants.js'

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
  /** This peer's id: its own announcements echoed back are ignored. */
  peerId: string
}

export interface GossipInit {
  /** Largest announcement accepted or sent (bytes). @default 16384 */
  maxAnnounceBytes?: number
  /** Largest observation accepted or sent (bytes). @default 524288 */
  maxObservationBytes?: number
}

export interface ObservationEvent {
  /** Gossip author ('' for an unsigned message); the observation's own signature is checked by consensus code. */
  from: string
  message: ObservationMessage
}

export interface GossipEvents {
  /** An announcement, from its own author. */
  'network:announcement': CustomEvent<Announcement>
  /** A reputation observation another peer shared (shape-checked; its signature and evidence are not yet). */
  'network:observation': CustomEvent<ObservationEvent>
  /** A retraction record's text (size-checked; its signature is checked against the receipt it names by consensus code). */
  'network:retraction': CustomEvent<{ from: string, record: string }>
}

/** Every topic this service joins, in one list, so joining and leaving cannot drift apart. */
const TOPICS = [ANNOUNCE_TOPIC, OBSERVATION_TOPIC, RETRACTION_TOPIC] as const

export class Gossip extends TypedEventEmitter<GossipEvents> implements Startable {
  private readonly components: GossipComponents
  private readonly maxAnnounceBytes: number
  private readonly maxObservationBytes: number
  private started = false

  constructor (components: GossipComponents, init: GossipInit = {}) {
    super()
    this.components = components
    this.maxAnnounceBytes = init.maxAnnounceBytes ?? MAX_ANNOUNCE_BYTES
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

  /** Publishes an announcement; false when it was over the size limit or could not be sent. */
  async announce (a: Announcement): Promise<boolean> {
    const bytes = encodeAnnouncement(a)
    if (bytes.byteLength > this.maxAnnounceBytes) {
      log('announcement of %d bytes is over the %d byte limit: not sent', bytes.byteLength, this.maxAnnounceBytes)
      return false
    }
    return await this.publish(ANNOUNCE_TOPIC, bytes)
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
    if (msg.topic === ANNOUNCE_TOPIC) this.onAnnouncement(msg)
    else if (msg.topic === OBSERVATION_TOPIC) this.onObservation(msg)
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

  private onAnnouncement (msg: Message): void {
    let a: Announcement
    try {
      a = decodeAnnouncement(msg.data, this.maxAnnounceBytes)
    } catch (err) {
      log('dropping bad announcement: %s', (err as Error).message)
      return
    }
    if (msg.type !== 'signed' || msg.from.toString() !== a.peerId) {
      log('dropping an announcement about %s that it did not sign', a.peerId)
      return
    }
    if (a.peerId === this.components.peerId) return
    this.safeDispatchEvent('network:announcement', { detail: a })
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
