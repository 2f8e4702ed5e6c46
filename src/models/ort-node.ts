/**
 * Runs a model with onnxruntime-node, speaking Crosscheck's Tensor type
 * (Node only: tests, bench, CLI workers).
 *
 * @example
 * ```ts
 * const runner = await createNodeRunner(generateMlp())
 * const { y } = await runner.run({ x: createTensor('float32', [1, 16], new Float32Array(16)) })
 * await runner.release()
 * ```
 */
import { InferenceError } from '../errors.js'
import type { NamedTensors, Tensor, TypedArray } from '../tensor/index.js'
import { createTensor, isDType } from '../tensor/index.js'

export interface NodeRunnerInit {
  /** Intra-op threads; 1 keeps results bit-identical run to run. @default 1 */
  threads?: number
}

export interface NodeRunner {
  inputNames: readonly string[]
  outputNames: readonly string[]
  run: (inputs: NamedTensors) => Promise<NamedTensors>
  release: () => Promise<void>
}

export async function createNodeRunner (model: Uint8Array | string, init: NodeRunnerInit = {}): Promise<NodeRunner> {
  const ort = await import('onnxruntime-node')
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>
  try {
    const options = { intraOpNumThreads: init.threads ?? 1, interOpNumThreads: 1 }
    session = typeof model === 'string'
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options)
  } catch (err) {
    throw new InferenceError(`onnxruntime-node could not load the model: ${String(err)}`, { cause: err })
  }
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run (inputs) {
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {}
      for (const [name, t] of Object.entries(inputs)) {
        // ORT has no 'float64' vs 'bool' quirks here beyond naming; our dtype names match its own.
        feeds[name] = new ort.Tensor(t.dtype, t.data as never, t.dims)
      }
      let out
      try {
        out = await session.run(feeds)
      } catch (err) {
        throw new InferenceError(`onnxruntime-node run failed: ${String(err)}`, { cause: err })
      }
      const result: NamedTensors = {}
      for (const [name, t] of Object.entries(out)) {
        if (!isDType(t.type)) throw new InferenceError(`output ${name} has unsupported dtype ${t.type}`)
        result[name] = createTensor(t.type, [...t.dims], t.data as TypedArray) satisfies Tensor
      }
      return result
    },
    async release () {
      await session.release()
    }
  }
}
