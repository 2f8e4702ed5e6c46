import { describe, expect, it } from 'vitest'
import { createRng } from './select.js'
import { base64Js, fromBase64, isPeerIdString, toBase64 } from './util.js'

describe('base64', () => {
  it('matches the standard encoding and round-trips every length 0..64', () => {
    const rng = createRng(5)
    for (let n = 0; n <= 64; n++) {
      const bytes = Uint8Array.from({ length: n }, () => Math.floor(rng() * 256))
      const text = toBase64(bytes)
      expect(text).toBe(Buffer.from(bytes).toString('base64'))
      // the JS fallback writes what the native encoder (where there is one) writes
      expect(base64Js(bytes)).toBe(text)
      expect(fromBase64(text, 'x')).toEqual(bytes)
    }
  })

  it('encodes a view at its own offset, not its buffer', () => {
    const buffer = Uint8Array.from([9, 9, 1, 2, 3, 9])
    expect(toBase64(buffer.subarray(2, 5))).toBe('AQID')
    expect(base64Js(buffer.subarray(2, 5))).toBe('AQID')
  })

  it.each([
    ['missing padding', 'AQ'],
    ['non-zero discarded bits', 'AR=='],
    ['non-zero discarded bits (one pad)', 'AAB='],
    ['url-safe alphabet', '-_8='],
    ['whitespace', 'AQ== '],
    ['inner padding', 'AQ==AQ=='],
    ['too much padding', 'A==='],
    ['non-ASCII', 'AQé=']
  ])('rejects %s with InvalidMessageError', (_why, text) => {
    expect(() => fromBase64(text, 'x')).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
  })
})

describe('isPeerIdString', () => {
  it('accepts base58btc and rejects 0, O, I, l, empty and overlong strings', () => {
    expect(isPeerIdString('12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf')).toBe(true)
    for (const bad of ['', '12D3Koo0', 'O', 'I', 'l', 'a'.repeat(129), 'abc def']) expect(isPeerIdString(bad)).toBe(false)
  })
})
