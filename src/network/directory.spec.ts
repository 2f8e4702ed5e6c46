import { describe, it, expect } from 'vitest'
import { PeerDirectory } from './directory.js'
import type { Announcement } from './codec.js'

function announcement (peerId: string, over: Partial<Announcement> = {}): Announcement {
  return { peerId, models: [], numericClass: 'ort-web/wasm/t1/chromium', backend: 'wasm', threads: 1, jobsDone: 0, at: 0, paused: false, ...over }
}

function setup (ttl = 15_000): { dir: PeerDirectory, clock: { t: number } } {
  const clock = { t: 1_000_000 }
  return { dir: new PeerDirectory({ now: () => clock.t }, { ttl }), clock }
}

const ids = (entries: Array<{ peerId: string }>): string[] => entries.map(e => e.peerId)

describe('PeerDirectory', () => {
  it('defaults to a 15 s TTL (3 announce intervals) and refuses a non-positive one', () => {
    expect(new PeerDirectory().ttl).toBe(15_000)
    expect(() => new PeerDirectory({}, { ttl: 0 })).toThrow(RangeError)
  })

  it('keeps an announcement for exactly the TTL, then drops it and the entry', () => {
    const { dir, clock } = setup(15_000)
    dir.announced(announcement('a'))
    clock.t += 15_000
    expect(ids(dir.contributors())).toEqual(['a'])
    expect(dir.get('a')?.announcement?.peerId).toBe('a')
    clock.t += 1
    expect(dir.get('a')).toBeUndefined()
    expect(dir.prune()).toEqual({ removed: ['a'], lapsed: ['a'] })
    expect(dir.contributors()).toEqual([])
    expect(dir.entries()).toEqual([])
  })

  it('stops offering a departed peer at once, until it announces again', () => {
    const { dir } = setup()
    dir.announced(announcement('a'))
    dir.announced(announcement('b'))
    dir.departed('a')
    dir.departed('nobody')
    expect(ids(dir.contributors())).toEqual(['b'])
    expect(dir.get('a')?.announcement).toBeUndefined()
    dir.announced(announcement('a'))
    expect(ids(dir.contributors()).sort()).toEqual(['a', 'b'])
  })

  it('is refreshed by each new announcement, discovery or connection event', () => {
    const { dir, clock } = setup(10_000)
    dir.announced(announcement('a'))
    clock.t += 8_000
    dir.announced(announcement('a', { jobsDone: 1 }))
    clock.t += 8_000
    expect(dir.contributors().map(e => e.announcement?.jobsDone)).toEqual([1])

    dir.discovered('b', ['/ip4/127.0.0.1/tcp/1/ws/p2p/R/p2p-circuit/webrtc/p2p/b'])
    clock.t += 8_000
    dir.seen('b')
    clock.t += 8_000
    expect(dir.get('b')?.multiaddrs).toEqual(['/ip4/127.0.0.1/tcp/1/ws/p2p/R/p2p-circuit/webrtc/p2p/b'])
    // a discovered peer that never announced is known, but no contributor
    expect(ids(dir.contributors())).toEqual([])
  })

  it('drops a lapsed announcement even while an open connection keeps the entry', () => {
    const { dir, clock } = setup(15_000)
    dir.announced(announcement('a'))
    clock.t += 20_000
    const connected = (id: string): boolean => id === 'a'
    expect(dir.prune(connected)).toEqual({ removed: [], lapsed: ['a'] })
    expect(dir.get('a', connected)).toMatchObject({ peerId: 'a', announcement: undefined })
    expect(dir.contributors(connected, connected)).toEqual([])
    // once the connection is gone, so is the entry
    expect(dir.prune()).toEqual({ removed: ['a'], lapsed: [] })
  })

  it('never offers a paused announcer, and offers it again once it resumes', () => {
    const { dir, clock } = setup()
    dir.announced(announcement('a', { paused: true }))
    dir.announced(announcement('b'))
    expect(ids(dir.contributors())).toEqual(['b'])
    clock.t += 1_000
    dir.announced(announcement('a', { paused: false }))
    expect(ids(dir.contributors()).sort()).toEqual(['a', 'b'])
  })

  it('lists live peers first, then the freshest announcements', () => {
    const { dir, clock } = setup()
    for (const id of ['dead-old', 'live-old', 'dead-new', 'live-new']) {
      dir.announced(announcement(id))
      clock.t += 1_000
    }
    const live = (id: string): boolean => id.startsWith('live')
    expect(ids(dir.contributors(live))).toEqual(['live-new', 'live-old', 'dead-new', 'dead-old'])
    // whatever order announcements arrive in, no dead peer precedes a live one
    dir.announced(announcement('dead-old'))
    expect(ids(dir.contributors(live))).toEqual(['live-new', 'live-old', 'dead-old', 'dead-new'])
  })

  it('forgets removed peers', () => {
    const { dir } = setup()
    dir.announced(announcement('a'))
    expect(dir.remove('a')).toBe(true)
    expect(dir.get('a')).toBeUndefined()
    expect(dir.remove('a')).toBe(false)
  })
})
