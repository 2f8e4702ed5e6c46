import { describe, it, expect } from 'vitest'
import { PeerLimiter } from './limit.js'

describe('PeerLimiter', () => {
  it('lets `limit` requests per peer through and queues the rest in order', async () => {
    const limiter = new PeerLimiter(2)
    const a1 = await limiter.acquire('a')
    const a2 = await limiter.acquire('a')
    // another peer has its own slots
    const b1 = await limiter.acquire('b')
    const order: number[] = []
    const a3 = limiter.acquire('a').then((r) => { order.push(3); return r })
    const a4 = limiter.acquire('a').then((r) => { order.push(4); return r })
    await Promise.resolve()
    expect(limiter.inFlight('a')).toBe(2)
    expect(limiter.queued('a')).toBe(2)
    a1()
    a1() // releasing twice frees one slot only
    const r3 = await a3
    expect(order).toEqual([3])
    expect(limiter.inFlight('a')).toBe(2)
    a2()
    const r4 = await a4
    expect(order).toEqual([3, 4])
    r3(); r4(); b1()
    expect(limiter.inFlight('a')).toBe(0)
    expect(limiter.inFlight('b')).toBe(0)
  })

  it('drops a waiter whose signal aborts, with the signal reason, and keeps the queue moving', async () => {
    const limiter = new PeerLimiter(1)
    const first = await limiter.acquire('a')
    const controller = new AbortController()
    const aborted = limiter.acquire('a', { signal: controller.signal })
    const next = limiter.acquire('a')
    controller.abort(Object.assign(new Error('gone'), { name: 'TimeoutError' }))
    await expect(aborted).rejects.toMatchObject({ name: 'TimeoutError' })
    expect(limiter.queued('a')).toBe(1)
    first()
    const release = await next
    expect(limiter.inFlight('a')).toBe(1)
    release()
    await expect(limiter.acquire('a', { signal: AbortSignal.abort() })).rejects.toBeDefined()
  })

  it('refuses a limit below one', () => {
    expect(() => new PeerLimiter(0)).toThrow(RangeError)
  })
})
