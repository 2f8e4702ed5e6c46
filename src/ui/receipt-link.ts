/**
 * Links to the receipt page: `receipt.html#r=<base64url of the receipt text>`
 * and, for a v2 receipt whose check needs them, `&o=<base64url of its
 * outputs file>`. The fragment never reaches a server.
 */

function toBase64Url (text: string): string {
  const bytes = new TextEncoder().encode(text)
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Decodes one fragment value; throws (a plain Error naming the field) on anything that is not base64url UTF-8. */
function fromBase64Url (value: string, field: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(value)) throw new Error(`#${field}= is not base64url`)
  const b64 = value.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (value.length % 4)) % 4)
  let binary: string
  try {
    binary = atob(b64)
  } catch {
    throw new Error(`#${field}= is not base64url`)
  }
  const bytes = Uint8Array.from(binary, c => c.charCodeAt(0))
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new Error(`#${field}= is not UTF-8 text`)
  }
}

/** The receipt page's address for a receipt (and its outputs file), relative to the site's root. */
export function receiptLink (receiptText: string, outputsText?: string, base = 'receipt.html'): string {
  return `${base}#r=${toBase64Url(receiptText)}${outputsText !== undefined ? `&o=${toBase64Url(outputsText)}` : ''}`
}

/** Reads `#r=…&o=…`: the receipt text and outputs file text, when present. */
export function readReceiptFragment (hash: string): { receipt?: string, outputs?: string } {
  const params = new URLSearchParams(hash.replace(/^#/, ''))
  const r = params.get('r')
  const o = params.get('o')
  return {
    ...(r != null ? { receipt: fromBase64Url(r, 'r') } : {}),
    ...(o != null ? { outputs: fromBase64Url(o, 'o') } : {})
  }
}
