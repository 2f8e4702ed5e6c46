import * as Comlink from 'comlink'
import { afterEach, describe, expect, it } from 'vitest'
import { InferenceError, ModelNotFoundError } from '../errors.js'
import { createTensor } from '../tensor/index.js'
import type { InferenceWorkerApi, WorkerInit } from '../../workers/contract.js'
import { InferenceWorker } from './worker-client.js'

/** A stand-in for the real worker, exposed over a MessageChannel exactly as the worker is. */
function fakeWorker (overrides: Partial<InferenceWorkerApi> = {}): { client: InferenceWorker, inits: WorkerInit[], close: () => void } {
  const { port1, port2 } = new MessageChannel()
  const inits: WorkerInit[] = []
  const api: InferenceWorkerApi = {
    init: async (o) => { inits.push(o) },
    probe: async () => { throw new Error('unused') },
    loadModel: async () => ({ inputNames: ['x'], outputNames: ['y'] }),
    hasModel: async () => false,
    unloadModel: async () => false,
    run: async (_hash, inputs) => {
      const x = inputs.x.data as Float32Array
      const y = createTensor('float32', inputs.x.dims, x.map((v) => v * 2))
      return Comlink.transfer({ outputs: { y }, ms: 1, numericClass: 'ort-web/wasm/t1/test' }, [y.data.buffer as ArrayBuffer])
    },
    selfTest: async () => { throw new Error('unused') },
    ...overrides
  }
  Comlink.expose(api, port1 as unknown as Comlink.Endpoint)
  const client = new InferenceWorker({ endpoint: port2 as unknown as Comlink.Endpoint, terminate: () => { port1.close() } }, { preferredBackend: 'wasm' })
  return { client, inits, close: () => { port1.close(); port2.close() } }
}

const cleanups: Array<() => void> = []
afterEach(() => { for (const c of cleanups.splice(0)) c() })

describe('InferenceWorker (main-thread side)', () => {
  it('sends init first and runs with transferred input buffers', async () => {
    const w = fakeWorker()
    cleanups.push(w.close)
    const x = createTensor('float32', [1, 3], new Float32Array([1, 2, 3]))
    const r = await w.client.run('h', { x })
    expect(w.inits).toEqual([{ preferredBackend: 'wasm' }])
    expect(Array.from(r.outputs.y.data as Float32Array)).toEqual([2, 4, 6])
    expect(r.outputs.y.data).toBeInstanceOf(Float32Array)
    // Transferred, not copied: the caller's buffer is detached.
    expect(x.data.buffer.byteLength).toBe(0)
  })

  it('keeps the caller buffers with transfer: false', async () => {
    const w = fakeWorker()
    cleanups.push(w.close)
    const x = createTensor('float32', [1, 2], new Float32Array([1, 2]))
    await w.client.run('h', { x }, { transfer: false })
    expect(Array.from(x.data as Float32Array)).toEqual([1, 2])
  })

  it('rebuilds named error classes thrown in the worker', async () => {
    const w = fakeWorker({
      run: async () => { throw new InferenceError('running model h: bad input shape', { cause: new Error('ort') }) },
      loadModel: async () => { throw new ModelNotFoundError('nope') },
      hasModel: async () => { throw new Error('plain') }
    })
    cleanups.push(w.close)
    const x = createTensor('float32', [1], new Float32Array([1]))
    const e1 = await w.client.run('h', { x }).then(() => new Error('resolved'), (e: Error) => e)
    expect(e1).toBeInstanceOf(InferenceError)
    expect(e1).toHaveProperty('name', 'InferenceError')
    expect(e1.message).toBe('running model h: bad input shape')
    const e2 = await w.client.loadModel('h', new ArrayBuffer(4)).catch((e: Error) => e)
    expect(e2).toBeInstanceOf(ModelNotFoundError)
    const e3 = await w.client.hasModel('h').catch((e: Error) => e)
    expect(e3).toHaveProperty('name', 'InferenceError')
  })

  it('rejects with AbortError when the signal fires mid-call', async () => {
    let release: () => void = () => {}
    const w = fakeWorker({ hasModel: async () => await new Promise<boolean>((resolve) => { release = () => resolve(true) }) })
    cleanups.push(w.close)
    const ac = new AbortController()
    const p = w.client.hasModel('h', { signal: ac.signal })
    ac.abort()
    await expect(p).rejects.toHaveProperty('name', 'AbortError')
    release()
    expect(w.client.busy).toBe(0)
  })

  it('fails pending and later calls after terminate', async () => {
    const w = fakeWorker({ hasModel: async () => await new Promise<boolean>(() => {}) })
    cleanups.push(w.close)
    const p = w.client.hasModel('h')
    w.client.terminate()
    await expect(p).rejects.toHaveProperty('name', 'NotStartedError')
    await expect(w.client.hasModel('h')).rejects.toHaveProperty('name', 'NotStartedError')
  })
})
