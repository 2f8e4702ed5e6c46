/**
 * onnxruntime-node runner for Node peers (CLI requester self-checks, bench,
 * server-side workers). One thread so results are bit-stable (NOTES).
 */
import * as ort from 'onnxruntime-node'
import { InferenceError } from '../errors.js'
import { createTensor } from '../tensor/index.js'
import type { NamedTensors, Tensor, TypedArray } from '../tensor/index.js'

export const NODE_NUMERIC_CLASS = 'ort-node/cpu/t1/node'

export class NodeRunner {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>()
  readonly numericClass = NODE_NUMERIC_CLASS

  has (modelHash: string): boolean { return this.sessions.has(modelHash) }

  async load (modelHash: string, bytes: Uint8Array): Promise<void> {
    if (this.sessions.has(modelHash)) return
    const p = ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' })
      .catch((err) => { this.sessions.delete(modelHash); throw new InferenceError(`cannot load model ${modelHash.slice(0, 12)}: ${String(err?.message ?? err)}`, { cause: err }) })
    this.sessions.set(modelHash, p)
    await p
  }

  async run (modelHash: string, inputs: NamedTensors): Promise<{ outputs: NamedTensors, ms: number, numericClass: string }> {
    const session = await this.sessions.get(modelHash)
    if (session == null) throw new InferenceError(`model ${modelHash.slice(0, 12)} is not loaded`)
    const feeds: Record<string, ort.Tensor> = {}
    for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor(t.dtype, t.data as any, t.dims)
    const t0 = performance.now()
    let result: ort.InferenceSession.OnnxValueMapType
    try {
      result = await session.run(feeds)
    } catch (err: any) {
      throw new InferenceError(`inference failed: ${String(err?.message ?? err)}`, { cause: err })
    }
    const ms = performance.now() - t0
    const outputs: NamedTensors = {}
    for (const [name, value] of Object.entries(result)) outputs[name] = fromOrt(value as ort.Tensor)
    return { outputs, ms, numericClass: this.numericClass }
  }

  async close (): Promise<void> {
    for (const p of this.sessions.values()) await (await p.catch(() => undefined))?.release()
    this.sessions.clear()
  }
}

function fromOrt (t: ort.Tensor): Tensor {
  const dtype = t.type as Tensor['dtype']
  const data = t.data as TypedArray
  // copy: ORT may reuse its buffers
  return createTensor(dtype, [...t.dims], data.slice() as TypedArray)
}
