import { describe, it, expect } from 'vitest'
import { encode } from 'cborg'
import type { Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { Gossip } from './gossip.js'
import type { PubSubLike } from './gossip.js'
import { encodeAnnouncement } from './codec.js'
import type { Announcement } from './codec.js'
import { ANNOUNCE_TOPIC, OBSERVATION_TOPIC, RETRACTION_TOPIC } from './constants.js'

class FakePubSub implements PubSubLike {
  readonly topics = new Set<string>()
  readonly published: Array<{ topic: string, data: Uint8Array }> = []
  private readonly listeners = new Set<(evt: CustomEvent<Message>) => void>()
  subscribe (topic: string): void { this.topics.add(topic) }
  unsubscribe (topic: string): void { this.topics.delete(topic) }
  async publish (topic: string, data: Uint8Array): Promise<void> { this.published.push({ topic, data }) }
  addEventListener (_type: 'message', listener: (evt: CustomEvent<Message>) => void): void { this.listeners.add(listener) }
  removeEventListener (_type: 'message', listener: (evt: CustomEvent<Message>) => void): void { this.listeners.delete(listener) }
  deliver (msg: Message): void { for (const l of [...this.listeners]) l(new CustomEvent('message', { detail: msg })) }
}

const peer = (id: string): PeerId => ({ toString: () => id }) as unknown as PeerId
const signed = (from: string, topic: string, data: Uint8Array): Message => ({ type: 'signed', from: peer(from), topic, data, sequenceNumber: 1n, signature: new Uint8Array(), key: undefined as any })

function announcement (peerId: string): Announcement {
  return { peerId, models: [], numericClass: 'ort-node/cpu/t1/linux', backend: 'cpu', threads: 1, jobsDone: 0, at: 1, paused: false, runtime: 'ort-node' }
}

function setup (): { pubsub: FakePubSub, gossip: Gossip, seen: Announcement[] } {
  const pubsub = new FakePubSub()
  const gossip = new Gossip({ pubsub, peerId: 'me' })
  const seen: Announcement[] = []
  gossip.addEventListener('network:announcement', (evt) => { seen.push(evt.detail) })
  gossip.start()
  return { pubsub, gossip, seen }
}

describe('Gossip', () => {
  it('subscribes to every topic while started, idempotently', () => {
    const { pubsub, gossip } = setup()
    gossip.start()
    expect([...pubsub.topics].sort()).toEqual([ANNOUNCE_TOPIC, OBSERVATION_TOPIC, RETRACTION_TOPIC].sort())
    gossip.stop()
    gossip.stop()
    expect(pubsub.topics.size).toBe(0)
  })

  it('accepts an announcement only from the peer it describes', () => {
    const { pubsub, seen } = setup()
    pubsub.deliver(signed('alice', ANNOUNCE_TOPIC, encodeAnnouncement(announcement('alice'))))
    pubsub.deliver(signed('mallory', ANNOUNCE_TOPIC, encodeAnnouncement(announcement('alice'))))
    pubsub.deliver({ type: 'unsigned', topic: ANNOUNCE_TOPIC, data: encodeAnnouncement(announcement('bob')) })
    expect(seen.map(a => a.peerId)).toEqual(['alice'])
  })

  it('ignores its own announcements, malformed ones and other topics', () => {
    const { pubsub, seen } = setup()
    pubsub.deliver(signed('me', ANNOUNCE_TOPIC, encodeAnnouncement(announcement('me'))))
    pubsub.deliver(signed('alice', ANNOUNCE_TOPIC, encode({ v: 1, peerId: 'alice', models: ['nope'] })))
    pubsub.deliver(signed('alice', ANNOUNCE_TOPIC, new Uint8Array(20_000)))
    pubsub.deliver(signed('alice', 'another/topic', encodeAnnouncement(announcement('alice'))))
    expect(seen).toEqual([])
  })

  it('carries an announcement\'s identity puzzle nonce, and drops a malformed one', () => {
    const { pubsub, seen } = setup()
    pubsub.deliver(signed('alice', ANNOUNCE_TOPIC, encodeAnnouncement({ ...announcement('alice'), identityNonce: '1f2e' })))
    pubsub.deliver(signed('bob', ANNOUNCE_TOPIC, encodeAnnouncement({ ...announcement('bob'), identityNonce: 'NOT-HEX' })))
    pubsub.deliver(signed('carol', ANNOUNCE_TOPIC, encodeAnnouncement({ ...announcement('carol'), identityNonce: 'a'.repeat(33) })))
    expect(seen.map(a => [a.peerId, a.identityNonce])).toEqual([['alice', '1f2e']])
  })

  it('shares retraction records on their own topic, size-bounded; malformed ones are dropped', async () => {
    const { pubsub, gossip } = setup()
    const got: Array<{ from: string, record: string }> = []
    gossip.addEventListener('network:retraction', (evt) => { got.push(evt.detail) })
    expect(await gossip.publishRetraction('{"v":1}')).toBe(true)
    expect(await gossip.publishRetraction('x'.repeat(9000))).toBe(false)
    expect(pubsub.published.map(p => p.topic)).toEqual([RETRACTION_TOPIC])
    pubsub.deliver(signed('alice', RETRACTION_TOPIC, pubsub.published[0].data))
    pubsub.deliver(signed('alice', RETRACTION_TOPIC, encode({ v: 1, type: 'observation', record: 'x' })))
    pubsub.deliver(signed('alice', RETRACTION_TOPIC, encode({ v: 1, type: 'retraction', record: 7 })))
    pubsub.deliver(signed('alice', RETRACTION_TOPIC, new Uint8Array(9000)))
    expect(got).toEqual([{ from: 'alice', record: '{"v":1}' }])
  })

  it('stops delivering once stopped', () => {
    const { pubsub, gossip, seen } = setup()
    gossip.stop()
    pubsub.deliver(signed('alice', ANNOUNCE_TOPIC, encodeAnnouncement(announcement('alice'))))
    expect(seen).toEqual([])
  })

  it('publishes announcements on the announce topic, paused flag included', async () => {
    const { pubsub, gossip } = setup()
    expect(await gossip.announce({ ...announcement('me'), paused: true })).toBe(true)
    expect(pubsub.published.map(p => p.topic)).toEqual([ANNOUNCE_TOPIC])
    const received: Announcement[] = []
    const other = new Gossip({ pubsub, peerId: 'other' })
    other.addEventListener('network:announcement', (evt) => { received.push(evt.detail) })
    other.start()
    pubsub.deliver(signed('me', ANNOUNCE_TOPIC, pubsub.published[0].data))
    expect(received).toEqual([{ ...announcement('me'), paused: true }])
  })
})
