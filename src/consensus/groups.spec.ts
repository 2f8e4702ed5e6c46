import { describe, expect, it } from 'vitest'
import { groupFromLink, onePerGroup } from './groups.js'
import { f32, fakeBallot, fakePeer, out } from './test-fixtures.js'

describe('groups', () => {
  it('groups IPv4 by /24, IPv6 by /48, mapped IPv4 as IPv4, relayed peers by relay', () => {
    expect(groupFromLink({ remoteAddress: '203.0.113.7' })).toBe('ip4:203.0.113')
    expect(groupFromLink({ remoteAddress: '203.0.113.200' })).toBe(groupFromLink({ remoteAddress: '203.0.113.7' }))
    expect(groupFromLink({ remoteAddress: '203.0.114.7' })).not.toBe('ip4:203.0.113')
    expect(groupFromLink({ remoteAddress: '2001:db8:1:2::1' })).toBe('ip6:2001:db8:1')
    expect(groupFromLink({ remoteAddress: '2001:0db8:0001:ffff::9' })).toBe('ip6:2001:db8:1')
    expect(groupFromLink({ remoteAddress: '::ffff:203.0.113.9' })).toBe('ip4:203.0.113')
    expect(groupFromLink({ relay: 'QmRelay' })).toBe('relay:QmRelay')
    expect(groupFromLink({})).toBeUndefined()
  })

  it('keeps the first vote per group, in arrival order', () => {
    const a = fakeBallot('a', out(f32([1])))
    const b = fakeBallot('b', out(f32([2])))
    const c = fakeBallot('c', out(f32([1])))
    const groups: Record<string, string> = { [fakePeer('a')]: 'net1', [fakePeer('b')]: 'net1' }
    const { kept, dropped } = onePerGroup([a, b, c], (p) => groups[p])
    expect(kept).toEqual([a, c])
    expect(dropped).toEqual([b])
    expect(onePerGroup([a, b, c]).kept).toHaveLength(3)
  })
})
