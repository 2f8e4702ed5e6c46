import { describe, expect, it } from 'vitest'
import { checkIdentityPuzzle, identityPuzzleBits, solveIdentityPuzzle } from './identity-cost.js'

const PEER = '12D3KooWAbcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUV'
const OTHER = '12D3KooWZbcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUV'

describe('identity puzzle', () => {
  it('a solved nonce pays for its own peer id at that difficulty', () => {
    const nonce = solveIdentityPuzzle(PEER, 10)
    expect(nonce).toMatch(/^[0-9a-f]+$/)
    expect(identityPuzzleBits(PEER, nonce!)).toBeGreaterThanOrEqual(10)
    expect(checkIdentityPuzzle(PEER, nonce, 10)).toBeUndefined()
  })

  it('is bound to the peer id: the same nonce does not pay for another identity', () => {
    // find a nonce for PEER that is not (by chance) also one for OTHER
    let start = 0
    let nonce: string | undefined
    for (;;) {
      nonce = solveIdentityPuzzle(PEER, 12, { start })
      if (identityPuzzleBits(OTHER, nonce!) < 12) break
      start = parseInt(nonce!, 16) + 1
    }
    expect(checkIdentityPuzzle(PEER, nonce, 12)).toBeUndefined()
    expect(checkIdentityPuzzle(OTHER, nonce, 12)).toMatch(/zero bits, 12 needed/)
  })

  it('rejects a missing, malformed or too-easy nonce; difficulty 0 accepts anything', () => {
    expect(checkIdentityPuzzle(PEER, undefined, 8)).toBe('no identity puzzle')
    expect(checkIdentityPuzzle(PEER, 17, 8)).toBe('no identity puzzle')
    expect(checkIdentityPuzzle(PEER, 'XYZ', 8)).toMatch(/lowercase hex/)
    expect(checkIdentityPuzzle(PEER, '', 8)).toMatch(/lowercase hex/)
    expect(checkIdentityPuzzle(PEER, 'a'.repeat(33), 8)).toMatch(/lowercase hex/)
    const easy = solveIdentityPuzzle(PEER, 4)!
    const bits = identityPuzzleBits(PEER, easy)
    expect(checkIdentityPuzzle(PEER, easy, bits + 1)).toBe(`identity puzzle has ${bits} zero bits, ${bits + 1} needed`)
    expect(checkIdentityPuzzle(PEER, undefined, 0)).toBeUndefined()
  })

  it('solves in slices: maxTries gives up, start resumes where the last slice ended', () => {
    const whole = solveIdentityPuzzle(PEER, 12)!
    const at = parseInt(whole, 16)
    expect(solveIdentityPuzzle(PEER, 12, { maxTries: at })).toBeUndefined()
    expect(solveIdentityPuzzle(PEER, 12, { start: at, maxTries: 1 })).toBe(whole)
  })
})
