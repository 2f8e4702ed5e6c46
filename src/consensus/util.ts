/** Small pure helpers shared inside src/consensus (not re-exported). */
import { InvalidMessageError } from '../errors.js'
import { MAX_PEER_ID_LENGTH } from './constants.js'

export function isPlainObject (v: unknown): v is Record<string, unknown> {
  if (v == null || typeof v !== 'object' || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/** Rejects fields outside `allowed` and requires every name in `required`. */
export function checkKeys (o: Record<string, unknown>, allowed: readonly string[], where: string, required: readonly string[] = []): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) throw new InvalidMessageError(`${where}: unknown field ${JSON.stringify(key)}`)
  }
  for (const key of required) {
    if (!Object.hasOwn(o, key)) throw new InvalidMessageError(`${where}: missing field ${JSON.stringify(key)}`)
  }
}

/**
 * The common start of a strict JSON document parse (receipts, settlement
 * records): text of at most `maxChars`, valid JSON, a plain object with only
 * `allowed` fields and every `required` one. Throws InvalidMessageError
 * naming `what`.
 */
export function parseJsonObject (text: unknown, what: string, maxChars: number, allowed: readonly string[], required: readonly string[]): Record<string, unknown> {
  if (typeof text !== 'string') throw new InvalidMessageError(`${what} must be text`)
  if (text.length > maxChars) throw new InvalidMessageError(`${what} is larger than ${maxChars} characters`)
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new InvalidMessageError(`${what} is not JSON`, { cause: err })
  }
  if (!isPlainObject(raw)) throw new InvalidMessageError(`${what} must be a JSON object`)
  checkKeys(raw, allowed, what, required)
  return raw
}

const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]+$/

/** Shape check only (base58btc); binding to a key is the SignatureVerifier's job. */
export function isPeerIdString (v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_PEER_ID_LENGTH && PEER_ID.test(v)
}

export function isTimestamp (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

export function utf8 (s: string): Uint8Array {
  return new TextEncoder().encode(s)
}

export function concatBytes (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const B64_INDEX = new Int16Array(128).fill(-1)
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i

/**
 * `Uint8Array.prototype.toBase64` where the platform has it (Chromium 140+,
 * Firefox 133+, Safari 18.2; not Node 20): the same RFC 4648 §4 alphabet
 * with padding by default, so it writes exactly what `base64Js` writes.
 */
const nativeToBase64 = (Uint8Array.prototype as { toBase64?: (this: Uint8Array) => string }).toBase64

/** Standard base64 with padding (RFC 4648 §4): native where the platform has it. */
export function toBase64 (bytes: Uint8Array): string {
  return nativeToBase64 !== undefined ? nativeToBase64.call(bytes) : base64Js(bytes)
}

/** Standard base64 with padding, in JavaScript (the fallback, and the reference the native encoder is tested against). */
export function base64Js (bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2]
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63]
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = bytes[i] << 16
    out += B64[n >> 18] + B64[(n >> 12) & 63] + '=='
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8)
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + '='
  }
  return out
}

/**
 * Strict base64: standard alphabet, padding required, no whitespace, and the
 * unused trailing bits must be zero, so every byte string has exactly one
 * accepted encoding. Throws InvalidMessageError.
 */
export function fromBase64 (s: string, where: string): Uint8Array {
  if (typeof s !== 'string' || s.length % 4 !== 0) throw new InvalidMessageError(`${where}: not canonical base64`)
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0
  const out = new Uint8Array((s.length / 4) * 3 - pad)
  let o = 0
  for (let i = 0; i < s.length; i += 4) {
    let n = 0
    for (let j = 0; j < 4; j++) {
      const code = s.charCodeAt(i + j)
      const isPad = i + 4 === s.length && j >= 4 - pad
      const v = isPad ? (code === 61 ? 0 : -1) : (code < 128 ? B64_INDEX[code] : -1)
      if (v < 0) throw new InvalidMessageError(`${where}: not canonical base64`)
      n = (n << 6) | v
    }
    out[o++] = (n >> 16) & 255
    if (o < out.length) out[o++] = (n >> 8) & 255
    if (o < out.length) out[o++] = n & 255
  }
  // Non-zero bits under the padding would give a second encoding of the same bytes.
  if (toBase64(out) !== s) throw new InvalidMessageError(`${where}: not canonical base64`)
  return out
}
