/**
 * Reliability harness (issue 8, "Nothing lost"): a relay, Node peers in this
 * process or as separate `crosscheck worker` processes, and requesters that
 * submit many jobs and count how each one ended. Shared by the reliability
 * specs beside it and by `npm run soak` (scripts/soak.ts).
 *
 * A job is *accepted* (outputs and a receipt), *failed* with a named error
 * (`err.name` is one of the classes in src/errors.ts), or *lost*: it hung past
 * its deadline plus a grace period, or failed with an unnamed error. Lost must
 * stay 0.
 *
 * @example
 * ```ts
 * const relay = await startRelay({ port: 0 })
 * const workers = await startNodes([relay.multiaddrs[0]], 4)
 * const requester = await startRequester([relay.multiaddrs[0]])
 * const outcomes = await submitJobs(requester, 20, { replicas: 2, quorum: 2 })
 * // outcomes.accepted, outcomes.failed, outcomes.lost
 * ```
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import * as errors from '../errors.js'
import { createNode } from '../index.node.js'
import type { CrosscheckNode, CreateNodeInit } from '../index.node.js'
import { LocalCatalog } from '../models/catalog.js'
import type { RunOptions } from '../core/node.js'

/** The generated MLP's input (the model every reliability job runs: sub-millisecond, so load is network load). */
export const MLP_INPUT = { x: { dtype: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => Math.round(Math.sin(i + 1) * 1000) / 1000) } }

/** Names of the error classes callers may branch on (every CrosscheckError subclass in src/errors.ts). */
export const NAMED_ERRORS: ReadonlySet<string> = new Set(Object.values(errors)
  .filter((v): v is typeof errors.CrosscheckError => typeof v === 'function' && (v === errors.CrosscheckError || v.prototype instanceof errors.CrosscheckError))
  .map(c => c.name))

/** Polls `check` every `step` ms until it holds; throws after `ms` naming `what` (and `detail()`, the state it saw last). */
export async function until (what: string, check: () => boolean | Promise<boolean>, ms = 30_000, step = 100, detail?: () => string): Promise<void> {
  const t0 = Date.now()
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}${detail != null ? `: ${detail()}` : ''}`)
    await new Promise(resolve => setTimeout(resolve, step))
  }
}

/** What `node` knows of its peers, in one line: id tail, link (direct, relayed, none), announced or not. */
export function peerSummary (node: CrosscheckNode): string {
  return node.stats().peers.map(p => `${p.peerId.slice(-6)}:${p.direct ? 'direct' : p.relayed ? 'relayed' : 'none'}${p.announcement != null ? (p.announcement.paused ? '+paused' : '+announced') : ''}`).join(' ')
}

/** How submitted jobs ended. */
export class Outcomes {
  submitted = 0
  accepted = 0
  /** Named failures by `err.name`. */
  readonly failed = new Map<string, number>()
  /** Hung past deadline + grace, or failed with an error that has no name of ours. */
  lost = 0
  /** What the lost ones were (first few), for the report. */
  readonly lostDetail: string[] = []
  /** Wall time of accepted jobs (ms). */
  readonly ms: number[] = []
  /** A few messages per failure name, for the report. */
  readonly failedDetail = new Map<string, string[]>()

  add (outcome: { accepted: true, ms: number } | { accepted: false, error: unknown } | { lost: string }): void {
    if ('lost' in outcome) {
      this.lost++
      if (this.lostDetail.length < 10) this.lostDetail.push(outcome.lost)
    } else if (outcome.accepted) {
      this.accepted++
      this.ms.push(outcome.ms)
    } else {
      const e = outcome.error as { name?: unknown, message?: unknown }
      const name = typeof e?.name === 'string' ? e.name : ''
      if (!NAMED_ERRORS.has(name)) {
        this.add({ lost: `unnamed ${name === '' ? 'error' : name}: ${String(e?.message ?? outcome.error)}` })
        return
      }
      this.failed.set(name, (this.failed.get(name) ?? 0) + 1)
      const detail = this.failedDetail.get(name) ?? []
      if (detail.length < 3) this.failedDetail.set(name, [...detail, String(e?.message ?? '')])
    }
  }

  /** Jobs that ended (accepted, failed by name, or counted lost). */
  get ended (): number {
    return this.accepted + this.lost + [...this.failed.values()].reduce((a, b) => a + b, 0)
  }

  merge (other: Outcomes): this {
    this.submitted += other.submitted
    this.accepted += other.accepted
    this.lost += other.lost
    for (const [k, v] of other.failed) this.failed.set(k, (this.failed.get(k) ?? 0) + v)
    for (const [k, v] of other.failedDetail) this.failedDetail.set(k, [...(this.failedDetail.get(k) ?? []), ...v].slice(0, 3))
    this.lostDetail.push(...other.lostDetail.slice(0, Math.max(0, 10 - this.lostDetail.length)))
    this.ms.push(...other.ms)
    return this
  }

  toJSON (): { submitted: number, accepted: number, failed: Record<string, number>, failedDetail: Record<string, string[]>, lost: number, lostDetail: string[], ms: number[] } {
    return { submitted: this.submitted, accepted: this.accepted, failed: Object.fromEntries(this.failed), failedDetail: Object.fromEntries(this.failedDetail), lost: this.lost, lostDetail: this.lostDetail, ms: this.ms }
  }

  static fromJSON (j: ReturnType<Outcomes['toJSON']>): Outcomes {
    const o = new Outcomes()
    o.submitted = j.submitted
    o.accepted = j.accepted
    o.lost = j.lost
    for (const [k, v] of Object.entries(j.failed)) o.failed.set(k, v)
    for (const [k, v] of Object.entries(j.failedDetail)) o.failedDetail.set(k, v)
    o.lostDetail.push(...j.lostDetail)
    o.ms.push(...j.ms)
    return o
  }
}

export interface SubmitOptions {
  /** @default 2 */
  replicas?: number
  /** @default 2 */
  quorum?: number
  /** Each job's deadline (ms). @default 60000 */
  timeout?: number
  /** How long past its deadline a job may take to end before it counts as lost (ms). @default 15000 */
  grace?: number
  /** Jobs in flight at once from this requester. @default all of them */
  concurrency?: number
  /** Called as each job ends. */
  onEnd?: (outcomes: Outcomes) => void
}

/**
 * Submits `count` MLP jobs from `node` and waits until every one ended. A job
 * is never abandoned: one that has not ended by its deadline + grace is
 * counted lost (and the count returns; the promise itself is left alone).
 */
export async function submitJobs (node: CrosscheckNode, count: number, options: SubmitOptions = {}): Promise<Outcomes> {
  const outcomes = new Outcomes()
  const timeout = options.timeout ?? 60_000
  const grace = options.grace ?? 15_000
  const run: RunOptions = { replicas: options.replicas ?? 2, quorum: options.quorum ?? 2, timeout }
  let next = 0
  const one = async (): Promise<void> => {
    const i = next++
    outcomes.submitted++
    const t0 = Date.now()
    let watchdog: ReturnType<typeof setTimeout> | undefined
    const lost = new Promise<'lost'>(resolve => { watchdog = setTimeout(() => { resolve('lost') }, timeout + grace) })
    try {
      const r = await Promise.race([node.run('mlp', MLP_INPUT, run), lost])
      if (r === 'lost') outcomes.add({ lost: `job ${i} did not end within ${timeout + grace} ms` })
      else outcomes.add({ accepted: true, ms: Date.now() - t0 })
    } catch (err) {
      outcomes.add({ accepted: false, error: err })
    } finally {
      clearTimeout(watchdog)
      options.onEnd?.(outcomes)
    }
  }
  const lanes = Math.max(1, Math.min(count, options.concurrency ?? count))
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (next < count) await one()
  }))
  return outcomes
}

export interface NodeOptions {
  /** @default 1000 ms */
  announceInterval?: number
  /** Node init overrides. */
  init?: Partial<CreateNodeInit>
}

/** `n` contributing Node peers (memory store, onnxruntime-node, built-in catalog), started. */
export async function startNodes (relays: string[], n: number, options: NodeOptions = {}): Promise<CrosscheckNode[]> {
  const catalog = new LocalCatalog()
  const nodes = Array.from({ length: n }, () => createNode({
    relays,
    surface: 'cli',
    catalog,
    contribute: { startPaused: false },
    announceInterval: options.announceInterval ?? 1000,
    ...options.init
  }))
  await Promise.all(nodes.map(async node => { await node.start() }))
  return nodes
}

/** A Node peer that only requests (no canaries: a short-lived requester learns nothing from them). */
export async function startRequester (relays: string[], options: NodeOptions = {}): Promise<CrosscheckNode> {
  const node = createNode({
    relays,
    surface: 'cli',
    catalog: new LocalCatalog(),
    contribute: false,
    requester: { canaryRate: 0 },
    ...options.init
  })
  await node.start()
  return node
}

/** Contributors `node` may send jobs to now: a fresh sample from its relays (its replica pool). */
export async function contributorsOf (node: CrosscheckNode): Promise<string[]> {
  return await node.findContributors()
}

/** Open connections and streams of some nodes, summed. */
export function openStreams (nodes: CrosscheckNode[]): { connections: number, streams: number } {
  let connections = 0
  let streams = 0
  for (const n of nodes) {
    for (const c of n.connections()) { connections++; streams += c.streams }
  }
  return { connections, streams }
}

/** Timers and intervals keeping this process alive now (Node's active resources). */
export function activeTimers (): number {
  return process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
}

/** A `crosscheck worker` in its own process: killable like a closed tab or a crashed worker. */
export interface WorkerProcess {
  peerId: string
  pid: number
  child: ChildProcess
  /** Resolves with the exit code (or the signal's name) once the process ended. */
  exited: Promise<number | string>
  /** Peak resident memory so far (VmHWM, bytes); undefined once it exited. */
  peakRss: () => number | undefined
  /** Current resident memory (VmRSS, bytes). */
  rss: () => number | undefined
  /** SIGKILL (crash, tab killed) or SIGTERM (orderly stop), then waits for the exit. */
  kill: (signal?: NodeJS.Signals) => Promise<void>
}

function procStatus (pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m != null ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

/**
 * Starts `crosscheck worker` (optionally with a test-only `--fault`) and
 * resolves once it printed its peer id. Started with --experimental-websocket
 * directly, so that bin/crosscheck.js does not re-exec itself and the pid is
 * the worker's own (a SIGKILL then kills the peer, not just a launcher).
 */
export async function spawnWorker (relays: string[], options: { fault?: string, startTimeout?: number } = {}): Promise<WorkerProcess> {
  const args = ['--experimental-websocket', '--no-warnings=ExperimentalWarning', resolvePath('bin/crosscheck.js'), 'worker', ...relays.flatMap(r => ['--relay', r]), ...(options.fault != null ? ['--fault', options.fault] : [])]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(options.fault != null ? { CROSSCHECK_TEST_FAULTS: '1' } : {}) } })
  const exited = new Promise<number | string>(res => { child.once('exit', (code, signal) => { res(code ?? signal ?? -1) }) })
  let out = ''
  let err = ''
  child.stderr?.on('data', (d) => { err = (err + String(d)).slice(-4000) })
  const peerId = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); rej(new Error(`worker did not start within ${options.startTimeout ?? 60_000} ms: ${err}`)) }, options.startTimeout ?? 60_000)
    child.stdout?.on('data', (d) => {
      out += String(d)
      const m = /^worker (\S+)/m.exec(out)
      if (m != null) { clearTimeout(timer); res(m[1]) }
    })
    void exited.then((code) => { clearTimeout(timer); rej(new Error(`worker exited (${code}) before it started: ${err}`)) })
  })
  const pid = child.pid as number
  let lastPeak: number | undefined
  return {
    peerId,
    pid,
    child,
    exited,
    peakRss: () => {
      if (child.exitCode == null && child.signalCode == null) lastPeak = procStatus(pid, 'VmHWM') ?? lastPeak
      return lastPeak
    },
    rss: () => (child.exitCode == null && child.signalCode == null ? procStatus(pid, 'VmRSS') : undefined),
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode != null || child.signalCode != null) return
      lastPeak = procStatus(pid, 'VmHWM') ?? lastPeak
      child.kill(signal)
      const t = setTimeout(() => { child.kill('SIGKILL') }, 5_000)
      await exited
      clearTimeout(t)
    }
  }
}
