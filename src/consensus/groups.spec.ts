import { describe, expect, it } from 'vitest'
import { onePerGroup } from './groups.js'
import { f32, fakeBallot, fakePeer, out } from './test-fixtures.js'

describe('groups', () => {
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
