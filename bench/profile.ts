/**
 * Per-op profile of onnxruntime-web (WASM SIMD) against onnxruntime-node
 * (MLAS), same model, same input, same thread count: the "why" behind the
 * runtime ratios. onnxruntime-web runs here in Node, on the very wasm binary
 * the browser worker loads (at 1 thread its bytes match the browser's): its
 * profiler prints the trace to stdout (file descriptor 1, not console.log), so
 * each runtime runs in a child process (bench/profile-child.ts) and the parent
 * reads the trace from between two marker lines.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveModel } from '../src/models/catalog.js'
import type { TensorJSON } from '../src/tensor/index.js'

export const PROFILE_BEGIN = '@@crosscheck-profile-begin'
export const PROFILE_END = '@@crosscheck-profile-end'
/** One profiled session takes a few seconds; more means it is stuck. */
const CHILD_TIMEOUT_MS = 60_000

/** One event of onnxruntime's Chrome-trace profile. */
export interface TraceEvent { cat: string, name: string, ts: number, dur: number, args?: { op_name?: string } }

export interface OpProfile {
  /** Median `model_run` ms over the profiled runs (the warm-up run left out). */
  runMs: number
  /** op type → ms per run, summed over that type's nodes. */
  ops: Record<string, number>
  /** op type → nodes per run. */
  nodes: Record<string, number>
}

export interface ModelProfile {
  threads: number
  runs: number
  web: OpProfile
  node: OpProfile
  /** Op types by the time WASM loses to native, largest first. */
  gap: Array<{ op: string, webMs: number, nodeMs: number, ratio: number, shareOfGap: number }>
}

/**
 * Fused kernels counted with their base op: onnxruntime-web fuses Conv+activation
 * into FusedConv where native's NCHWc Conv absorbs the activation itself, so
 * only the sum compares like with like.
 */
const BASE_OP: Record<string, string> = { FusedConv: 'Conv', FusedMatMul: 'MatMul', FusedGemm: 'Gemm' }

/** Folds an onnxruntime trace into per-op-type ms per run, leaving out the first (warm-up) run. */
export function foldTrace (events: readonly TraceEvent[]): OpProfile {
  const runs = events.filter(e => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts).slice(1)
  const inRun = (e: TraceEvent): boolean => runs.some(r => e.ts >= r.ts && e.ts <= r.ts + r.dur)
  const ops: Record<string, number> = {}
  const nodes: Record<string, number> = {}
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !inRun(e)) continue
    const name = e.args?.op_name ?? 'unknown'
    const op = BASE_OP[name] ?? name
    ops[op] = (ops[op] ?? 0) + e.dur / 1000 / runs.length
    nodes[op] = (nodes[op] ?? 0) + 1 / runs.length
  }
  const ms = runs.map(r => r.dur / 1000).sort((a, b) => a - b)
  const runMs = ms.length === 0 ? NaN : ms.length % 2 === 1 ? ms[(ms.length - 1) / 2] : (ms[ms.length / 2 - 1] + ms[ms.length / 2]) / 2
  return { runMs, ops, nodes }
}

/** The op types where web spends more than native, with their share of the whole gap. */
export function gapOf (web: OpProfile, node: OpProfile): ModelProfile['gap'] {
  const types = new Set([...Object.keys(web.ops), ...Object.keys(node.ops)])
  const rows = [...types].map(op => ({ op, webMs: web.ops[op] ?? 0, nodeMs: node.ops[op] ?? 0 }))
  const total = rows.reduce((a, r) => a + Math.max(0, r.webMs - r.nodeMs), 0)
  return rows
    .map(r => ({ ...r, ratio: r.nodeMs > 0 ? r.webMs / r.nodeMs : Infinity, shareOfGap: total > 0 ? Math.max(0, r.webMs - r.nodeMs) / total : 0 }))
    .sort((a, b) => (b.webMs - b.nodeMs) - (a.webMs - a.nodeMs))
}

/** The trace between the markers in a child's stdout (onnxruntime-web prints it there; profile-child.ts prints native's). */
export function traceFrom (stdout: string): TraceEvent[] {
  const begin = stdout.indexOf(PROFILE_BEGIN)
  const end = stdout.indexOf(PROFILE_END, begin)
  if (begin < 0 || end < 0) throw new Error('the profile child printed no trace')
  const body = stdout.slice(begin + PROFILE_BEGIN.length, end)
  const open = body.indexOf('[')
  const close = body.lastIndexOf(']')
  if (open < 0 || close < open) throw new Error('the profile child printed no JSON array')
  return JSON.parse(body.slice(open, close + 1)) as TraceEvent[]
}

function child (args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'bench/profile-child.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.on('data', (b: Buffer) => { out += b.toString() })
    p.stderr.on('data', (b: Buffer) => { err += b.toString() })
    // a child that never ends (a stuck wasm thread) must not hang the bench
    const timer = setTimeout(() => { p.kill('SIGKILL') }, CHILD_TIMEOUT_MS)
    p.on('error', reject)
    p.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`profile child ${signal === 'SIGKILL' ? `killed after ${CHILD_TIMEOUT_MS} ms` : `exited ${String(code)}`}: ${err.slice(-2000)}`))
    })
  })
}

export async function profileModels (models: readonly string[], inputs: Record<string, Record<string, TensorJSON>>, opts: { runs: number, threads: number }): Promise<Record<string, ModelProfile>> {
  const dir = await mkdtemp(join(tmpdir(), 'crosscheck-profile-'))
  const out: Record<string, ModelProfile> = {}
  try {
    for (const id of models) {
      const model = await resolveModel(id)
      const modelPath = join(dir, `${id}.onnx`)
      const inputPath = join(dir, `${id}.json`)
      await writeFile(modelPath, model.bytes)
      await writeFile(inputPath, JSON.stringify(inputs[id]))
      const fold = async (runtime: 'web' | 'node'): Promise<OpProfile> => foldTrace(traceFrom(await child([runtime, modelPath, inputPath, String(opts.threads), String(opts.runs + 1), dir])))
      const web = await fold('web')
      const node = await fold('node')
      out[id] = { threads: opts.threads, runs: opts.runs, web, node, gap: gapOf(web, node) }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  return out
}
