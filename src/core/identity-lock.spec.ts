import { afterEach, describe, expect, it, vi } from 'vitest'
import { acquireIdentityLock } from './identity-lock.js'
import type { BroadcastChannelLike, IdentityLockInit, LockManagerLike } from './identity-lock.js'

/**
 * In-memory Web Locks (exclusive mode) with the semantics used here: a lock is
 * held while the callback's promise is pending; `ifAvailable` calls back with
 * null when held; `steal` grants at once and rejects the previous holder's
 * request with an AbortError, as browsers do. Node 20 has no navigator.locks.
 */
class FakeLocks implements LockManagerLike {
  private readonly held = new Map<string, object>()
  private readonly waiting = new Map<string, Array<() => void>>()

  request: LockManager['request'] = ((name: string, a: LockOptions | LockGrantedCallback<unknown>, b?: LockGrantedCallback<unknown>): Promise<unknown> => {
    const options = typeof a === 'function' ? {} : a
    const callback = (typeof a === 'function' ? a : b) as LockGrantedCallback<unknown>
    if (options.steal === true && options.ifAvailable === true) return Promise.reject(new DOMException('steal and ifAvailable', 'NotSupportedError'))
    if (options.signal != null && (options.steal === true || options.ifAvailable === true)) return Promise.reject(new DOMException('signal with steal or ifAvailable', 'NotSupportedError'))
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        const entry = { reject }
        this.held.set(name, entry)
        Promise.resolve().then(() => callback({ name, mode: 'exclusive' } as Lock)).then(resolve, reject).finally(() => {
          // a stolen holder's callback settling later must not release the thief
          if (this.held.get(name) !== entry) return
          this.held.delete(name)
          this.waiting.get(name)?.shift()?.()
        })
      }
      const current = this.held.get(name) as { reject: (err: unknown) => void } | undefined
      if (current == null) grant()
      else if (options.steal === true) {
        this.held.delete(name)
        current.reject(new DOMException("Lock broken by another request with the 'steal' option.", 'AbortError'))
        grant()
      } else if (options.ifAvailable === true) {
        Promise.resolve().then(() => callback(null)).then(resolve, reject)
      } else {
        this.waiting.set(name, [...(this.waiting.get(name) ?? []), grant])
      }
    })
  }) as LockManager['request']

  isHeld (name: string): boolean { return this.held.has(name) }
}

/** Channels of one origin: a message reaches every other open channel of the same name, asynchronously and cloned. */
function fakeBus (): { open: (name: string) => BroadcastChannelLike, posted: unknown[] } {
  const members = new Set<{ name: string, deliver: (data: unknown) => void }>()
  const posted: unknown[] = []
  const open = (name: string): BroadcastChannelLike => {
    const listeners = new Set<(evt: { data: unknown }) => void>()
    const self = { name, deliver: (data: unknown) => { for (const l of listeners) l({ data }) } }
    members.add(self)
    return {
      postMessage (message) {
        posted.push(message)
        for (const m of members) if (m !== self && m.name === name) queueMicrotask(() => { m.deliver(structuredClone(message)) })
      },
      addEventListener (_type, l) { listeners.add(l) },
      removeEventListener (_type, l) { listeners.delete(l) },
      close () { members.delete(self) }
    }
  }
  return { open, posted }
}

function setup (): { locks: FakeLocks, bus: ReturnType<typeof fakeBus>, init: (surface: string) => IdentityLockInit } {
  const locks = new FakeLocks()
  const bus = fakeBus()
  return { locks, bus, init: (surface) => ({ surface, locks, channel: bus.open }) }
}

describe('acquireIdentityLock', () => {
  afterEach(() => { vi.unstubAllGlobals() })

  it('lets one context hold the identity and tells the next who holds it', async () => {
    const { init } = setup()
    const first = await acquireIdentityLock(init('page'))
    if (!first.held) throw new Error('first acquire should hold')
    first.lock.setPeerId('12D3KooWFirst')

    const second = await acquireIdentityLock(init('widget'))
    expect(second.held).toBe(false)
    if (second.held) return
    expect(second.holder).toEqual({ peerId: '12D3KooWFirst', surface: 'page', since: expect.any(Number) })
    await first.lock.release()
  })

  it('on steal, the holder loses the identity and the thief holds it', async () => {
    const { init } = setup()
    const first = await acquireIdentityLock(init('page'))
    if (!first.held) throw new Error('first acquire should hold')
    first.lock.setPeerId('12D3KooWFirst')
    let lost = false
    void first.lock.lost.then(() => { lost = true })

    const second = await acquireIdentityLock(init('extension'), { steal: true })
    expect(second.held).toBe(true)
    if (!second.held) return
    await first.lock.lost
    expect(lost).toBe(true)
    second.lock.setPeerId('12D3KooWFirst')

    // the old holder went quiet: only the thief answers
    const third = await acquireIdentityLock(init('page'))
    expect(third).toEqual({ held: false, holder: { peerId: '12D3KooWFirst', surface: 'extension', since: expect.any(Number) } })
    // releasing a lost lock is harmless and does not free the thief's
    await first.lock.release()
    expect((await acquireIdentityLock(init('page'))).held).toBe(false)
    await second.lock.release()
  })

  it('release lets the next acquire succeed, and is idempotent', async () => {
    const { init, locks } = setup()
    const first = await acquireIdentityLock(init('page'))
    if (!first.held) throw new Error('first acquire should hold')
    await first.lock.release()
    await first.lock.release()
    await expect.poll(() => locks.isHeld('crosscheck:identity')).toBe(false)
    const second = await acquireIdentityLock(init('page'))
    expect(second.held).toBe(true)
    if (second.held) await second.lock.release()
  })

  it('keeps identities under different names apart', async () => {
    const { init } = setup()
    const a = await acquireIdentityLock({ ...init('page'), name: 'crosscheck:identity:a' })
    const b = await acquireIdentityLock({ ...init('page'), name: 'crosscheck:identity:b' })
    expect([a.held, b.held]).toEqual([true, true])
    if (a.held) await a.lock.release()
    if (b.held) await b.lock.release()
  })

  it('reports no holder when the holder does not answer in time', async () => {
    const { init, locks } = setup()
    // a holder with no channel (e.g. an older build) cannot answer
    const first = await acquireIdentityLock({ surface: 'page', locks, channel: () => { throw new Error('no BroadcastChannel') } })
    expect(first.held).toBe(true)
    const second = await acquireIdentityLock({ ...init('page'), whoTimeoutMs: 10 })
    expect(second).toEqual({ held: false })
    if (first.held) await first.lock.release()
  })

  it('ignores malformed or foreign answers', async () => {
    const { init, bus, locks } = setup()
    const first = await acquireIdentityLock({ surface: 'page', locks, channel: () => { throw new Error('none') } })
    // a rogue member of the channel answers every question with junk
    const rogue = bus.open('crosscheck:identity')
    rogue.addEventListener('message', ({ data }) => {
      const nonce = (data as { nonce: string }).nonce
      rogue.postMessage({ type: 'crosscheck:identity:holder', nonce, holder: { surface: 42, since: 'now' } })
      rogue.postMessage({ type: 'crosscheck:identity:holder', nonce: 'other', holder: { surface: 'page', since: 1 } })
      rogue.postMessage({ type: 'crosscheck:identity:holder', nonce, holder: { surface: 'x'.repeat(10_000), since: 1 } })
      rogue.postMessage(null)
    })
    const second = await acquireIdentityLock({ ...init('page'), whoTimeoutMs: 20 })
    expect(second).toEqual({ held: false })
    rogue.close()
    if (first.held) await first.lock.release()
  })

  it('holds without locking where there are no Web Locks', async () => {
    vi.stubGlobal('navigator', {})
    const a = await acquireIdentityLock({ surface: 'library' })
    const b = await acquireIdentityLock({ surface: 'library' })
    expect([a.held, b.held]).toEqual([true, true])
    if (a.held) await a.lock.release()
  })

  it('uses navigator.locks and a real BroadcastChannel by default', async () => {
    vi.stubGlobal('navigator', { locks: new FakeLocks() })
    const first = await acquireIdentityLock({ surface: 'page' })
    if (!first.held) throw new Error('first acquire should hold')
    first.lock.setPeerId('12D3KooWDefault')
    const second = await acquireIdentityLock({ surface: 'widget' })
    expect(second).toEqual({ held: false, holder: { peerId: '12D3KooWDefault', surface: 'page', since: expect.any(Number) } })
    await first.lock.release()
  })

  it('throws AbortError for an aborted signal, and does not keep the lock', async () => {
    const { init, locks, bus } = setup()
    await expect(acquireIdentityLock(init('page'), { signal: AbortSignal.abort() })).rejects.toHaveProperty('name', 'AbortError')
    expect(locks.isHeld('crosscheck:identity')).toBe(false)

    const first = await acquireIdentityLock({ surface: 'page', locks, channel: () => { throw new Error('none') } })
    const controller = new AbortController()
    const asking = acquireIdentityLock({ ...init('page'), whoTimeoutMs: 60_000 }, { signal: controller.signal })
    // refused (first holds it), then asking who holds it, an answer that never comes
    await expect.poll(() => bus.posted.length).toBe(1)
    controller.abort()
    await expect(asking).rejects.toHaveProperty('name', 'AbortError')
    if (first.held) await first.lock.release()
  })

  it('passes on a failed lock request', async () => {
    const locks: LockManagerLike = { request: (async () => { throw new DOMException('nope', 'SecurityError') }) as LockManager['request'] }
    await expect(acquireIdentityLock({ surface: 'page', locks })).rejects.toHaveProperty('name', 'SecurityError')
  })
})
