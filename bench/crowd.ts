/**
 * The bench's crowd section (issue 14): visitors arrive one every
 * `arrivalMs` (default 500 ms) at the contributor page, each in its own
 * browser context, on a fresh local network (relay + built site). For each
 * crowd size N it measures:
 *
 * - join: from each page's load event to the first moment its node says
 *   "contributing" (running, leased on the relay, not paused), read in the
 *   page's own clock (the predicate stamps `performance.now()` when it first
 *   holds; it polls every 50 ms, so figures are late by up to 50 ms);
 * - jobs: `crosscheck submit` (the CLI, its own Node process) runs verified
 *   jobs (k=3, q=2) one after another while the pages stay: each ends
 *   accepted or with its error's name;
 * - links: direct links per page (now, and RTCPeerConnections created);
 * - idle: once the jobs are done and the CLI's links have closed, an idle
 *   window (default 50 s, longer than the 45 s lease renewal so that every
 *   periodic cost falls inside it): renderer CPU per tab (each context's
 *   renderer process, its workers included), the browser process's share per
 *   tab, and bytes per tab (WebRTC transport + relay WebSocket frames).
 *
 * Across sizes it fits the log-log slope of each per-peer cost against N.
 * Numbers only: nothing here is a test.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import type { Browser } from 'playwright-core'
import type { LocalNetwork } from '../src/cli/local-network.js'
import type { PeerPage } from './browser.js'
import { closeAll, cpuDelta, pageUrl, preparePages, processCpu, processList, threadCpu, trafficOf } from './browser.js'
import { growthExponent, summarize } from './stats.js'

export interface CrowdOptions {
  /** Wait between two visitors' arrivals (ms). @default 500 */
  arrivalMs: number
  /** Verified CLI jobs run one after another once the crowd has joined. @default 6 */
  jobs: number
  /** Idle window (s). @default 50 */
  idleSeconds: number
  /** A page that is not contributing this long after its load counts as not joined (ms). @default 60000 */
  joinTimeoutMs: number
  log: (msg: string) => void
}

export interface CrowdJoin {
  /** ms from the page's load event to "contributing" (null: not within the timeout). */
  afterLoadMs: number | null
  /** ms from navigation start to "contributing". */
  afterNavigationMs: number | null
  /** ms from navigation start to the load event. */
  loadMs: number | null
}

export interface CrowdResult {
  pages: number
  arrivalMs: number
  join: CrowdJoin[]
  joined: number
  joinAfterLoad: { median: number, p95: number, max: number }
  /** Each CLI job's outcome: 'accepted', or its error's name. */
  jobs: string[]
  /** Each failed job's error message as the CLI printed it ('' for an accepted one). */
  jobErrors: string[]
  jobMs: number[]
  /** Direct links per page when the jobs were done (max over pages) and RTCPeerConnections created (max). */
  links: { max: number, createdMax: number, bound: number }
  /** Pages still contributing when the idle window ended. */
  contributingAtEnd: number
  idle?: {
    seconds: number
    perTabCores: number
    browserProcessPerTabCores: number
    perTabThreads: Record<string, number>
    bytesPerTabPerSecond: { sent: number, received: number, rtcSent: number, wsSent: number }
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Runs `crosscheck submit` once; resolves with its outcome and wall time. */
async function submitOnce (relay: string, inputPath: string, timeoutMs: number): Promise<{ outcome: string, error: string, ms: number }> {
  const t = performance.now()
  const args = ['bin/crosscheck.js', 'submit', '--relay', relay, '--model', 'mlp', '--input', inputPath, '--replicas', '3', '--quorum', '2', '--timeout', '30000']
  return await new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += String(d) })
    child.stderr.on('data', (d) => { stderr += String(d) })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      let outcome: string
      let error = ''
      if (code === 0) {
        try { outcome = String(JSON.parse(stdout).status) } catch { outcome = 'unparsed output' }
      } else {
        outcome = /crosscheck: (\w+Error)/.exec(stderr)?.[1] ?? (code == null ? 'killed (timeout)' : `exit ${code}`)
        error = stderr.trim().split('\n').filter(l => l.includes('crosscheck:')).pop() ?? stderr.trim().slice(-500)
      }
      resolve({ outcome, error, ms: performance.now() - t })
    })
  })
}

/** One crowd of `n` arriving visitors on `net`. */
export async function crowdSection (browser: Browser, net: LocalNetwork, n: number, o: CrowdOptions): Promise<CrowdResult> {
  const pages: PeerPage[] = []
  const url = pageUrl(net.url, net.relay)
  const dir = await mkdtemp(join(tmpdir(), 'crosscheck-bench-crowd-'))
  try {
    o.log(`crowd ${n}: ${n} visitors arriving one every ${o.arrivalMs} ms`)
    const t0 = performance.now()
    // each visitor opens its browser context and tab when it arrives: made all up front, n renderer
    // processes would start at once and slow the first arrivals (measured: page 1 of 24 joined in 6 s, not 0.7 s)
    const joins = await Promise.all(Array.from({ length: n }, async (_, i): Promise<CrowdJoin> => {
      await sleep(Math.max(0, t0 + i * o.arrivalMs - performance.now()))
      try {
        const [p] = await preparePages(browser, 1)
        pages.push(p)
        await p.page.goto(url, { timeout: o.joinTimeoutMs })
        await p.page.waitForFunction(() => {
          const w = window as unknown as { __contributingAt?: number }
          if (w.__contributingAt == null && window.crosscheck?.stats()?.contributing === true) w.__contributingAt = performance.now()
          return w.__contributingAt != null
        }, undefined, { timeout: o.joinTimeoutMs, polling: 50 })
        const at = await p.page.evaluate(() => {
          const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined
          return { contributing: (window as unknown as { __contributingAt: number }).__contributingAt, load: nav?.loadEventEnd ?? NaN, peerId: window.crosscheck.stats()?.peerId ?? '' }
        })
        p.peerId = at.peerId
        return { afterLoadMs: at.contributing - at.load, afterNavigationMs: at.contributing, loadMs: at.load }
      } catch {
        return { afterLoadMs: null, afterNavigationMs: null, loadMs: null }
      }
    }))
    const ok = joins.map(j => j.afterLoadMs).filter((x): x is number => x != null)
    const sorted = [...ok].sort((a, b) => a - b)
    const joinAfterLoad = { median: summarize(ok).median, p95: sorted[Math.min(sorted.length - 1, Math.floor(0.95 * sorted.length))] ?? NaN, max: sorted[sorted.length - 1] ?? NaN }
    o.log(`crowd ${n}: ${ok.length} of ${n} contributing; after page load p50 ${(joinAfterLoad.median / 1000).toFixed(2)} s, p95 ${(joinAfterLoad.p95 / 1000).toFixed(2)} s, max ${(joinAfterLoad.max / 1000).toFixed(2)} s (page load itself p50 ${(summarize(joins.map(j => j.loadMs).filter((x): x is number => x != null)).median / 1000).toFixed(2)} s)`)

    // verified CLI jobs while the crowd stays
    const inputPath = join(dir, 'input.json')
    await writeFile(inputPath, JSON.stringify({ x: { dtype: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => Math.round(Math.sin(i + 3) * 1000) / 1000) } }))
    const jobs: string[] = []
    const jobMs: number[] = []
    const jobErrors: string[] = []
    for (let i = 0; i < o.jobs; i++) {
      const r = await submitOnce(net.relay, inputPath, 120_000)
      jobs.push(r.outcome)
      jobErrors.push(r.error)
      jobMs.push(r.ms)
      if (r.error !== '') o.log(`crowd ${n}: job ${i + 1}: ${r.error.slice(0, 400)}`)
    }
    o.log(`crowd ${n}: CLI jobs (k=3, q=2): ${jobs.filter(j => j === 'accepted').length} of ${jobs.length} accepted (${jobs.join(', ')}), each ${jobMs.map(x => (x / 1000).toFixed(1)).join(', ')} s from process start`)

    const linkStats = await Promise.all(pages.map(async p => await p.page.evaluate(() => window.crosscheck.stats()?.links).catch(() => undefined)))
    const links = {
      max: Math.max(0, ...linkStats.map(l => l?.links ?? 0)),
      createdMax: Math.max(0, ...linkStats.map(l => l?.created ?? 0)),
      bound: Math.min(...linkStats.map(l => l?.maxLinks ?? Infinity))
    }
    o.log(`crowd ${n}: direct links per page max ${links.max} (bound ${links.bound}), RTCPeerConnections created max ${links.createdMax}`)

    const result: CrowdResult = { pages: n, arrivalMs: o.arrivalMs, join: joins, joined: ok.length, joinAfterLoad, jobs, jobErrors, jobMs, links, contributingAtEnd: 0 }
    if (o.idleSeconds > 0) {
      // idle: the CLI requester is gone, so its links close; wait for that (bounded), then measure
      const linked = async (): Promise<number> => (await Promise.all(pages.map(async p => await p.page.evaluate(() => window.crosscheck.stats()?.links.links ?? 0).catch(() => 0)))).reduce((a, b) => a + b, 0)
      for (let i = 0; i < 100 && await linked() > 0; i++) await sleep(200)
      await sleep(2000)
      const sys = await browser.newBrowserCDPSession()
      const renderers = (await processList(sys)).filter(p => p.type === 'renderer').map(p => p.id)
      const b0 = await Promise.all(pages.map(trafficOf))
      const th0 = threadCpu(renderers)
      const c0 = await processCpu(sys)
      const s0 = performance.now()
      await sleep(o.idleSeconds * 1000)
      const c1 = await processCpu(sys)
      const th1 = threadCpu(renderers)
      const seconds = (performance.now() - s0) / 1000
      const b1 = await Promise.all(pages.map(trafficOf))
      await sys.detach().catch(() => {})
      const cpu = cpuDelta(c0, c1)
      const per = (f: (t: Awaited<ReturnType<typeof trafficOf>>) => number): number => summarize(b1.map((t, i) => (f(t) - f(b0[i])) / seconds).filter(x => Number.isFinite(x))).mean
      result.idle = {
        seconds,
        perTabCores: (cpu.renderer ?? 0) / n / seconds,
        browserProcessPerTabCores: (cpu.browser ?? 0) / n / seconds,
        perTabThreads: Object.fromEntries(Object.entries(cpuDelta(th0, th1)).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / n / seconds])),
        bytesPerTabPerSecond: {
          sent: per(t => t.rtcSent + t.wsSent),
          received: per(t => t.rtcReceived + t.wsReceived),
          rtcSent: per(t => t.rtcSent),
          wsSent: per(t => t.wsSent)
        }
      }
      o.log(`crowd ${n}: idle ${seconds.toFixed(0)} s: ${(100 * result.idle.perTabCores).toFixed(2)}% of a core per tab (browser process ${(100 * result.idle.browserProcessPerTabCores).toFixed(2)}% per tab), ${result.idle.bytesPerTabPerSecond.sent.toFixed(0)} B/s sent and ${result.idle.bytesPerTabPerSecond.received.toFixed(0)} B/s received per tab; threads ${Object.entries(result.idle.perTabThreads).slice(0, 5).map(([k, v]) => `${k} ${(100 * v).toFixed(2)}%`).join(', ')}`)
    }
    result.contributingAtEnd = (await Promise.all(pages.map(async p => await p.page.evaluate(() => window.crosscheck.stats()?.contributing === true).catch(() => false)))).filter(Boolean).length
    return result
  } finally {
    await closeAll(pages)
    await rm(dir, { recursive: true, force: true }).catch(() => {})
  }
}

/** Log-log slopes of the per-peer costs against N over the measured crowds. */
export function crowdSlopes (crowds: readonly CrowdResult[]): Record<'joinMedian' | 'linksMax' | 'idleCpu' | 'idleBytes', number> {
  const fit = (f: (c: CrowdResult) => number | undefined): number => growthExponent(crowds.map(c => ({ x: c.pages, y: f(c) ?? NaN })).filter(p => Number.isFinite(p.y)))
  return {
    joinMedian: fit(c => c.joinAfterLoad.median),
    // links per page are small integers and often 0 (a crowd idle of jobs): +1 keeps them on the log scale
    linksMax: fit(c => c.links.max + 1),
    idleCpu: fit(c => c.idle?.perTabCores),
    idleBytes: fit(c => c.idle?.bytesPerTabPerSecond.sent)
  }
}
