import { describe, expect, it } from 'vitest'
import { createTensor, sha256Hex } from '../tensor/index.js'
import { cnnReference, generateCnn, generateMlp, mlpReference, mulberry32 } from './generate.js'
import { createNodeRunner } from './ort-node.js'

// Pinned: a change here changes every peer's model identity. Update only on purpose.
const MLP_SHA256 = '05d8912948df5c19df3e70a0655bed095245e4b41e80c7ba7e9b2170536c624a'
const CNN_SHA256 = '0b19f2a5728f35199c2780d79b2da69aa28cfb04a052297f22d81a26554e8d95'

function maxAbsDiff (a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

describe('mulberry32', () => {
  it('is deterministic and in [0, 1)', () => {
    const a = mulberry32(42)
    const b = mulberry32(42)
    for (let i = 0; i < 1000; i++) {
      const v = a()
      expect(v).toBe(b())
      expect(v).toBeGreaterThanOrEqual(0)
      expect(v).toBeLessThan(1)
    }
  })
})

describe('generators', () => {
  it('produce byte-identical files for the same seed, with pinned hashes', () => {
    expect(generateMlp()).toEqual(generateMlp())
    expect(generateCnn()).toEqual(generateCnn())
    expect(sha256Hex(generateMlp())).toBe(MLP_SHA256)
    expect(sha256Hex(generateCnn())).toBe(CNN_SHA256)
    expect(sha256Hex(generateMlp({ seed: 1 }))).toBe(MLP_SHA256)
  })

  it('produce different weights for a different seed', () => {
    expect(sha256Hex(generateMlp({ seed: 7 }))).not.toBe(MLP_SHA256)
    expect(sha256Hex(generateCnn({ seed: 7 }))).not.toBe(CNN_SHA256)
  })

  it('MLP runs in onnxruntime-node and matches the float64 reference', async () => {
    const runner = await createNodeRunner(generateMlp())
    try {
      expect(runner.inputNames).toEqual(['x'])
      expect(runner.outputNames).toEqual(['y'])
      for (const seed of [1, 2, 3]) {
        const rand = mulberry32(100 + seed)
        const x = Float32Array.from({ length: 16 }, () => rand() * 4 - 2)
        const { y } = await runner.run({ x: createTensor('float32', [1, 16], x) })
        expect(y.dtype).toBe('float32')
        expect(y.dims).toEqual([1, 10])
        expect(maxAbsDiff(y.data as Float32Array, mlpReference(x))).toBeLessThan(1e-5)
      }
    } finally {
      await runner.release()
    }
  })

  it('CNN runs in onnxruntime-node and matches the float64 reference', async () => {
    const runner = await createNodeRunner(generateCnn())
    try {
      for (const seed of [1, 2, 3]) {
        const rand = mulberry32(200 + seed)
        const x = Float32Array.from({ length: 64 }, () => rand())
        const { y } = await runner.run({ x: createTensor('float32', [1, 1, 8, 8], x) })
        expect(y.dims).toEqual([1, 10])
        const ref = cnnReference(x)
        expect(maxAbsDiff(y.data as Float32Array, ref)).toBeLessThan(1e-5)
        expect(ref.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12)
      }
    } finally {
      await runner.release()
    }
  })
})
