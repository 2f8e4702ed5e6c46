import { describe, it, expect } from 'vitest'
import type { NamedTensors } from './index.js'
import { canonicalBytes, createTensor, hashTensors, hashTensorsAsync, sha256Hex, sha256HexAsync, SUBTLE_HASH_MIN_BYTES, tensorsFromJSON, tensorsToJSON, tensorsFromWire, tensorsToWire } from './index.js'

describe('tensor codec', () => {
  it('hashes canonical bytes independent of key order', () => {
    const a = { x: createTensor('float32', [2], new Float32Array([1, 2])), y: createTensor('int32', [1], new Int32Array([3])) }
    const b = { y: a.y, x: a.x }
    expect(hashTensors(a)).toBe(hashTensors(b))
    expect(hashTensors(a)).toMatch(/^[0-9a-f]{64}$/)
  })

  it('streams the same hash as sha256 of the canonical bytes, and WebCrypto gives it too', async () => {
    const big = new Float32Array(SUBTLE_HASH_MIN_BYTES) // 4× the threshold in bytes: WebCrypto path
    for (let i = 0; i < big.length; i++) big[i] = Math.sin(i)
    for (const t of [
      { b: createTensor('float32', [big.length], big), a: createTensor('int8', [3], new Int8Array([-1, 0, 1])) },
      { x: createTensor('float32', [2], new Float32Array([1, 2])) } // below the threshold: JavaScript
    ] as NamedTensors[]) {
      const reference = sha256Hex(canonicalBytes(t))
      expect(await hashTensorsAsync({ ...t })).toBe(reference)
      expect(hashTensors({ ...t })).toBe(reference)
    }
    const bytes = canonicalBytes({ b: createTensor('float32', [big.length], big) })
    expect(await sha256HexAsync(bytes)).toBe(sha256Hex(bytes))
  })

  it('remembers the hash of a tensor set: the async hash primes the sync one', async () => {
    const t = { x: createTensor('float32', [SUBTLE_HASH_MIN_BYTES], new Float32Array(SUBTLE_HASH_MIN_BYTES)) }
    const h = await hashTensorsAsync(t)
    // changed in place after hashing (never done in the code base): the remembered hash shows it was not recomputed
    ;(t.x.data as Float32Array)[0] = 1
    expect(hashTensors(t)).toBe(h)
    expect(hashTensors({ x: t.x })).not.toBe(h)
  })

  it('distinguishes dtype and dims with the same data bytes', () => {
    const f = { x: createTensor('float32', [2], new Float32Array([1, 2])) }
    const r = { x: createTensor('float32', [1, 2], new Float32Array([1, 2])) }
    const i = { x: { dtype: 'int32' as const, dims: [2], data: new Int32Array(new Float32Array([1, 2]).buffer) } }
    expect(new Set([hashTensors(f), hashTensors(r), hashTensors(i)]).size).toBe(3)
  })

  it('writes little-endian data after a fixed header', () => {
    const bytes = canonicalBytes({ a: createTensor('int32', [1], new Int32Array([0x01020304])) })
    // u32 len, 'a', code, rank, dim u64, len u64, data
    expect(bytes.length).toBe(4 + 1 + 2 + 8 + 8 + 4)
    expect(Array.from(bytes.slice(-4))).toEqual([4, 3, 2, 1])
  })

  it('round-trips JSON, including nested data and int64', () => {
    const t = tensorsFromJSON({ x: { dtype: 'float32', dims: [2, 2], data: [[1, 2], [3, 4]] }, n: { dtype: 'int64', dims: [1], data: ['9007199254740993'] } })
    expect(Array.from(t.x.data as Float32Array)).toEqual([1, 2, 3, 4])
    expect((t.n.data as BigInt64Array)[0]).toBe(9007199254740993n)
    expect(tensorsToJSON(t).n.data).toEqual(['9007199254740993'])
    expect(hashTensors(tensorsFromJSON(tensorsToJSON(t)))).toBe(hashTensors(t))
  })

  it.each([
    [null, 'object'],
    [{}, '1 to'],
    [{ x: { dtype: 'float16', dims: [1], data: [1] } }, 'unknown dtype'],
    [{ x: { dtype: 'float32', dims: [2], data: [1] } }, 'need 2 values'],
    [{ x: { dtype: 'float32', dims: [-1], data: [] } }, 'non-negative'],
    [{ x: { dtype: 'int32', dims: [1], data: [1.5] } }, 'integers'],
    [{ x: { dtype: 'float32', dims: [1], data: ['a'] } }, 'number'],
    [{ x: { dtype: 'float32', dims: [1, 1, 1, 1, 1, 1, 1, 1, 1], data: [1] } }, 'at most']
  ])('rejects bad JSON %# with InvalidTensorError', (doc, msg) => {
    try {
      tensorsFromJSON(doc)
      expect.unreachable()
    } catch (err: any) {
      expect(err.name).toBe('InvalidTensorError')
      expect(err.message).toContain(msg)
    }
  })

  it('round-trips the wire form and rejects bad wire input', () => {
    const t = { x: createTensor('float32', [3], new Float32Array([1.5, -2, 3])) }
    expect(hashTensors(tensorsFromWire(tensorsToWire(t)))).toBe(hashTensors(t))
    expect(() => tensorsFromWire({ x: { dtype: 'float32', dims: [3], data: new Uint8Array(11) } })).toThrow(expect.objectContaining({ name: 'InvalidTensorError' }))
    expect(() => tensorsFromWire({ x: { dtype: 'float32', dims: [3], data: [1, 2, 3] } })).toThrow(expect.objectContaining({ name: 'InvalidTensorError' }))
    expect(() => tensorsFromWire('nope')).toThrow(expect.objectContaining({ name: 'InvalidTensorError' }))
  })
})
