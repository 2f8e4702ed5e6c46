import { describe, it, expect } from 'vitest'
import { encode } from 'cborg'
import type { Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { Gossip } from './gossip.js'
import type { PubSubLike } from './gossip.js'
import { OBSERVATION_TOPIC, RETRACTION_TOPIC } from './constants.js'

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

function setup (): { pubsub: FakePubSub, gossip: Gossip, seen: string[] } {
  const pubsub = new FakePubSub()
  const gossip = new Gossip({ pubsub, peerId: 'me' })
  const seen: string[] = []
  gossip.addEventListener('network:retraction', (evt) => { seen.push(evt.detail.record) })
  gossip.start()
  return { pubsub, gossip, seen }
}

describe('Gossip', () => {
  it('subscribes to observations and retractions only (capabilities are leased, never gossiped), idempotently', () => {
    const { pubsub, gossip } = setup()
    gossip.start()
    expect([...pubsub.topics].sort()).toEqual([OBSERVATION_TOPIC, RETRACTION_TOPIC].sort())
    gossip.stop()
    gossip.stop()
    expect(pubsub.topics.size).toBe(0)
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
    pubsub.deliver(signed('alice', RETRACTION_TOPIC, encode({ v: 1, type: 'retraction', record: '{"v":1}' })))
    expect(seen).toEqual([])
  })

})
