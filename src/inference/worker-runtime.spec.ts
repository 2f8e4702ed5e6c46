import * as Comlink from 'comlink'
import { afterEach, describe, expect, it } from 'vitest'
import { InferenceError } from '../errors.js'
import { createTensor } from '../tensor/index.js'
import type { InferenceWorkerApi } from '../../workers/contract.js'
import { InferenceWorker } from './worker-client.js'
import { WorkerRuntime } from './worker-runtime.js'

const closers: Array<() => void> = []
afterEach(() => { for (const c of closers.splice(0)) c() })

/** Workers over MessageChannels; `failRuns` of them (in creation order) fail every run, like a worker out of memory. */
function factory (failing: Set<number>): { create: () => InferenceWorker, made: () => number, asked: () => number } {
  let n = 0
  let asked = 0
  return {
    made: () => n,
    asked: () => asked,
    create: () => {
      const index = n++
      const loaded = new Set<string>()
      const api: InferenceWorkerApi = {
        init: async () => {},
        probe: async () => ({ backend: 'wasm', build: 'wasm', threads: 1, crossOriginIsolated: false, hardwareConcurrency: 1, engine: 'unknown', webgpu: { api: false, adapter: false }, numericClass: 'ort-web/wasm/t1/unknown', ortVersion: 'test', startupMs: 0 }),
        loadModel: async (hash) => { loaded.add(hash); return { inputNames: ['x'], outputNames: ['y'] } },
        hasModel: async (hash) => { asked++; return loaded.has(hash) },
        unloadModel: async () => false,
        run: async (_hash, inputs) => {
          if (failing.has(index)) throw new InferenceError('RangeError: WebAssembly.Memory(): could not allocate memory')
          return { outputs: { y: inputs.x }, ms: 1, numericClass: 'ort-web/wasm/t1/unknown' }
        },
        selfTest: async () => { throw new Error('unused') }
      }
      const { port1, port2 } = new MessageChannel()
      Comlink.expose(api, port1 as unknown as Comlink.Endpoint)
      closers.push(() => { port1.close(); port2.close() })
      return new InferenceWorker({ endpoint: port2 as unknown as Comlink.Endpoint, terminate: () => { port1.close() } })
    }
  }
}

const x = (): { x: ReturnType<typeof createTensor> } => ({ x: createTensor('float32', [1], new Float32Array([1])) })

describe('WorkerRuntime', () => {
  it('replaces a worker whose run failed: that job gets the error, the next one a fresh worker', async () => {
    const f = factory(new Set([0]))
    const rt = new WorkerRuntime({}, { create: f.create })
    await rt.loadModel('h', new ArrayBuffer(1))
    await expect(rt.run('h', x())).rejects.toMatchObject({ name: 'InferenceError' })
    expect(f.made()).toBe(1)
    // the fresh worker has no sessions: the core sees that and reloads the model
    expect(await rt.hasModel('h')).toBe(false)
    expect(f.made()).toBe(2)
    expect(rt.restarts).toBe(1)
    await rt.loadModel('h', new ArrayBuffer(1))
    const out = await rt.run('h', x())
    expect(Array.from(out.outputs.y.data as Float32Array)).toEqual([1])
    await rt.close()
  })

  it('knows the models it loaded without asking the worker; others it asks', async () => {
    const f = factory(new Set())
    const rt = new WorkerRuntime({}, { create: f.create })
    expect(await rt.hasModel('h')).toBe(false)
    expect(f.asked()).toBe(1)
    await rt.loadModel('h', new ArrayBuffer(1))
    expect(await rt.hasModel('h')).toBe(true)
    expect(await rt.hasModel('h')).toBe(true)
    expect(f.asked()).toBe(1)
    expect(await rt.hasModel('other')).toBe(false)
    expect(f.asked()).toBe(2)
    await rt.close()
  })

  it('keeps the worker when a call was only aborted', async () => {
    const f = factory(new Set())
    const rt = new WorkerRuntime({}, { create: f.create })
    const ac = new AbortController()
    ac.abort()
    await expect(rt.run('h', x(), { signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' })
    await rt.hasModel('h')
    expect(f.made()).toBe(1)
    expect((await rt.probe()).runtime).toBe('ort-web')
  })
})
