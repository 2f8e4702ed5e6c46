/**
 * Pure helpers of the bench: summaries, and the per-stage breakdown of one
 * verified job from the requester's and the workers' traces (instants from
 * `performance.timeOrigin + performance.now()`, comparable across the pages
 * of one machine).
 */
import type { RunTiming, ServedTiming } from '../src/core/node.js'

export interface Series { median: number, p90: number, mean: number, min: number, max: number, n: number }

export function summarize (xs: readonly number[]): Series {
  if (xs.length === 0) return { median: NaN, p90: NaN, mean: NaN, min: NaN, max: NaN, n: 0 }
  const s = [...xs].sort((a, b) => a - b)
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]
  const median = s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
  return { median, p90: q(0.9), mean: xs.reduce((a, b) => a + b, 0) / xs.length, min: s[0], max: s[s.length - 1], n: xs.length }
}

/** An event of one page's node, stamped with a machine-wide instant (src/ui/bench-hooks.ts). */
export interface TraceEntry { t: number, type: string, detail: any }

/** Stages of a verified job along its critical path, in order; each with what it holds. */
export const STAGES = [
  { key: 'requesterModel', label: 'requester: model', what: 'the requester re-reads its copy of the model and re-hashes it' },
  { key: 'requesterQueue', label: 'requester: queueing', what: 'input hash, pending-job record, peer selection, job spec' },
  { key: 'prepare', label: 'prepare (off the clock)', what: 'the replica fetches and loads a model it lacks, asked before the job; its answer deadline starts at ready' },
  { key: 'inputTransfer', label: 'input transfer', what: 'dispatch until the worker holds the decoded request (stream open, encode, send, decode)' },
  { key: 'workerChecks', label: 'worker: checks', what: 'input hash and replay check' },
  { key: 'provisioning', label: 'model provisioning', what: 'worker makes sure the model is loaded (one runtime query when cached; fetch and load when cold)' },
  { key: 'workerQueue', label: 'worker: queueing', what: 'waiting for the jobs before it and the CPU-share rest' },
  { key: 'compute', label: 'compute', what: 'onnxruntime inside the Web Worker, as the runtime reports it' },
  { key: 'runtimeIo', label: 'runtime I/O', what: 'tensors to and from the inference Web Worker' },
  { key: 'signing', label: 'signing', what: 'output hash and vote signature' },
  { key: 'responseTransfer', label: 'response transfer', what: 'answer encoded, sent, decoded (the leg minus the vote check)' },
  { key: 'voteVerification', label: 'vote verification', what: 'output re-hash and signature check: a micro-benchmark in the requester page, taken out of the response leg' },
  { key: 'tally', label: 'tally', what: 'last counted vote until accepted' },
  { key: 'receipt', label: 'receipt', what: 'receipt built and signed; the trust layer saves reputation (IndexedDB)' },
  { key: 'store', label: 'store', what: 'receipt and job history written (IndexedDB)' }
] as const

export type StageKey = typeof STAGES[number]['key']

export interface JobBreakdown {
  jobId: string
  totalMs: number
  /** Runtime-reported compute of the slowest replica whose vote counted. */
  slowestComputeMs: number
  /** totalMs − slowestComputeMs: what verification adds to the slowest replica's own inference. */
  overheadMs: number
  /** The replica whose vote completed the quorum (the critical path runs through it). */
  critical?: string
  stages: Partial<Record<StageKey, number>>
  /** Stages that could not be told apart for this job (e.g. a Node worker has no trace). */
  unsplit?: string
}

export interface BreakdownInput {
  jobId: string
  timing: RunTiming
  /** The requester's trace entries (any job; filtered here). */
  requesterTrace: readonly TraceEntry[]
  /** Served timings of this job by worker peer id. */
  served: ReadonlyMap<string, ServedTiming>
  /** Median vote check (hash + signature) on this model's outputs, from the micro-benchmark. */
  verifyMs: number
}

/** Splits one job's latency along its critical path (see STAGES); stage values sum to totalMs. */
export function breakdown (input: BreakdownInput): JobBreakdown {
  const { jobId, timing } = input
  const mine = input.requesterTrace.filter(e => e.type === 'job:progress' && e.detail?.jobId === jobId)
  const accepted = mine.find(e => e.detail.type === 'accepted')
  const acceptedAt = accepted?.t ?? timing.receipted
  const votes = mine.filter(e => e.detail.type === 'vote' && e.t <= acceptedAt)
  const last = votes.at(-1)
  const totalMs = timing.finished - timing.started
  const slowestComputeMs = votes.reduce((m, v) => Math.max(m, Number(v.detail.ms) || 0), 0)
  const out: JobBreakdown = { jobId, totalMs, slowestComputeMs, overheadMs: totalMs - slowestComputeMs, stages: {} }
  const st = out.stages
  st.requesterModel = timing.modelReady - timing.started
  st.receipt = timing.receipted - acceptedAt
  st.store = timing.finished - timing.receipted
  if (last == null) {
    out.unsplit = 'no vote in the trace'
    return out
  }
  const peer = String(last.detail.peerId)
  out.critical = peer
  const dispatched = mine.find(e => e.detail.type === 'dispatched' && e.detail.peerId === peer)?.t ?? timing.requested
  st.requesterQueue = dispatched - timing.modelReady
  // a replica that had to prepare got the job at `ready`
  const readyAt = mine.find(e => e.detail.type === 'ready' && e.detail.peerId === peer)?.t
  const sent = readyAt ?? dispatched
  if (readyAt !== undefined) st.prepare = readyAt - dispatched
  st.tally = acceptedAt - last.t
  const s = input.served.get(peer)
  if (s == null) {
    out.unsplit = `replica ${peer.slice(-6)} left no trace: dispatch → vote is one stage`
    st.compute = Number(last.detail.ms) || 0
    st.responseTransfer = last.t - sent - st.compute
    return out
  }
  st.inputTransfer = s.received - sent
  st.workerChecks = s.modelStart - s.received
  st.provisioning = s.queued - s.modelStart
  st.workerQueue = s.computeStarted - s.queued
  st.compute = s.computeMs
  st.runtimeIo = s.computeDone - s.computeStarted - s.computeMs
  st.signing = s.answered - s.computeDone
  const leg = last.t - s.answered
  st.voteVerification = Math.min(Math.max(0, leg), input.verifyMs)
  st.responseTransfer = leg - st.voteVerification
  return out
}

/** Mean of each stage over jobs (means add up to the mean total, unlike medians). */
export function meanStages (jobs: readonly JobBreakdown[]): Partial<Record<StageKey, number>> {
  const out: Partial<Record<StageKey, number>> = {}
  for (const { key } of STAGES) {
    const xs = jobs.map(j => j.stages[key]).filter((x): x is number => x != null)
    if (xs.length > 0) out[key] = xs.reduce((a, b) => a + b, 0) / jobs.length
  }
  return out
}

/** Least-squares slope of log(y) on log(x): how y grows with x (1 = linearly). */
export function growthExponent (points: ReadonlyArray<{ x: number, y: number }>): number {
  const p = points.filter(q => q.x > 0 && q.y > 0).map(q => ({ x: Math.log(q.x), y: Math.log(q.y) }))
  if (p.length < 2) return NaN
  const mx = p.reduce((a, q) => a + q.x, 0) / p.length
  const my = p.reduce((a, q) => a + q.y, 0) / p.length
  const sxy = p.reduce((a, q) => a + (q.x - mx) * (q.y - my), 0)
  const sxx = p.reduce((a, q) => a + (q.x - mx) ** 2, 0)
  return sxy / sxx
}
