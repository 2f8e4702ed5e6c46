import { describe, expect, it } from 'vitest'
import { createTensor } from '../tensor/index.js'
import { HeldOutputs } from './held-outputs.js'

const out = (n: number): { y: ReturnType<typeof createTensor> } => ({ y: createTensor('uint8', [n], new Uint8Array(n)) })

describe('HeldOutputs', () => {
  it('gives held outputs to their requester only, and forgets them after the ttl', () => {
    let t = 0
    const h = new HeldOutputs({ ttlMs: 100, now: () => t })
    const o = out(4)
    h.hold('j1', 'alice', o)
    expect(h.get('j1', 'alice')).toBe(o)
    expect(() => h.get('j1', 'mallory')).toThrow(expect.objectContaining({ name: 'OutputNotHeldError' }))
    expect(() => h.get('j2', 'alice')).toThrow(expect.objectContaining({ name: 'OutputNotHeldError' }))
    t = 100
    expect(() => h.get('j1', 'alice')).toThrow(expect.objectContaining({ name: 'OutputNotHeldError' }))
    expect(h.heldBytes).toBe(0)
  })

  it('keeps within its byte budget, dropping the oldest; an output above the budget is not held', () => {
    const h = new HeldOutputs({ maxBytes: 10 })
    h.hold('a', 'r', out(4))
    h.hold('b', 'r', out(4))
    h.hold('c', 'r', out(4))
    expect(h.size).toBe(2)
    expect(h.heldBytes).toBe(8)
    expect(() => h.get('a', 'r')).toThrow(expect.objectContaining({ name: 'OutputNotHeldError' }))
    h.hold('b', 'r', out(2)) // held again: replaced, not counted twice
    expect(h.heldBytes).toBe(6)
    h.hold('big', 'r', out(11))
    expect(() => h.get('big', 'r')).toThrow(expect.objectContaining({ name: 'OutputNotHeldError' }))
    expect(h.size).toBe(2)
  })
})
