/**
 * Throwaway harness page for the inference worker (served by vite from
 * /e2e/worker-harness/index.html); driven by run.ts through `window.harness`.
 */
import { createInferenceWorker, ModelRegistry } from '../../src/inference/index.js'
import type { WorkerInit } from '../../src/inference/index.js'
import { openStore } from '../../src/storage/index.js'
import { createTensor } from '../../src/tensor/index.js'
import { buildMlp, referenceMlp } from '../../workers/tiny-model.js'

async function run (init: WorkerInit, runs = 30): Promise<unknown> {
  const t0 = performance.now()
  const w = createInferenceWorker(init)
  try {
    const caps = await w.probe()
    const startupMs = performance.now() - t0
    const selfTest = await w.selfTest()

    // A bigger hand-built MLP for latency numbers.
    const m = buildMlp({ sizes: [256, 512, 512, 10], seed: 9 })
    const tl = performance.now()
    const info = await w.loadModel('mlp-bench', m.bytes.slice().buffer)
    const loadMs = performance.now() - tl
    const x = Float32Array.from({ length: 8 * 256 }, (_, i) => Math.sin(i))
    const expected = referenceMlp(m, x, 8)
    const lat: number[] = []
    const inner: number[] = []
    let maxDiff = 0
    for (let i = 0; i < runs; i++) {
      const t = performance.now()
      const r = await w.run('mlp-bench', { x: createTensor('float32', [8, 256], x.slice()) })
      lat.push(performance.now() - t)
      inner.push(r.ms)
      const y = r.outputs.y.data as Float32Array
      for (let j = 0; j < y.length; j++) maxDiff = Math.max(maxDiff, Math.abs(y[j] - expected[j]))
    }
    const sorted = (a: number[]): number[] => [...a].sort((p, q) => p - q)
    const median = (a: number[]): number => sorted(a)[Math.floor(a.length / 2)]

    // Errors keep their name across the boundary.
    const err = await w.run('mlp-bench', { wrong: createTensor('float32', [1], new Float32Array(1)) }).then(() => null, (e: Error) => ({ name: e.name, isInferenceError: e.constructor.name, message: e.message.slice(0, 120) }))

    // The catalog through the vite plugin, the registry and IndexedDB.
    const store = await openStore('harness')
    const registry = new ModelRegistry({ store }, { manifestUrl: new URL('/models/manifest.json', location.origin) })
    let progressEvents = 0
    registry.addEventListener('model:progress', () => { progressEvents++ })
    const manifest = await registry.manifest()
    const entry = manifest.models.find((e) => e.id === 'mlp')
    let catalog: unknown = null
    if (entry != null) {
      const resolved = await registry.resolve(entry.sha256)
      const again = await registry.resolve(entry.sha256)
      await w.loadModel(entry.sha256, resolved.bytes)
      const dims = entry.inputs.x.dims.map((d) => (d < 0 ? 1 : d))
      const r = await w.run(entry.sha256, { x: createTensor('float32', dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.5)) })
      catalog = { models: manifest.models.map((e) => e.id), first: resolved.source, second: again.source, progressEvents, outputDims: r.outputs[entry.outputs[0]].dims, numericClass: r.numericClass }
    }
    store.close()
    return {
      caps, startupMs, selfTest, info, loadMs, maxDiff, error: err, catalog,
      runLatency: { medianMs: median(lat), minMs: sorted(lat)[0], first: lat[0] },
      workerRunMs: { medianMs: median(inner) }
    }
  } finally {
    w.terminate()
  }
}

;(globalThis as unknown as { harness: unknown }).harness = { run, isolated: globalThis.crossOriginIsolated }
