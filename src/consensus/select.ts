/**
 * Random peer selection with injected randomness, and a small seeded PRNG for
 * tests and simulations (never for keys or nonces: use crypto.getRandomValues).
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { NotEnoughPeersError } from '../errors.js'

/** Uniform in [0, 1), like Math.random. */
export type Rng = () => number

/**
 * Picks `k` distinct peers uniformly at random (partial Fisher-Yates).
 * Candidates are de-duplicated and sorted first, so the choice depends only on
 * the candidate set and the rng, not on the order peers were discovered in.
 * Throws NotEnoughPeersError when fewer than `k` remain after `exclude`.
 */
export function selectPeers (candidates: readonly string[], k: number, rng: Rng, exclude?: ReadonlySet<string>): string[] {
  if (!Number.isSafeInteger(k) || k < 0) throw new RangeError(`k must be an integer >= 0, got ${k}`)
  const pool = [...new Set(candidates)].filter((p) => exclude?.has(p) !== true).sort()
  if (pool.length < k) throw new NotEnoughPeersError(`need ${k} peers, only ${pool.length} available`)
  for (let i = 0; i < k; i++) {
    const r = rng()
    if (!(r >= 0 && r < 1)) throw new RangeError(`rng must return a number in [0, 1), got ${r}`)
    const j = i + Math.floor(r * (pool.length - i))
    const tmp = pool[i]; pool[i] = pool[j]; pool[j] = tmp
  }
  return pool.slice(0, k)
}

/**
 * Deterministic PRNG (xoshiro128**) seeded with sha256("crosscheck/rng/1" || seed).
 * A number seed is hashed as its float64 little-endian bytes. Each call
 * returns a double in [0, 1) with 53 random bits.
 */
export function createRng (seed: Uint8Array | number): Rng {
  let seedBytes: Uint8Array
  if (typeof seed === 'number') {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be finite, got ${seed}`)
    seedBytes = new Uint8Array(8)
    new DataView(seedBytes.buffer).setFloat64(0, seed === 0 ? 0 : seed, true)
  } else {
    seedBytes = seed
  }
  const prefix = new TextEncoder().encode('crosscheck/rng/1')
  const input = new Uint8Array(prefix.length + seedBytes.length)
  input.set(prefix)
  input.set(seedBytes, prefix.length)
  const digest = sha256(input)
  const view = new DataView(digest.buffer, digest.byteOffset, digest.byteLength)
  const s = new Uint32Array([view.getUint32(0, true), view.getUint32(4, true), view.getUint32(8, true), view.getUint32(12, true)])
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1 // the all-zero state is a fixed point

  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0
    const t = s[1] << 9
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = rotl(s[3], 11)
    return result
  }
  return () => {
    const hi = next() >>> 5 // 27 bits
    const lo = next() >>> 6 // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992
  }
}

function rotl (x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
