import { describe, expect, it } from 'vitest'
import { PreparedReplicas } from './prepared.js'

describe('PreparedReplicas', () => {
  it('remembers peer × model pairs, forgets on delete, and drops the least recently used beyond its limit', () => {
    const p = new PreparedReplicas(2)
    expect(p.has('a', 'm')).toBe(false)
    p.add('a', 'm')
    p.add('b', 'm')
    expect(p.has('a', 'm')).toBe(true) // a is now the most recently used
    expect(p.has('a', 'n')).toBe(false)
    p.add('c', 'm')
    expect(p.size).toBe(2)
    expect(p.has('b', 'm')).toBe(false)
    expect(p.has('a', 'm')).toBe(true)
    expect(p.has('c', 'm')).toBe(true)
    p.delete('a', 'm')
    expect(p.has('a', 'm')).toBe(false)
  })
})
