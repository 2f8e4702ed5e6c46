/**
 * A hand-encoded tiny ONNX model (dense layers) plus a float64 reference
 * implementation, for the worker's known-answer self-test and for harnesses.
 *
 * Hand-encoded on purpose: the worker must not pull a protobuf library into
 * the browser bundle just to build a 200-byte canary. Only the handful of
 * ModelProto fields an MLP needs are written (field numbers from onnx.proto3).
 * No onnxruntime import here, so the main thread and tests can use it.
 *
 * @example
 * ```ts
 * const m = buildMlp({ sizes: [4, 8, 3], seed: 1 })
 * const x = new Float32Array([0.1, -0.2, 0.3, 0.4])
 * const y = referenceMlp(m, x, 1) // Float64Array(3), what onnxruntime should return within ~1e-6
 * ```
 */

// --- minimal protobuf writer -------------------------------------------------

class PbWriter {
  private readonly chunks: number[] = []

  private varint (v: number | bigint): void {
    let n = BigInt.asUintN(64, BigInt(v))
    while (n > 0x7fn) {
      this.chunks.push(Number(n & 0x7fn) | 0x80)
      n >>= 7n
    }
    this.chunks.push(Number(n))
  }

  private tag (field: number, wire: number): void { this.varint((field << 3) | wire) }

  int (field: number, v: number | bigint): this { this.tag(field, 0); this.varint(v); return this }

  bytes (field: number, b: Uint8Array): this {
    this.tag(field, 2)
    this.varint(b.length)
    for (const x of b) this.chunks.push(x)
    return this
  }

  string (field: number, s: string): this { return this.bytes(field, new TextEncoder().encode(s)) }

  message (field: number, m: PbWriter): this { return this.bytes(field, m.finish()) }

  finish (): Uint8Array { return Uint8Array.from(this.chunks) }
}

const FLOAT = 1 // TensorProto.DataType.FLOAT
const IR_VERSION = 8
const OPSET = 13

function valueInfo (name: string, dims: Array<number | string>): PbWriter {
  const shape = new PbWriter()
  for (const d of dims) {
    shape.message(1, typeof d === 'number' ? new PbWriter().int(1, d) : new PbWriter().string(2, d))
  }
  const tensorType = new PbWriter().int(1, FLOAT).message(2, shape)
  return new PbWriter().string(1, name).message(2, new PbWriter().message(1, tensorType))
}

function initializer (name: string, dims: number[], data: Float32Array): PbWriter {
  const w = new PbWriter()
  for (const d of dims) w.int(1, d)
  w.int(2, FLOAT).string(8, name)
  // raw_data is little-endian float32; Crosscheck already requires a little-endian host.
  return w.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
}

function node (op: string, inputs: string[], outputs: string[], name: string): PbWriter {
  const n = new PbWriter()
  for (const i of inputs) n.string(1, i)
  for (const o of outputs) n.string(2, o)
  return n.string(3, name).string(4, op)
}

// --- the model ---------------------------------------------------------------

export interface MlpOptions {
  /** Layer widths, input first: `[4, 8, 3]` is 4 → 8 (ReLU) → 3 (Sigmoid). */
  sizes: number[]
  /** Seed of the deterministic weights. @default 1 */
  seed?: number
  /** Input name. @default 'x' */
  input?: string
  /** Output name. @default 'y' */
  output?: string
}

export interface Mlp {
  bytes: Uint8Array
  input: string
  output: string
  sizes: number[]
  weights: Float32Array[]
  biases: Float32Array[]
}

/** mulberry32: tiny, seedable, identical in every JS engine. */
function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Builds `y = sigmoid(W_n · … relu(W_1 · x + b_1) … + b_n)` with input `[N, sizes[0]]`
 * (N symbolic) and output `[N, sizes.at(-1)]`. Same options → same bytes.
 */
export function buildMlp (opts: MlpOptions): Mlp {
  const { sizes } = opts
  if (sizes.length < 2) throw new RangeError('an MLP needs at least two layer sizes')
  const input = opts.input ?? 'x'
  const output = opts.output ?? 'y'
  const rand = rng(opts.seed ?? 1)
  const graph = new PbWriter()
  const weights: Float32Array[] = []
  const biases: Float32Array[] = []
  let prev = input
  for (let l = 0; l < sizes.length - 1; l++) {
    const [k, m] = [sizes[l], sizes[l + 1]]
    // Scale keeps activations O(1) so the sigmoid output is not saturated (a saturated canary proves nothing).
    const scale = 2 / Math.sqrt(k)
    const w = Float32Array.from({ length: k * m }, () => (rand() - 0.5) * scale)
    const b = Float32Array.from({ length: m }, () => (rand() - 0.5) * 0.2)
    weights.push(w)
    biases.push(b)
    graph.message(5, initializer(`w${l}`, [k, m], w))
    graph.message(5, initializer(`b${l}`, [m], b))
    const last = l === sizes.length - 2
    graph.message(1, node('MatMul', [prev, `w${l}`], [`mm${l}`], `matmul${l}`))
    graph.message(1, node('Add', [`mm${l}`, `b${l}`], [`z${l}`], `add${l}`))
    const act = last ? output : `h${l}`
    graph.message(1, node(last ? 'Sigmoid' : 'Relu', [`z${l}`], [act], `act${l}`))
    prev = act
  }
  graph.string(2, 'crosscheck-mlp')
  graph.message(11, valueInfo(input, ['N', sizes[0]]))
  graph.message(12, valueInfo(output, ['N', sizes[sizes.length - 1]]))
  const model = new PbWriter()
    .int(1, IR_VERSION)
    .string(2, 'crosscheck')
    .message(7, graph)
    .message(8, new PbWriter().string(1, '').int(2, OPSET))
  return { bytes: model.finish(), input, output, sizes: [...sizes], weights, biases }
}

/** The same network in float64, as the known answer. `x` is `[batch, sizes[0]]` row-major. */
export function referenceMlp (m: Mlp, x: Float32Array, batch: number): Float64Array {
  let h: Float64Array = Float64Array.from(x)
  for (let l = 0; l < m.weights.length; l++) {
    const [k, n] = [m.sizes[l], m.sizes[l + 1]]
    const w = m.weights[l]
    const b = m.biases[l]
    const next = new Float64Array(batch * n)
    const last = l === m.weights.length - 1
    for (let r = 0; r < batch; r++) {
      for (let j = 0; j < n; j++) {
        let s = b[j]
        for (let i = 0; i < k; i++) s += h[r * k + i] * w[i * n + j]
        next[r * n + j] = last ? 1 / (1 + Math.exp(-s)) : Math.max(0, s)
      }
    }
    h = next
  }
  return h
}

/** The self-test canary: fixed model, fixed input, float64 expected output. */
export function selfTestCase (): { model: Mlp, x: Float32Array, batch: number, expected: Float64Array, tolerance: number } {
  const model = buildMlp({ sizes: [8, 16, 4], seed: 0x5e1f7e57 })
  const batch = 2
  const r = rng(7)
  const x = Float32Array.from({ length: batch * 8 }, () => r() * 2 - 1)
  // float32 accumulation error over a 16-wide dot product is ~1e-7; WebGPU was seen within 3.6e-5 of CPU.
  return { model, x, batch, expected: referenceMlp(model, x, batch), tolerance: 1e-4 }
}
