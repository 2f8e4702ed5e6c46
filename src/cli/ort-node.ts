/**
 * Node's InferenceRuntime: onnxruntime-node sessions keyed by model sha256,
 * for Node peers (CLI workers and requesters, the library in Node, bench, e2e
 * references). One thread: results are bit-stable run to run (NOTES).
 */
import { InferenceError } from '../errors.js'
import type { NamedTensors } from '../tensor/index.js'
import { createNodeRunner } from '../models/ort-node.js'
import type { NodeRunner as Session } from '../models/ort-node.js'
import type { InferenceRuntime, RunOutput, RuntimeInfo } from '../core/types.js'

export const NODE_NUMERIC_CLASS = 'ort-node/cpu/t1/node'

export class NodeRunner implements InferenceRuntime {
  private readonly sessions = new Map<string, Promise<Session>>()
  readonly numericClass = NODE_NUMERIC_CLASS

  async probe (): Promise<RuntimeInfo> {
    return { runtime: 'ort-node', backend: 'cpu', threads: 1, numericClass: this.numericClass }
  }

  has (modelHash: string): boolean { return this.sessions.has(modelHash) }

  async hasModel (modelHash: string): Promise<boolean> { return this.sessions.has(modelHash) }

  async loadModel (modelHash: string, bytes: ArrayBuffer): Promise<void> {
    await this.load(modelHash, new Uint8Array(bytes))
  }

  async load (modelHash: string, bytes: Uint8Array): Promise<void> {
    if (this.sessions.has(modelHash)) return
    const p = createNodeRunner(bytes, { threads: 1 })
    this.sessions.set(modelHash, p)
    p.catch(() => { this.sessions.delete(modelHash) })
    await p
  }

  async run (modelHash: string, inputs: NamedTensors): Promise<RunOutput> {
    const session = await this.sessions.get(modelHash)
    if (session == null) throw new InferenceError(`model ${modelHash.slice(0, 12)} is not loaded`)
    const t0 = performance.now()
    const outputs = await session.run(inputs)
    return { outputs, ms: performance.now() - t0, numericClass: this.numericClass }
  }

  async close (): Promise<void> {
    for (const p of this.sessions.values()) await (await p.catch(() => undefined))?.release()
    this.sessions.clear()
  }
}
