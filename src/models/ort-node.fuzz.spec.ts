/**
 * Hostile model bytes into onnxruntime-node (what a peer could send us as a
 * "model"): random bytes, truncated and bit-mutated valid models, valid
 * models with absurd dims, and odd tensors into a good model. Loading and
 * running must end in a result or InferenceError: no crash, no hang.
 */
import fc from 'fast-check'
import onnxProto from 'onnx-proto'
import type { onnx as OnnxNs } from 'onnx-proto'
import * as ort from 'onnxruntime-node'
import { beforeAll, describe, expect, it } from 'vitest'
import { DTYPES, createTensor, elementCount } from '../tensor/index.js'
import type { DType, NamedTensors, TypedArray } from '../tensor/index.js'
import { expectNamedAsync, mutatedBytes } from '../testing/fuzz.js'
import { generateCnn, generateMlp } from './generate.js'
import { createNodeRunner } from './ort-node.js'

const { onnx } = onnxProto as unknown as { onnx: typeof OnnxNs }
const NAMES = ['InferenceError']
/** Per load or run: far above the few ms a tiny model takes, far below the test timeout. */
const HANG_MS = 5000

beforeAll(() => {
  // the point is to feed it garbage: keep its complaints out of the test output
  ort.env.logLevel = 'fatal'
})

// plain copies: generate() returns Buffers from Node's shared pool, whose slice() is a view
const mlp = Uint8Array.from(generateMlp())
const cnn = Uint8Array.from(generateCnn())
const INPUTS: Record<string, NamedTensors> = {
  mlp: { x: createTensor('float32', [1, 16], new Float32Array(16).fill(0.5)) },
  cnn: { x: createTensor('float32', [1, 1, 8, 8], new Float32Array(64).fill(0.25)) }
}

/** Loads the bytes and, when they load, runs them once and releases them. */
async function loadAndRun (bytes: Uint8Array, inputs: NamedTensors): Promise<void> {
  const loaded = await expectNamedAsync(async () => await createNodeRunner(bytes), NAMES, HANG_MS)
  if (!loaded.ok) return
  try {
    await expectNamedAsync(async () => await loaded.value.run(inputs), NAMES, HANG_MS)
  } finally {
    await loaded.value.release()
  }
}

// ---------------------------------------------------------------- hand-made absurd models

const F = onnx.TensorProto.DataType.FLOAT
const I64 = onnx.TensorProto.DataType.INT64
function valueInfo (name: string, dims: number[]): OnnxNs.IValueInfoProto {
  return { name, type: { tensorType: { elemType: F, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } }
}
function model (graph: OnnxNs.IGraphProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph: { name: 'g', ...graph } })).finish()
}
const addW = (w: OnnxNs.ITensorProto): Uint8Array => model({
  input: [valueInfo('x', [1, 16])], output: [valueInfo('y', [1, 16])], initializer: [w], node: [{ opType: 'Add', input: ['x', 'w'], output: ['y'] }]
})
const constantOfShape = (shape: number[]): Uint8Array => model({
  input: [valueInfo('x', [1, 16])], output: [valueInfo('y', [])],
  initializer: [{ name: 's', dims: [shape.length], dataType: I64, int64Data: shape }],
  node: [{ opType: 'ConstantOfShape', input: ['s'], output: ['y'] }]
})

const ABSURD: Record<string, Uint8Array> = {
  'an initializer of 2^40 floats with no data': addW({ name: 'w', dims: [2 ** 40], dataType: F, rawData: new Uint8Array(0) }),
  'an initializer with a negative dim': addW({ name: 'w', dims: [-1, 16], dataType: F, rawData: new Uint8Array(64) }),
  'an initializer whose dims overflow int64 products': addW({ name: 'w', dims: [2 ** 31, 2 ** 31, 2 ** 31], dataType: F, rawData: new Uint8Array(64) }),
  'an initializer shorter than its dims': addW({ name: 'w', dims: [1, 16], dataType: F, rawData: new Uint8Array(63) }),
  'an input declared [2^62, 2^62]': model({ input: [valueInfo('x', [2 ** 62, 2 ** 62])], output: [valueInfo('y', [2 ** 62, 2 ** 62])], node: [{ opType: 'Relu', input: ['x'], output: ['y'] }] }),
  'ConstantOfShape [2^31, 2^31, 2^31] (size overflow)': constantOfShape([2 ** 31, 2 ** 31, 2 ** 31]),
  'ConstantOfShape [2^20, 2^20] (4 TB)': constantOfShape([2 ** 20, 2 ** 20]),
  'ConstantOfShape with a negative dim': constantOfShape([-5, 3]),
  'a node naming an unknown operator': model({ input: [valueInfo('x', [1, 16])], output: [valueInfo('y', [1, 16])], node: [{ opType: 'NoSuchOp', input: ['x'], output: ['y'] }] }),
  'a graph whose output nothing produces': model({ input: [valueInfo('x', [1, 16])], output: [valueInfo('y', [1, 16])], node: [] }),
  'a cyclic graph': model({ input: [valueInfo('x', [1, 16])], output: [valueInfo('y', [1, 16])], node: [{ opType: 'Add', input: ['x', 'y'], output: ['z'] }, { opType: 'Relu', input: ['z'], output: ['y'] }] }),
  'an opset from the future': onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 99, opsetImport: [{ domain: '', version: 9999 }], graph: { name: 'g', input: [valueInfo('x', [1, 16])], output: [valueInfo('y', [1, 16])], node: [{ opType: 'Relu', input: ['x'], output: ['y'] }] } })).finish()
}

const arrays: Record<DType, (n: number) => TypedArray> = {
  float32: (n) => new Float32Array(n), float64: (n) => new Float64Array(n), int32: (n) => new Int32Array(n), int64: (n) => new BigInt64Array(n),
  uint8: (n) => new Uint8Array(n), int8: (n) => new Int8Array(n), bool: (n) => new Uint8Array(n)
}

describe('onnxruntime-node under hostile model bytes', () => {
  it('random bytes and non-ONNX files are refused with InferenceError', async () => {
    const notOnnx = fc.oneof(
      fc.uint8Array({ maxLength: 4096 }),
      fc.constantFrom(new TextEncoder().encode('{"v":1,"models":[]}'), new TextEncoder().encode('<!doctype html><title>404</title>'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), new Uint8Array(0))
    )
    await fc.assert(fc.asyncProperty(notOnnx, async (bytes) => {
      const r = await expectNamedAsync(async () => await createNodeRunner(bytes), NAMES, HANG_MS)
      if (r.ok) {
        // protobuf is permissive: a few random bytes can be an empty-but-parseable model; it must still not run
        await expectNamedAsync(async () => await r.value.run(INPUTS.mlp), NAMES, HANG_MS)
        await r.value.release()
      }
    }), { numRuns: 150 })
  })

  it('a valid model truncated anywhere loads and runs, or fails with InferenceError', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom('mlp', 'cnn'), fc.nat(), async (which, cut) => {
      const bytes = which === 'mlp' ? mlp : cnn
      await loadAndRun(bytes.slice(0, cut % bytes.length), INPUTS[which])
    }), { numRuns: 100 })
  })

  it('bit-flipped, spliced and extended models load and run, or fail with InferenceError', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom('mlp', 'cnn').chain((w) => fc.tuple(fc.constant(w), mutatedBytes([w === 'mlp' ? mlp : cnn]))), async ([which, bytes]) => {
      await loadAndRun(bytes, INPUTS[which])
    }), { numRuns: 300 })
  })

  it.each(Object.entries(ABSURD))('%s: InferenceError on load or run, no crash', async (_name, bytes) => {
    const loaded = await expectNamedAsync(async () => await createNodeRunner(bytes), NAMES, HANG_MS)
    if (!loaded.ok) return
    const ran = await expectNamedAsync(async () => await loaded.value.run(INPUTS.mlp), NAMES, HANG_MS)
    await loaded.value.release()
    expect(ran.ok).toBe(false)
  })

  it('odd (but self-consistent) input tensors into a good model run or fail with InferenceError', async () => {
    const runner = await createNodeRunner(mlp)
    try {
      const tensor = fc.record({ dtype: fc.constantFrom(...DTYPES), dims: fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 4 }) })
        .map(({ dtype, dims }) => createTensor(dtype, dims, arrays[dtype](elementCount(dims))))
      const inputs = fc.dictionary(fc.constantFrom('x', 'y', 'w1', ''), tensor, { maxKeys: 2 })
      await fc.assert(fc.asyncProperty(inputs, async (feeds) => {
        await expectNamedAsync(async () => await runner.run(feeds), NAMES, HANG_MS)
      }), { numRuns: 200 })
    } finally {
      await runner.release()
    }
  })
})
