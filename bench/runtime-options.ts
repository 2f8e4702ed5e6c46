/**
 * The runtime section's options sweep (issue 15 item 6): onnxruntime-web
 * session options, build (plain WASM vs JSEP) and threads, per catalog model,
 * against onnxruntime-node on the same inputs. Every cell (variant × threads,
 * and native at each thread count) runs in every batch, in an order rotated
 * batch by batch, so that machine noise falls on all of them alike. Each
 * cell's output hash is compared with the worker default's at the same
 * thread count: an option that changes bytes changes the numeric class.
 */
import type { Page } from 'playwright-core'
import { resolveModel } from '../src/models/catalog.js'
import { createNodeRunner } from '../src/models/ort-node.js'
import type { NodeRunner } from '../src/models/ort-node.js'
import { hashTensors, tensorsFromJSON } from '../src/tensor/index.js'
import type { NamedTensors, TensorJSON } from '../src/tensor/index.js'
import type { RuntimeVariant } from '../src/ui/bench-hooks.js'
import type { SessionOptions } from '../workers/contract.js'
import { DEFAULT_SESSION_OPTIONS } from '../workers/session-options.js'
import { summarize } from './stats.js'
import type { Series } from './stats.js'

type Json = Record<string, TensorJSON>

export interface SweepVariant {
  id: string
  label: string
  variant: RuntimeVariant
}

export interface SweepCell {
  variant: string
  threads: number
  build: 'wasm' | 'jsep'
  numericClass: string
  web: Series
  /** Median web / median native at the same thread count. */
  ratio: number
  /** Output bytes equal the worker default's at the same thread count. */
  identical: boolean
  /** Every run of every batch gave the same bytes. */
  stable: boolean
}

export interface SweepModel {
  runs: number
  batches: number
  /** Variant id → what it sets. */
  labels: Record<string, string>
  /** Symbolic input dims, with the bench input's size for each (the `free-dims` variant fixes them). */
  freeDims: Record<string, number>
  node: Record<string, Series>
  cells: SweepCell[]
  /** The variant with the lowest median at each thread count, among those with identical bytes. */
  best: Record<string, string>
  /** Native's output hash differs from web's: expected (another numeric class). */
  nativeIdentical: Record<string, boolean>
}

/** The worker's default (onnxruntime-web's behaviour with every option unset): the reference for speed and bytes. */
const BASE: SessionOptions = { ...DEFAULT_SESSION_OPTIONS }

export function sweepVariants (freeDims: Record<string, number>): SweepVariant[] {
  const v: SweepVariant[] = [
    { id: 'default', label: `worker default = previous behaviour (${describe(BASE)}), plain WASM build`, variant: { build: 'wasm', session: BASE } },
    { id: 'opt-extended', label: 'graphOptimizationLevel extended', variant: { build: 'wasm', session: { ...BASE, graphOptimizationLevel: 'extended' } } },
    { id: 'opt-basic', label: 'graphOptimizationLevel basic', variant: { build: 'wasm', session: { ...BASE, graphOptimizationLevel: 'basic' } } },
    { id: 'arena', label: 'enableCpuMemArena on', variant: { build: 'wasm', session: { ...BASE, enableCpuMemArena: true } } },
    { id: 'mem-pattern', label: 'enableMemPattern on', variant: { build: 'wasm', session: { ...BASE, enableMemPattern: true } } },
    { id: 'arena+mem-pattern', label: 'enableCpuMemArena and enableMemPattern on (native\'s defaults)', variant: { build: 'wasm', session: { ...BASE, enableCpuMemArena: true, enableMemPattern: true } } },
    { id: 'parallel', label: 'executionMode parallel', variant: { build: 'wasm', session: { ...BASE, executionMode: 'parallel' } } },
    { id: 'jsep', label: 'JSEP build (onnxruntime-web, WASM + WebGPU), wasm backend, default options', variant: { build: 'jsep', session: BASE } }
  ]
  if (Object.keys(freeDims).length > 0) {
    v.push({ id: 'free-dims', label: `freeDimensionOverrides ${Object.entries(freeDims).map(([k, n]) => `${k}=${n}`).join(', ')}`, variant: { build: 'wasm', session: { ...BASE, freeDimensionOverrides: freeDims } } })
  }
  return v
}

function describe (o: SessionOptions): string {
  return `opt ${o.graphOptimizationLevel ?? 'all'}, arena ${o.enableCpuMemArena === true ? 'on' : 'off'}, mem pattern ${o.enableMemPattern === true ? 'on' : 'off'}, ${o.executionMode ?? 'sequential'}`
}

/** Each symbolic input dim of `bytes`, with the size `feeds` give it. */
export async function freeDimsOf (bytes: Uint8Array, feeds: NamedTensors): Promise<Record<string, number>> {
  const ort = await import('onnxruntime-node')
  const session = await ort.InferenceSession.create(bytes)
  try {
    const dims: Record<string, number> = {}
    for (const meta of session.inputMetadata) {
      if (!meta.isTensor) continue
      meta.shape.forEach((d, i) => { if (typeof d === 'string') dims[d] = feeds[meta.name].dims[i] })
    }
    return dims
  } finally {
    await session.release()
  }
}

/** Rotates `xs` by `k`: batch b starts at a different cell. */
function rotate<T> (xs: readonly T[], k: number): T[] {
  const n = k % xs.length
  return [...xs.slice(n), ...xs.slice(0, n)]
}

export interface SweepInit {
  models: readonly string[]
  /** Runs per cell for a model. */
  runsFor: (id: string) => number
  threads: readonly number[]
  log: (msg: string) => void
}

export async function runtimeOptionsSweep (page: Page, inputs: Record<string, Json>, init: SweepInit): Promise<Record<string, SweepModel>> {
  const out: Record<string, SweepModel> = {}
  for (const id of init.models) {
    const t0 = performance.now()
    const model = await resolveModel(id)
    const feeds = tensorsFromJSON(inputs[id])
    const freeDims = await freeDimsOf(model.bytes, feeds)
    const variants = sweepVariants(freeDims)
    const runs = init.runsFor(id)
    const batches = Math.min(runs, 4)
    type Cell = { kind: 'web', v: SweepVariant, threads: number } | { kind: 'node', threads: number }
    const cells: Cell[] = [
      ...init.threads.flatMap(threads => variants.map(v => ({ kind: 'web' as const, v, threads }))),
      ...init.threads.map(threads => ({ kind: 'node' as const, threads }))
    ]
    const runners = new Map<number, NodeRunner>()
    for (const threads of init.threads) {
      const r = await createNodeRunner(model.bytes, { threads })
      await r.run(feeds)
      runners.set(threads, r)
    }
    const web = new Map<string, { ms: number[], hashes: Set<string>, stable: boolean, build: 'wasm' | 'jsep', numericClass: string }>()
    const node = new Map<number, { ms: number[], hash: string }>()
    try {
      for (let b = 0; b < batches; b++) {
        const n = Math.floor(runs / batches) + (b < runs % batches ? 1 : 0)
        for (const c of rotate(cells, b * 3)) {
          if (c.kind === 'node') {
            const r = runners.get(c.threads) as NodeRunner
            const acc = node.get(c.threads) ?? { ms: [], hash: '' }
            let last: NamedTensors = {}
            for (let i = 0; i < n; i++) {
              const s = performance.now()
              last = await r.run(feeds)
              acc.ms.push(performance.now() - s)
            }
            acc.hash = hashTensors(last)
            node.set(c.threads, acc)
            continue
          }
          const key = `${c.v.id}/t${c.threads}`
          const w = await page.evaluate(async ([t, id, json, n, v]) => await window.crosscheck.bench.runtime(t, id, json, n, v), [c.threads, id, inputs[id], n, c.v.variant] as const)
          const acc = web.get(key) ?? { ms: [], hashes: new Set<string>(), stable: true, build: w.build, numericClass: w.numericClass }
          acc.ms.push(...w.ms)
          acc.hashes.add(w.outputHash)
          acc.stable &&= w.stable
          web.set(key, acc)
        }
      }
    } finally {
      for (const r of runners.values()) await r.release()
      // one model's sessions at a time: the OCR ones are large
      await page.evaluate(async () => { await window.crosscheck.bench.runtimeClose() })
    }
    const nodeSeries = Object.fromEntries([...node].map(([t, a]) => [`t${t}`, summarize(a.ms)]))
    const sweepCells: SweepCell[] = []
    const best: Record<string, string> = {}
    const nativeIdentical: Record<string, boolean> = {}
    for (const threads of init.threads) {
      const ref = web.get(`default/t${threads}`)
      const refHash = ref != null && ref.hashes.size === 1 ? [...ref.hashes][0] : undefined
      const nodeMedian = nodeSeries[`t${threads}`]?.median ?? NaN
      nativeIdentical[`t${threads}`] = refHash != null && node.get(threads)?.hash === refHash
      let bestMs = Infinity
      for (const v of variants) {
        const a = web.get(`${v.id}/t${threads}`)
        if (a == null) continue
        const s = summarize(a.ms)
        const identical = refHash != null && a.hashes.size === 1 && a.hashes.has(refHash)
        sweepCells.push({ variant: v.id, threads, build: a.build, numericClass: a.numericClass, web: s, ratio: s.median / nodeMedian, identical, stable: a.stable && a.hashes.size === 1 })
        if (identical && s.median < bestMs) { bestMs = s.median; best[`t${threads}`] = v.id }
      }
    }
    out[id] = { runs, batches, labels: Object.fromEntries(variants.map(v => [v.id, v.label])), freeDims, node: nodeSeries, cells: sweepCells, best, nativeIdentical }
    const line = (t: number): string => sweepCells.filter(c => c.threads === t).map(c => `${c.variant} ${c.web.median.toFixed(2)}${c.identical ? '' : '≠'}`).join(', ')
    for (const t of init.threads) init.log(`options ${id} ${t}t (native ${nodeSeries[`t${t}`]?.median.toFixed(2)} ms): ${line(t)}; best ${best[`t${t}`] ?? '–'}`)
    init.log(`options ${id}: ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  }
  return out
}
