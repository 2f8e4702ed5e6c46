/**
 * Deterministic tiny ONNX models with seeded weights, for demos, tests and
 * canaries. Pure TypeScript (onnx-proto), safe in Node and in browsers.
 *
 * The same seed always yields byte-identical files, so a model's sha256 is
 * a stable identity that every peer can recompute.
 *
 * @example
 * ```ts
 * const bytes = generateMlp()           // x f32[1,16] -> y f32[1,10]
 * const again = generateMlp({ seed: 1 }) // same bytes
 * ```
 */
import onnxProto from 'onnx-proto'
import type { onnx as OnnxNs } from 'onnx-proto'

// onnx-proto is CommonJS: its namespace lives on the default export.
const { onnx } = onnxProto as unknown as { onnx: typeof OnnxNs }

/** ONNX IR version 8 and default-domain opset 13: accepted by onnxruntime-web 1.30 and -node. */
export const IR_VERSION = 8
export const OPSET_VERSION = 13
export const PRODUCER_NAME = 'crosscheck'
export const PRODUCER_VERSION = '1'

/** Default seeds; changing them changes the pinned model hashes. */
export const DEFAULT_MLP_SEED = 1
export const DEFAULT_CNN_SEED = 2

export interface GenerateInit {
  /**
   * Seed of the weight PRNG.
   * @default 1 for the MLP, 2 for the CNN
   */
  seed?: number
}

/** mulberry32: tiny, fast, good enough for weight initialisation, identical on every JS engine. */
export function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Uniform in [-1/sqrt(fanIn), 1/sqrt(fanIn)], like PyTorch's default init; rounded to float32. */
function uniformWeights (rand: () => number, count: number, fanIn: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn)
  const out = new Float32Array(count)
  for (let i = 0; i < count; i++) out[i] = (rand() * 2 - 1) * bound
  return out
}

/** MLP weights: Gemm layers store B as [out, in] (transB = 1). */
export interface MlpWeights {
  w1: Float32Array /* [32,16] */
  b1: Float32Array /* [32] */
  w2: Float32Array /* [10,32] */
  b2: Float32Array /* [10] */
}

export interface CnnWeights {
  conv: Float32Array /* [4,1,3,3] */
  convBias: Float32Array /* [4] */
  fc: Float32Array /* [10,64] */
  fcBias: Float32Array /* [10] */
}

export const MLP_SHAPE = { input: [1, 16], hidden: 32, output: [1, 10] } as const
export const CNN_SHAPE = { input: [1, 1, 8, 8], channels: 4, output: [1, 10] } as const

export function mlpWeights (seed: number = DEFAULT_MLP_SEED): MlpWeights {
  const rand = mulberry32(seed)
  return {
    w1: uniformWeights(rand, 32 * 16, 16),
    b1: uniformWeights(rand, 32, 16),
    w2: uniformWeights(rand, 10 * 32, 32),
    b2: uniformWeights(rand, 10, 32)
  }
}

export function cnnWeights (seed: number = DEFAULT_CNN_SEED): CnnWeights {
  const rand = mulberry32(seed)
  return {
    conv: uniformWeights(rand, 4 * 9, 9),
    convBias: uniformWeights(rand, 4, 9),
    fc: uniformWeights(rand, 10 * 64, 64),
    fcBias: uniformWeights(rand, 10, 64)
  }
}

// --- protobuf helpers -------------------------------------------------------

function floatInitializer (name: string, dims: number[], data: Float32Array): OnnxNs.ITensorProto {
  // Raw little-endian bytes (src/tensor refuses big-endian hosts, so a view is exact).
  return {
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
  }
}

function floatValueInfo (name: string, dims: number[]): OnnxNs.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => ({ dimValue: d })) }
      }
    }
  }
}

function intAttr (name: string, i: number): OnnxNs.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i }
}

function intsAttr (name: string, ints: number[]): OnnxNs.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints }
}

function node (opType: string, input: string[], output: string[], attribute: OnnxNs.IAttributeProto[] = []): OnnxNs.INodeProto {
  return { opType, input, output, name: output[0], attribute }
}

function encodeModel (graph: OnnxNs.IGraphProto, docString: string): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET_VERSION }],
    producerName: PRODUCER_NAME,
    producerVersion: PRODUCER_VERSION,
    docString,
    graph
  })
  return onnx.ModelProto.encode(model).finish()
}

/** x f32[1,16] → Gemm(16→32) → Relu → Gemm(32→10) → y f32[1,10]. */
export function generateMlp (init: GenerateInit = {}): Uint8Array {
  const seed = init.seed ?? DEFAULT_MLP_SEED
  const w = mlpWeights(seed)
  return encodeModel({
    name: 'crosscheck-mlp',
    input: [floatValueInfo('x', [1, 16])],
    output: [floatValueInfo('y', [1, 10])],
    initializer: [
      floatInitializer('w1', [32, 16], w.w1),
      floatInitializer('b1', [32], w.b1),
      floatInitializer('w2', [10, 32], w.w2),
      floatInitializer('b2', [10], w.b2)
    ],
    node: [
      node('Gemm', ['x', 'w1', 'b1'], ['h1'], [intAttr('transB', 1)]),
      node('Relu', ['h1'], ['h1_relu']),
      node('Gemm', ['h1_relu', 'w2', 'b2'], ['y'], [intAttr('transB', 1)])
    ]
  }, `Crosscheck MLP 16-32-10, mulberry32 seed ${seed}`)
}

/** x f32[1,1,8,8] → Conv(1→4, 3x3, pad 1) → Relu → MaxPool 2x2 → Flatten → Gemm(64→10) → Softmax → y f32[1,10]. */
export function generateCnn (init: GenerateInit = {}): Uint8Array {
  const seed = init.seed ?? DEFAULT_CNN_SEED
  const w = cnnWeights(seed)
  return encodeModel({
    name: 'crosscheck-cnn',
    input: [floatValueInfo('x', [1, 1, 8, 8])],
    output: [floatValueInfo('y', [1, 10])],
    initializer: [
      floatInitializer('conv_w', [4, 1, 3, 3], w.conv),
      floatInitializer('conv_b', [4], w.convBias),
      floatInitializer('fc_w', [10, 64], w.fc),
      floatInitializer('fc_b', [10], w.fcBias)
    ],
    node: [
      node('Conv', ['x', 'conv_w', 'conv_b'], ['c1'], [intsAttr('kernel_shape', [3, 3]), intsAttr('pads', [1, 1, 1, 1])]),
      node('Relu', ['c1'], ['c1_relu']),
      node('MaxPool', ['c1_relu'], ['p1'], [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [2, 2])]),
      node('Flatten', ['p1'], ['f1'], [intAttr('axis', 1)]),
      node('Gemm', ['f1', 'fc_w', 'fc_b'], ['logits'], [intAttr('transB', 1)]),
      node('Softmax', ['logits'], ['y'], [intAttr('axis', -1)])
    ]
  }, `Crosscheck CNN conv3x3x4-maxpool-fc10-softmax, mulberry32 seed ${seed}`)
}

// --- float64 references (for tests and canaries) ----------------------------

/** The MLP computed in float64 from the same (float32-rounded) weights. */
export function mlpReference (x: ArrayLike<number>, seed: number = DEFAULT_MLP_SEED): Float64Array {
  const w = mlpWeights(seed)
  const h = new Float64Array(32)
  for (let o = 0; o < 32; o++) {
    let s = w.b1[o]
    for (let i = 0; i < 16; i++) s += x[i] * w.w1[o * 16 + i]
    h[o] = Math.max(0, s)
  }
  const y = new Float64Array(10)
  for (let o = 0; o < 10; o++) {
    let s = w.b2[o]
    for (let i = 0; i < 32; i++) s += h[i] * w.w2[o * 32 + i]
    y[o] = s
  }
  return y
}

/** The CNN computed in float64 from the same (float32-rounded) weights. x is [1,1,8,8] row-major. */
export function cnnReference (x: ArrayLike<number>, seed: number = DEFAULT_CNN_SEED): Float64Array {
  const w = cnnWeights(seed)
  const conv = new Float64Array(4 * 64)
  for (let c = 0; c < 4; c++) {
    for (let r = 0; r < 8; r++) {
      for (let col = 0; col < 8; col++) {
        let s = w.convBias[c]
        for (let kr = 0; kr < 3; kr++) {
          for (let kc = 0; kc < 3; kc++) {
            const rr = r + kr - 1
            const cc = col + kc - 1
            if (rr < 0 || rr >= 8 || cc < 0 || cc >= 8) continue
            s += x[rr * 8 + cc] * w.conv[c * 9 + kr * 3 + kc]
          }
        }
        conv[c * 64 + r * 8 + col] = Math.max(0, s)
      }
    }
  }
  const pooled = new Float64Array(64) // [4,4,4] flattened channel-major
  for (let c = 0; c < 4; c++) {
    for (let r = 0; r < 4; r++) {
      for (let col = 0; col < 4; col++) {
        const b = c * 64 + r * 2 * 8 + col * 2
        pooled[c * 16 + r * 4 + col] = Math.max(conv[b], conv[b + 1], conv[b + 8], conv[b + 9])
      }
    }
  }
  const logits = new Float64Array(10)
  for (let o = 0; o < 10; o++) {
    let s = w.fcBias[o]
    for (let i = 0; i < 64; i++) s += pooled[i] * w.fc[o * 64 + i]
    logits[o] = s
  }
  const max = Math.max(...logits)
  let sum = 0
  const y = new Float64Array(10)
  for (let o = 0; o < 10; o++) { y[o] = Math.exp(logits[o] - max); sum += y[o] }
  for (let o = 0; o < 10; o++) y[o] /= sum
  return y
}
