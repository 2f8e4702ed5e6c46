/**
 * Identity cost: a hashcash puzzle bound to a peer id, so that a fresh
 * identity is not free and a peer caught cheating cannot shed its record by
 * making a new key each minute (whitewashing).
 *
 * A solution is a nonce (lowercase hex) such that
 * `sha256("crosscheck/identity-cost/1\n" || peerId || "\n" || nonce)` starts
 * with at least `difficulty` zero bits. It is solved once per identity,
 * travels in the peer's announcement, and requesters check it before a peer's
 * first selection. Verification is one hash.
 *
 * @example
 * ```ts
 * const nonce = solveIdentityPuzzle(peerId, IDENTITY_COST_BITS)
 * checkIdentityPuzzle(peerId, nonce, IDENTITY_COST_BITS) // undefined: valid
 * ```
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { utf8 } from './util.js'

/**
 * Default difficulty: 2^16 expected hashes, about 0.15 s of one core here.
 * 2^20 (about 2.3 s under Node, ~450k tries/s measured; one identity in
 * twenty pays over three times that) bought little in the simulation next to
 * probation and rechecks, while every page visit would pay it before its first
 * job. Every extra bit doubles the cost.
 */
export const IDENTITY_COST_BITS = 16
/** Longest nonce accepted (hex characters). */
export const MAX_IDENTITY_NONCE_HEX = 32
const DOMAIN = 'crosscheck/identity-cost/1\n'
const NONCE = /^[0-9a-f]{1,32}$/

function leadingZeroBits (h: Uint8Array): number {
  let n = 0
  for (const byte of h) {
    if (byte === 0) { n += 8; continue }
    return n + Math.clz32(byte) - 24
  }
  return n
}

/** Leading zero bits of the puzzle hash for this peer and nonce. */
export function identityPuzzleBits (peerId: string, nonce: string): number {
  return leadingZeroBits(sha256(utf8(DOMAIN + peerId + '\n' + nonce)))
}

/** Why a nonce does not pay for `peerId` at `difficulty`, or undefined when it does. */
export function checkIdentityPuzzle (peerId: string, nonce: unknown, difficulty: number = IDENTITY_COST_BITS): string | undefined {
  if (difficulty <= 0) return undefined
  if (typeof nonce !== 'string') return 'no identity puzzle'
  if (!NONCE.test(nonce)) return 'identity puzzle nonce must be 1-32 lowercase hex characters'
  const bits = identityPuzzleBits(peerId, nonce)
  return bits >= difficulty ? undefined : `identity puzzle has ${bits} zero bits, ${difficulty} needed`
}

export interface SolveOptions {
  /** First counter value tried (resume a solve split into slices). @default 0 */
  start?: number
  /** Most counter values tried before giving up (returns undefined). @default unbounded */
  maxTries?: number
}

/**
 * Finds a nonce by counting up from `start`. Pure and synchronous: the
 * caller decides where it runs (a worker, or slices with `maxTries` between
 * which it yields). Expected work is 2^difficulty hashes.
 */
export function solveIdentityPuzzle (peerId: string, difficulty: number = IDENTITY_COST_BITS, options: SolveOptions = {}): string | undefined {
  const prefix = utf8(DOMAIN + peerId + '\n')
  const buf = new Uint8Array(prefix.length + 16)
  buf.set(prefix)
  const end = options.maxTries === undefined ? Number.MAX_SAFE_INTEGER : (options.start ?? 0) + options.maxTries
  for (let i = options.start ?? 0; i < end; i++) {
    const hex = i.toString(16)
    for (let j = 0; j < hex.length; j++) buf[prefix.length + j] = hex.charCodeAt(j)
    if (leadingZeroBits(sha256(buf.subarray(0, prefix.length + hex.length))) >= difficulty) return hex
  }
  return undefined
}
