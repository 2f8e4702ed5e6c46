import { describe, expect, it } from 'vitest'
import { readReceiptFragment, receiptLink } from './receipt-link.js'

describe('receipt links', () => {
  it('round-trip a receipt and its outputs through the fragment, non-ASCII and large texts included', () => {
    const receipt = '{\n  "v": 2,\n  "note": "é ✓ \u{1F600}"\n}\n'
    const outputs = 'x'.repeat(200_000)
    const link = receiptLink(receipt, outputs)
    expect(link.startsWith('receipt.html#r=')).toBe(true)
    for (const part of link.split('#')[1].split('&')) expect(part.slice(2)).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(readReceiptFragment(link.slice(link.indexOf('#')))).toEqual({ receipt, outputs })
    expect(readReceiptFragment(receiptLink(receipt).split('#')[1])).toEqual({ receipt })
    expect(readReceiptFragment('')).toEqual({})
  })

  it('names the field that does not decode', () => {
    expect(() => readReceiptFragment('#r=abc$')).toThrow(/#r= is not base64url/)
    expect(() => readReceiptFragment('#r=' + btoa('\xff\xfe').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''))).toThrow(/#r= is not UTF-8/)
    expect(() => readReceiptFragment('#o=a')).toThrow(/#o= is not base64url/)
  })
})
