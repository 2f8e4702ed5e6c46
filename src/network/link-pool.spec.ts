/**
 * The link pool's rules, with an injected clock: the bound makes room by
 * closing the least recently used idle link (never a busy one), idle links
 * close after idleMs, every link opened counts against the lifetime budget,
 * and rotations slow down (doubling every eighth of the budget) as it is spent.
 */
import { describe, it, expect } from 'vitest'
import { LinkPool } from './link-pool.js'

const none = (): boolean => false
const all = (): boolean => true
const only = (...ids: string[]) => (id: string): boolean => ids.includes(id)

function pool (init: ConstructorParameters<typeof LinkPool>[1] = {}): { links: LinkPool, at: (ms: number) => void } {
  let t = 0
  return { links: new LinkPool({ now: () => t }, init), at: (ms) => { t = ms } }
}

describe('LinkPool makeRoom', () => {
  it('is undefined while there is room, or when the peer already has a link', () => {
    const { links } = pool({ maxLinks: 2 })
    expect(links.makeRoom('a', none)).toBeUndefined()
    links.opened('a')
    expect(links.makeRoom('b', none)).toBeUndefined()
    links.opened('b')
    expect(links.makeRoom('a', all)).toBeUndefined()
  })

  it('names the least recently used idle link when full', () => {
    const { links, at } = pool({ maxLinks: 2 })
    at(0); links.opened('a')
    at(10); links.opened('b')
    at(20)
    expect(links.makeRoom('c', none)).toBe('a')
    links.touch('a')
    expect(links.makeRoom('c', none)).toBe('b')
    expect(links.makeRoom('c', only('b'))).toBe('a')
  })

  it('is null when every link is busy', () => {
    const { links } = pool({ maxLinks: 2 })
    links.opened('a')
    links.opened('b')
    expect(links.makeRoom('c', all)).toBeNull()
  })

  it('refuses a bound below 1', () => {
    expect(() => new LinkPool({}, { maxLinks: 0 })).toThrow(RangeError)
  })
})

describe('LinkPool toClose', () => {
  it('closes links idle for idleMs or more, not before, and never a busy one', () => {
    const { links, at } = pool({ idleMs: 100, maxLinks: 16 })
    at(0); links.opened('a')
    at(50); links.opened('b')
    at(99)
    expect(links.toClose(none)).toEqual([])
    at(100)
    expect(links.toClose(none)).toEqual(['a'])
    expect(links.toClose(only('a'))).toEqual([])
    at(150)
    expect(links.toClose(none).sort()).toEqual(['a', 'b'])
  })

  it('touch keeps a link from idling out', () => {
    const { links, at } = pool({ idleMs: 100 })
    at(0); links.opened('a')
    at(90); links.touch('a')
    at(150)
    expect(links.toClose(none)).toEqual([])
    at(190)
    expect(links.toClose(none)).toEqual(['a'])
  })

  it('brings links others dialled back to the bound, least recently used first, skipping busy ones', () => {
    const { links, at } = pool({ idleMs: 60_000, maxLinks: 2 })
    for (const [i, id] of ['a', 'b', 'c', 'd'].entries()) { at(i); links.opened(id) }
    at(10)
    expect(links.toClose(none)).toEqual(['a', 'b'])
    expect(links.toClose(only('a'))).toEqual(['b', 'c'])
    // busy links may keep the pool over the bound: they are never closed
    expect(links.toClose(only('a', 'b', 'c'))).toEqual(['d'])
    expect(links.toClose(all)).toEqual([])
  })

  it('counts idle closes towards the bound', () => {
    const { links, at } = pool({ idleMs: 100, maxLinks: 2 })
    at(0); links.opened('a')
    at(200); links.opened('b'); links.opened('c')
    at(201)
    expect(links.toClose(none)).toEqual(['a'])
  })
})

describe('LinkPool budget', () => {
  it('counts each link opened once while it stays open, and again after it closed', () => {
    const { links } = pool({ budget: 3 })
    links.opened('a')
    links.opened('a')
    expect(links.created).toBe(1)
    expect(links.has('a')).toBe(true)
    links.closed('a')
    expect(links.has('a')).toBe(false)
    expect(links.size).toBe(0)
    links.opened('a')
    expect(links.created).toBe(2)
    expect(links.budgetLeft()).toBe(1)
    links.opened('b')
    links.opened('c')
    expect(links.budgetLeft()).toBe(0)
    expect(links.stats()).toEqual({ links: 3, created: 4, budgetLeft: 0, maxLinks: 16 })
  })

  it('counts a dial that gave no link against the budget (it still made an RTCPeerConnection)', () => {
    const { links } = pool({ budget: 2 })
    links.dialFailed()
    expect(links.created).toBe(1)
    expect(links.size).toBe(0)
    links.opened('a')
    expect(links.budgetLeft()).toBe(0)
  })

  it('has no budget by default', () => {
    const { links } = pool()
    for (let i = 0; i < 1000; i++) { links.opened(`p${i}`); links.closed(`p${i}`) }
    expect(links.budgetLeft()).toBe(Infinity)
  })

  it('touch and closed of an unknown peer change nothing', () => {
    const { links } = pool()
    links.touch('x')
    links.closed('x')
    expect(links.stats()).toMatchObject({ links: 0, created: 0 })
  })
})

describe('LinkPool rotationDelay', () => {
  it('doubles every eighth of the budget created', () => {
    const { links } = pool({ budget: 80 })
    const delayAfter = (created: number): number => {
      while (links.created < created) { const id = `p${links.created}`; links.opened(id); links.closed(id) }
      return links.rotationDelay(15_000)
    }
    expect(delayAfter(0)).toBe(15_000)
    expect(delayAfter(9)).toBe(15_000)
    expect(delayAfter(10)).toBe(30_000)
    expect(delayAfter(19)).toBe(30_000)
    expect(delayAfter(20)).toBe(60_000)
    expect(delayAfter(79)).toBe(15_000 * 2 ** 7)
  })

  it('with the browser budget of 450, the first doubling comes after 57 links', () => {
    const { links } = pool({ budget: 450 })
    for (let i = 0; i < 56; i++) links.opened(`p${i}`)
    expect(links.rotationDelay(15_000)).toBe(15_000)
    links.opened('p56')
    expect(links.rotationDelay(15_000)).toBe(30_000)
  })

  it('stays at base with no budget', () => {
    const { links } = pool()
    for (let i = 0; i < 1000; i++) { links.opened(`p${i}`); links.closed(`p${i}`) }
    expect(links.rotationDelay(15_000)).toBe(15_000)
  })
})
