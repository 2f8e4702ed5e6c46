import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { buildMlp, selfTestCase } from './tiny-model.js'

describe('hand-encoded self-test model', () => {
  it('is byte-stable', () => {
    expect(buildMlp({ sizes: [4, 8, 3], seed: 3 }).bytes).toEqual(buildMlp({ sizes: [4, 8, 3], seed: 3 }).bytes)
  })

  it('runs in onnxruntime and matches the float64 reference', async () => {
    const c = selfTestCase()
    const session = await ort.InferenceSession.create(c.model.bytes)
    try {
      expect(session.inputNames).toEqual(['x'])
      expect(session.outputNames).toEqual(['y'])
      const out = await session.run({ x: new ort.Tensor('float32', c.x, [c.batch, c.model.sizes[0]]) })
      const y = out.y.data as Float32Array
      expect(out.y.dims).toEqual([c.batch, 4])
      let max = 0
      for (let i = 0; i < y.length; i++) max = Math.max(max, Math.abs(y[i] - c.expected[i]))
      expect(max).toBeLessThan(c.tolerance)
    } finally {
      await session.release()
    }
  })
})
