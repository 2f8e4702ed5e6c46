/**
 * `npm run swarm [-- --sizes 25,50,100,200 --pages 8]`: how the per-peer cost
 * of the crowd network grows with its size, measured on loopback with real
 * Crosscheck Node peers (createNode, onnxruntime-node, the tiny 'mlp' model),
 * many in this one process, and real Chromium contributor pages beside them.
 *
 * - `--relays` relays on 127.0.0.1 forming a backbone (each given the earlier
 *   relays' multiaddrs as `peers`);
 * - for each size N: grow the population to N, then churn for `--window`
 *   seconds (arrivals at N / `--lifetime` per second, exponential lifetimes
 *   with mean `--lifetime` s, about one departure in ten is a peer that just
 *   served a job) while a requester on both relays submits verified jobs
 *   (k=3, q=2) at `--rate` per second; then a quiet window of `--quiet`
 *   seconds (no jobs, no churn) for the idle costs. The quiet window defaults
 *   to 90 s, twice the 45 s lease renewal (DEFAULT_LEASE_RENEW_MS) and three
 *   times the relays' 30 s connection ping: a window that is a whole number
 *   of periods counts each peer's renewals and pings the same number of times
 *   whatever their phase (peers started in one batch renew together, so a
 *   shorter window swings with where their renewals fall);
 * - `--pages M`: contributor pages in Chromium (the app built into dist/ by
 *   `npm run build`, served here with its headers by vite preview; one
 *   browser context per page, so each is a visitor with its own identity),
 *   on every relay (`?relay=<ma>,<ma>`). M is the number of pages at the
 *   largest size; each size holds the same share, round(M × N / largest N)
 *   (at least one), and N counts them: N = Node peers + pages. A size's new
 *   pages arrive spread over its growth (at least 0.5 s apart, in step with
 *   the Node peers started), then stay for the whole run: pages do not churn
 *   (closing tabs is what `npm run soak` tests). Per size the pages are
 *   reported apart: join time from the page's load event to
 *   `stats().contributing` (in the page's own clock), direct links per page,
 *   and in the quiet window renderer CPU per tab (CDP
 *   `SystemInfo.getProcessInfo`), bytes per tab (WebRTC transport bytes and
 *   relay WebSocket frames, bench/browser.ts) and renderer memory per tab.
 *   Pages solve the page's default identity puzzle (16 bits), not
 *   `--identity-bits`: the page has no setting for it;
 * - stops growing when the machine cannot hold a size (a start fails, too few
 *   peers or pages join in time, event-loop lag, this process's memory or the
 *   machine's available memory over their bounds, or the time budget is
 *   spent) and says why;
 * - writes swarm/results.json and swarm/chart.svg and prints markdown tables
 *   (the crowd, then the pages) with the log-log slope of each per-peer cost
 *   against N.
 *
 * Bytes are counted as they are written to TCP sockets in this process
 * (net.Socket#write): everything here is on loopback, so each byte on the
 * wire is counted once, at its sender. Pages' bytes are counted at the page
 * (what it sends over WebRTC and on its relay WebSockets); what relays send
 * to pages is a socket write here. WebRTC between Node peers runs over UDP
 * in node-datachannel and is not in the Node figure. Peers, relays and the
 * requester share the process, so CPU and memory are process-wide figures
 * divided by N (or by reservations for the relays' share) — upper bounds,
 * stated as such; the totals add every Chromium process's CPU and divide by
 * Node peers + pages.
 */
import { parseArgs } from 'node:util'
import { Socket } from 'node:net'
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { totalmem } from 'node:os'
import { join as joinPath, resolve as resolvePath } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { startRelay } from '../src/network/relay.js'
import type { Relay, RelayStats } from '../src/network/relay.js'
import { DEFAULT_LEASE_RENEW_MS } from '../src/network/constants.js'
import { Outcomes, startNodes, startRequester, submitJobs } from '../src/reliability/harness.js'
import type { CrosscheckNode } from '../src/index.node.js'
import type { Browser, CDPSession } from 'playwright-core'
import { chromiumLaunchOptions } from '../e2e/fixtures/chromium.js'
import { cpuDelta, pageUrl, preparePages, processCpu, processList, threadCpu, trafficOf } from '../bench/browser.js'
import type { PeerPage } from '../bench/browser.js'

const { values } = parseArgs({
  options: {
    relays: { type: 'string', default: '2' },
    sizes: { type: 'string', default: '25,50,100,200' },
    window: { type: 'string', default: '60' },
    quiet: { type: 'string', default: String(2 * DEFAULT_LEASE_RENEW_MS / 1000) },
    lifetime: { type: 'string', default: '90' },
    rate: { type: 'string', default: '2' },
    replicas: { type: 'string', default: '3' },
    quorum: { type: 'string', default: '2' },
    timeout: { type: 'string', default: '20000' },
    'identity-bits': { type: 'string', default: '8' },
    'join-timeout': { type: 'string', default: '90' },
    'lag-limit': { type: 'string', default: '1000' },
    'mem-limit': { type: 'string', default: String(Math.round(totalmem() * 0.7 / 2 ** 20)) },
    // the pages live outside this process: the machine's available memory bounds them
    'min-free-mem': { type: 'string', default: String(Math.round(totalmem() * 0.1 / 2 ** 20)) },
    minutes: { type: 'string', default: '14' },
    pages: { type: 'string', default: '0' },
    out: { type: 'string', default: 'swarm' }
  }
})

const num = (name: keyof typeof values): number => {
  const n = Number(values[name])
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`)
  return n
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}
const round = (x: number, d = 2): number => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : NaN)

// ---- bytes on loopback ---------------------------------------------------------

let bytesWritten = 0
{
  // counted at the sender: on loopback every byte on the wire is written once
  const write = Socket.prototype.write as (this: Socket, ...args: unknown[]) => boolean
  Socket.prototype.write = function (this: Socket, ...args: unknown[]): boolean {
    const chunk = args[0]
    if (typeof chunk === 'string') bytesWritten += Buffer.byteLength(chunk)
    else if (chunk instanceof Uint8Array) bytesWritten += chunk.byteLength
    return write.apply(this, args)
  } as typeof Socket.prototype.write
}

// ---- the population ------------------------------------------------------------------

interface Peer {
  node: CrosscheckNode
  startedAt: number
  joinedAt?: number
  diesAt: number
  jobsDone: number
  lastJobSeenAt: number
  stopping: boolean
}

// ---- browser pages ---------------------------------------------------------------

/** Least time between two page arrivals (ms): visitors come one after another, not as one burst of navigations. */
const PAGE_ARRIVAL_GAP_MS = 500
/** How often the open pages' stats are read outside the quiet window (ms); not at all inside it. */
const PAGE_SAMPLE_MS = 2000

interface PageJoin {
  /** ms from the page's load event to "contributing" (null: not within --join-timeout). */
  afterLoadMs: number | null
  /** ms from navigation start to "contributing". */
  afterNavigationMs: number | null
  /** ms from navigation start to the load event. */
  loadMs: number | null
}

interface SwarmPage {
  /** Absent when no context or page could be made for it. */
  peer?: PeerPage
  /** The size during whose growth it arrived. */
  size: number
  join?: PageJoin
  /** Why it did not join (first line of the error). */
  error?: string
  /** Highest figures seen since they were last reset (each churn window). */
  linkedMax: number
  linksMax: number
  createdMax: number
  jobsDone: number
}

interface BrowserSide {
  url: string
  browser: Browser
  /** Browser-level CDP session: process list and CPU times. */
  sys: CDPSession
  stop: () => Promise<void>
}

/** Newest modification time under these paths (ms), skipping node_modules, dist folders and tests. */
function newestMtime (paths: string[]): number {
  let newest = 0
  for (const p of paths) {
    if (!existsSync(p)) continue
    const st = statSync(p)
    if (!st.isDirectory()) { newest = Math.max(newest, st.mtimeMs); continue }
    for (const f of readdirSync(p, { recursive: true }) as string[]) {
      // specs and test helpers are not in the build
      if (/(^|\/)(node_modules|dist[^/]*|testing)(\/|$)|\.spec\.ts$/.test(f)) continue
      try { newest = Math.max(newest, statSync(joinPath(p, f)).mtimeMs) } catch {}
    }
  }
  return newest
}

/** The built app served with its headers (vite preview, as `npm start` and the soak do), and Chromium to open it in. */
async function startBrowserSide (log: (msg: string) => void): Promise<BrowserSide> {
  const outDir = resolvePath(process.env.CROSSCHECK_OUT_DIR ?? 'dist')
  const index = resolvePath(outDir, 'index.html')
  if (!existsSync(index)) throw new Error(`--pages needs the built app in ${outDir}/ and there is none: run \`npm run build\` first, or pass --pages 0`)
  // a stale build measures yesterday's page: say so (the build is not made here, it may be under way elsewhere)
  if (newestMtime(['src', 'workers', 'index.html', 'vite.config.ts']) > statSync(index).mtimeMs) {
    log(`warning: sources changed after ${outDir}/ was built; the pages run the older build (\`npm run build\` to refresh it)`)
  }
  const { preview } = await import('vite')
  const server = await preview({ build: { outDir }, preview: { host: '127.0.0.1', port: 0, open: false }, logLevel: 'warn' })
  const url = server.resolvedUrls?.local[0]
  if (url == null) { await server.close(); throw new Error('the app server did not say where it listens') }
  const { chromium } = await import('playwright-core')
  let browser: Browser
  try {
    browser = await chromium.launch(chromiumLaunchOptions())
  } catch (err) {
    await server.close()
    throw new Error(`Chromium did not start (${String((err as Error)?.message ?? err).split('\n')[0]}): set CHROMIUM_PATH, or pass --pages 0`)
  }
  const sys = await browser.newBrowserCDPSession()
  return {
    url,
    browser,
    sys,
    stop: async () => {
      await sys.detach().catch(() => {})
      await browser.close().catch(() => {})
      await server.close().catch(() => {})
    }
  }
}

/** Opens one visitor's page and waits until it says "contributing" (or `timeoutMs` passes); times in the page's own clock. */
async function joinPage (p: SwarmPage & { peer: PeerPage }, url: string, timeoutMs: number): Promise<void> {
  const page = p.peer.page
  try {
    await page.goto(url, { timeout: timeoutMs, waitUntil: 'load' })
    // the predicate stamps the first moment it holds; it polls every 50 ms, so figures are late by up to 50 ms
    await page.waitForFunction(() => {
      const w = window as unknown as { __contributingAt?: number }
      if (w.__contributingAt == null && window.crosscheck?.stats()?.contributing === true) w.__contributingAt = performance.now()
      return w.__contributingAt != null
    }, undefined, { timeout: timeoutMs, polling: 50 })
    const at = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined
      return { contributing: (window as unknown as { __contributingAt: number }).__contributingAt, load: nav?.loadEventEnd ?? NaN, peerId: window.crosscheck.stats()?.peerId ?? '' }
    })
    p.peer.peerId = at.peerId
    p.join = { afterLoadMs: at.contributing - at.load, afterNavigationMs: at.contributing, loadMs: at.load }
  } catch (err) {
    p.error = String((err as Error)?.message ?? err).split('\n')[0]
    p.join = { afterLoadMs: null, afterNavigationMs: null, loadMs: null }
  }
}

/** Reads a page's links and jobs served into its maxima; a page that does not answer within 5 s keeps its figures. */
async function samplePage (p: SwarmPage & { peer: PeerPage }): Promise<void> {
  const read = p.peer.page.evaluate(() => {
    const s = window.crosscheck?.stats()
    return s == null ? undefined : { linked: s.linked, links: s.links.links, created: s.links.created, jobsDone: s.jobsDone }
  }).catch(() => undefined)
  const s = await Promise.race([read, sleep(5000).then(() => undefined)])
  if (s == null) return
  p.linkedMax = Math.max(p.linkedMax, s.linked)
  p.linksMax = Math.max(p.linksMax, s.links)
  p.createdMax = Math.max(p.createdMax, s.created)
  p.jobsDone = Math.max(p.jobsDone, s.jobsDone)
}

/** Resident memory of a process (bytes), from /proc: all of it (VmRSS, shared pages included) and its private anonymous part (RssAnon); 0 where it cannot be read. */
function memOf (pid: number): { rss: number, anon: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024
    return { rss: kb('VmRSS'), anon: kb('RssAnon') }
  } catch {
    return { rss: 0, anon: 0 }
  }
}

/** Memory the machine can still give (MemAvailable, bytes); Infinity where /proc/meminfo cannot be read. */
function availableMemory (): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))
    return m != null ? Number(m[1]) * 1024 : Infinity
  } catch {
    return Infinity
  }
}

interface PagesResult {
  /** Pages open at this size (they count in N), and how many of them arrived during its growth. */
  open: number
  arrived: number
  /** Join of the pages that arrived at this size: page load event → contributing (ms). */
  join: { count: number, p50: number, p95: number, max: number, notJoined: number, loadP50: number, errors: string[] }
  /** Direct links per page during the churn window (max over pages and samples): stats().linked and stats().links.links. */
  linkedMaxPerPage: number
  linksMaxPerPage: number
  /** RTCPeerConnections a page created in its life so far (max over pages). */
  createdMaxPerPage: number
  /** Replicas served by pages during this size (sum of the rise in stats().jobsDone). */
  jobsServed: number
  idle?: {
    seconds: number
    /** Renderer processes' CPU (their workers included) / open pages, % of a core. */
    cpuPercentPerTab: number
    /** The browser process's CPU / open pages, % of a core (the network service runs in it or beside it). */
    browserProcessCpuPercentPerTab: number
    /** Every Chromium process's CPU over the window, % of a core (all tabs together). */
    allProcessesCpuPercent: number
    /** Renderer threads' CPU per tab, by thread name, % of a core (the five busiest). */
    threadsPercentPerTab: Record<string, number>
    /** Bytes per tab per second, mean over the pages that answered: sent (WebRTC + relay WebSocket), received, and the sent parts. */
    bytesPerSecPerTab: { sent: number, received: number, rtcSent: number, wsSent: number }
    /** Renderer processes' memory / open pages (MiB): VmRSS counts shared pages (libraries, the wasm file) in every process, RssAnon is each tab's own. */
    rendererMemMiBPerTab: { rss: number, anon: number }
    /** Renderer processes Chromium ran (a spare one may be among them). */
    renderers: number
    contributingAtEnd: number
  }
}

interface SizeResult {
  n: number
  population: { min: number, max: number, mean: number }
  rampSeconds: number
  join: { count: number, p50: number, p95: number, max: number, churnP50: number, notJoined: number }
  linksMaxPerPeer: number
  linksMeanPerPeer: number
  requesterLinksMax: number
  churn: { arrivals: number, departures: number, midJobStops: number, startFailures: number }
  idle: {
    seconds: number
    /** This process's CPU plus every Chromium process's, / (Node peers + pages). */
    cpuPercentPerPeer: number
    /** Socket writes here plus what the pages sent, / (Node peers + pages). */
    bytesPerSecPerPeer: number
    /** This process alone / Node peers (the figure before pages; the same as the totals without --pages). */
    node: { cpuPercentPerPeer: number, bytesPerSecPerPeer: number }
    /** The requester's direct links when the window began and ended (its links close after 60 s idle, inside the window). */
    requesterLinks: { atStart: number, atEnd: number }
    directoryRequestsPerSecPerPeer: number
    backboneMessagesPerSecPerPeer: number
    rssMiBPerPeer: number
    relayCpuPercentPerReservation: number
    relayRssKiBPerReservation: number
    reservations: number
    leases: Array<{ own: number, total: number }>
  }
  directoryQueryMs: { count: number, p50: number, p95: number, sampleSizeMean: number }
  jobs: ReturnType<Outcomes['toJSON']> & { acceptedMsP50: number }
  eventLoopLagMs: { p99: number, max: number }
  rssMiB: number
  /** Node peers and pages at this size's target (N = nodes + pages). */
  nodes: number
  pages: PagesResult | null
}

async function main (): Promise<number> {
  const t0 = Date.now()
  const deadline = t0 + num('minutes') * 60_000
  const log = (msg: string): void => { process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`) }
  const sizes = String(values.sizes).split(',').map(Number).filter(n => Number.isInteger(n) && n > 0)
  const pageShare = num('pages')
  const largest = Math.max(0, ...sizes)
  // the same share of pages at every size, at least one, never more than the size
  const pagesAt = (n: number): number => (pageShare > 0 ? Math.min(n, Math.max(1, Math.round(pageShare * n / largest))) : 0)
  const bits = num('identity-bits')
  const lifetimeMs = num('lifetime') * 1000
  const windowMs = num('window') * 1000
  const quietMs = num('quiet') * 1000
  const timeout = num('timeout')
  const grace = 10_000
  const lagLimit = num('lag-limit')
  const memLimit = num('mem-limit') * 2 ** 20
  const minFreeMem = num('min-free-mem') * 2 ** 20
  const joinTimeoutMs = num('join-timeout') * 1000
  if (quietMs < DEFAULT_LEASE_RENEW_MS) log(`warning: --quiet ${quietMs / 1000} s is shorter than the ${DEFAULT_LEASE_RENEW_MS / 1000} s lease renewal: idle bytes then depend on where renewals fall`)
  const side = pageShare > 0 ? await startBrowserSide(log) : undefined
  if (side != null) {
    cleanups.push(side.stop)
    log(`pages: ${sizes.map(n => `${pagesAt(n)} of ${n}`).join(', ')}; app at ${side.url}`)
  }

  const relays: Relay[] = []
  for (let i = 0; i < Math.max(1, num('relays')); i++) {
    relays.push(await startRelay({ host: '127.0.0.1', port: 0, peers: relays.flatMap(r => r.multiaddrs) }))
  }
  const relayAddrs = relays.map(r => r.multiaddrs[0])
  log(`${relays.length} relays: ${relayAddrs.join(' ')}`)
  const init = { identityCostBits: bits }
  const requester = await startRequester(relayAddrs, { init })

  const lag = monitorEventLoopDelay({ resolution: 20 })
  lag.enable()
  const live: Peer[] = []
  const joins: Array<{ ms: number, churn: boolean }> = []
  const stopping: Array<Promise<void>> = []
  // churn arrivals still starting: the quiet window must not begin before they are up
  const starting = new Set<Promise<void>>()
  let churnCounts = { arrivals: 0, departures: 0, midJobStops: 0, startFailures: 0 }
  let startErrors: string[] = []
  let pausedAt = Date.now()
  let churning = false
  const expLifetime = (): number => -Math.log(1 - Math.random()) * lifetimeMs

  const spawn = async (churn: boolean): Promise<void> => {
    const startedAt = Date.now()
    try {
      const [node] = await startNodes(relayAddrs, 1, { announceInterval: DEFAULT_LEASE_RENEW_MS, init })
      const p: Peer = { node, startedAt, diesAt: (churning ? Date.now() : pausedAt) + expLifetime(), jobsDone: 0, lastJobSeenAt: 0, stopping: false }
      live.push(p)
      if (churn) churnCounts.arrivals++
      ;(p as Peer & { churn?: boolean }).churn = churn
    } catch (err) {
      churnCounts.startFailures++
      if (startErrors.length < 5) startErrors.push(String((err as Error)?.message ?? err))
    }
  }
  const depart = (p: Peer, midJob: boolean): void => {
    if (p.stopping) return
    p.stopping = true
    live.splice(live.indexOf(p), 1)
    churnCounts.departures++
    if (midJob) churnCounts.midJobStops++
    stopping.push(p.node.stop().catch(() => {}))
  }

  // one sampler for joins, jobs served, links; runs all along
  let linkMax = 0
  let linkSum = 0
  let linkSamples = 0
  let reqLinkMax = 0
  const sample = (): void => {
    const now = Date.now()
    for (const p of live) {
      const s = p.node.stats()
      if (p.joinedAt == null && s.contributing) {
        p.joinedAt = now
        joins.push({ ms: now - p.startedAt, churn: (p as Peer & { churn?: boolean }).churn === true })
      }
      if (s.jobsDone > p.jobsDone) { p.jobsDone = s.jobsDone; p.lastJobSeenAt = now }
      linkMax = Math.max(linkMax, s.links.links)
      linkSum += s.links.links
      linkSamples++
    }
    reqLinkMax = Math.max(reqLinkMax, requester.stats().links.links)
  }
  let sampling = true
  const sampler = (async () => { while (sampling) { sample(); await sleep(250) } })()

  // pages: arrivals at least PAGE_ARRIVAL_GAP_MS apart, each joining on its own (the growth does not wait for it)
  const pages: SwarmPage[] = []
  const pageArrivals: Array<Promise<void>> = []
  let lastArrivalAt = 0
  const arrivePage = (size: number): void => {
    if (side == null) return
    const at = Math.max(Date.now(), lastArrivalAt + PAGE_ARRIVAL_GAP_MS)
    lastArrivalAt = at
    pageArrivals.push((async () => {
      await sleep(at - Date.now())
      let peer: PeerPage
      try {
        [peer] = await preparePages(side.browser, 1)
      } catch (err) {
        // no context or page: the browser is gone or out of room; counted as a page that did not join
        pages.push({ size, error: `no page: ${String((err as Error)?.message ?? err).split('\n')[0]}`, join: { afterLoadMs: null, afterNavigationMs: null, loadMs: null }, linkedMax: 0, linksMax: 0, createdMax: 0, jobsDone: 0 })
        return
      }
      const p: SwarmPage & { peer: PeerPage } = { peer, size, linkedMax: 0, linksMax: 0, createdMax: 0, jobsDone: 0 }
      pages.push(p)
      await joinPage(p, pageUrl(side.url, relayAddrs.join(',')), joinTimeoutMs)
      if (p.join?.afterLoadMs != null) log(`page ${pages.indexOf(p) + 1} contributing ${(p.join.afterLoadMs / 1000).toFixed(2)} s after its load (load took ${((p.join.loadMs ?? NaN) / 1000).toFixed(2)} s)`)
      else log(`page ${pages.indexOf(p) + 1} did not join: ${p.error ?? ''}`)
    })())
  }
  const openPages = (): Array<SwarmPage & { peer: PeerPage }> => pages.filter((p): p is SwarmPage & { peer: PeerPage } => p.peer != null)
  // links and jobs served by the pages, every PAGE_SAMPLE_MS, but never in the quiet window (reading a page costs its CPU)
  let pageSampling = side != null
  let pageSamplingPaused = false
  let pageSampleInFlight: Promise<unknown> = Promise.resolve()
  const pageSampler = (async () => {
    while (pageSampling) {
      if (!pageSamplingPaused) {
        pageSampleInFlight = Promise.all(openPages().filter(p => p.join?.afterLoadMs != null).map(samplePage))
        await pageSampleInFlight
      }
      await sleep(PAGE_SAMPLE_MS)
    }
  })()

  const relayTotals = (): { requests: number, backbone: number, reservations: number } => {
    const all: RelayStats[] = relays.map(r => r.stats())
    return {
      requests: all.reduce((a, s) => a + s.requests.lease + s.requests.sample + s.requests.leave + s.requests.bad, 0),
      backbone: all.reduce((a, s) => a + s.backboneMessages, 0),
      reservations: all.reduce((a, s) => a + s.reservations, 0)
    }
  }

  const results: SizeResult[] = []
  let gaveOut: { n: number, reason: string } | undefined
  const overBounds = (): string | undefined => {
    const rss = process.memoryUsage().rss
    if (rss > memLimit) return `memory: rss ${Math.round(rss / 2 ** 20)} MiB over the bound of ${Math.round(memLimit / 2 ** 20)} MiB`
    const free = availableMemory()
    if (free < minFreeMem) return `machine memory: ${Math.round(free / 2 ** 20)} MiB available, under the floor of ${Math.round(minFreeMem / 2 ** 20)} MiB (--min-free-mem)`
    const p99 = lag.percentile(99) / 1e6
    if (p99 > lagLimit) return `event-loop lag: p99 ${Math.round(p99)} ms over the bound of ${lagLimit} ms`
    return undefined
  }

  for (const [si, n] of sizes.entries()) {
    // will this size fit in the time left? (a rough guess from the last one, scaled by N)
    const last = results.at(-1)
    const guess = windowMs + quietMs + timeout + grace + (last != null ? last.rampSeconds * 1000 * (n - last.n) / Math.max(1, last.n - (results.at(-2)?.n ?? 0)) : 30_000)
    if (Date.now() + guess > deadline) { gaveOut = { n, reason: `time: about ${Math.round(guess / 1000)} s needed, ${Math.round((deadline - Date.now()) / 1000)} s left of --minutes ${num('minutes')}` }; break }
    const pageTarget = Math.max(pagesAt(n), pages.length)
    const nodeTarget = n - pageTarget
    log(`size ${n}: growing from ${live.length} Node peers${side != null ? ` and ${pages.length} pages to ${nodeTarget} and ${pageTarget}` : ''}`)
    churnCounts = { arrivals: 0, departures: 0, midJobStops: 0, startFailures: 0 }
    startErrors = []
    joins.length = 0
    lag.reset()
    const rampT0 = Date.now()
    // grow in small batches, checking the bounds between them; the new pages
    // arrive in step with the Node peers started (page j of k once j/k of them are)
    let bound: string | undefined
    const pagesFirst = pages.length
    const pagesToOpen = Math.max(0, pageTarget - pages.length)
    const nodesToStart = Math.max(0, nodeTarget - live.length)
    let pagesOpened = 0
    let nodesStarted = 0
    const pagesDue = (): void => {
      for (; pagesOpened < pagesToOpen && (nodesToStart === 0 || pagesOpened / pagesToOpen <= nodesStarted / nodesToStart); pagesOpened++) arrivePage(n)
    }
    pagesDue()
    while (live.length < nodeTarget && bound == null) {
      const batch = Math.min(10, nodeTarget - live.length)
      const failuresBefore = churnCounts.startFailures
      await Promise.all(Array.from({ length: batch }, async () => { await spawn(false) }))
      nodesStarted += batch
      pagesDue()
      if (churnCounts.startFailures - failuresBefore === batch) bound = `start: ${batch} peers failed to start (${startErrors[0] ?? ''})`
      bound ??= overBounds()
    }
    const joinBy = Date.now() + joinTimeoutMs
    while (bound == null && live.filter(p => p.joinedAt != null).length < 0.9 * nodeTarget) {
      if (Date.now() > joinBy) { bound = `join: only ${live.filter(p => p.joinedAt != null).length} of ${live.length} peers contributing ${num('join-timeout')} s after the last start`; break }
      await sleep(250)
    }
    // each page gives up on its own after --join-timeout, so this wait is bounded
    if (bound == null) {
      for (; pagesOpened < pagesToOpen; pagesOpened++) arrivePage(n)
      await Promise.all(pageArrivals.splice(0))
      const fresh = pages.slice(pagesFirst)
      const joinedNow = fresh.filter(p => p.join?.afterLoadMs != null).length
      if (joinedNow < 0.9 * fresh.length) bound = `page join: only ${joinedNow} of ${fresh.length} new pages contributing within ${num('join-timeout')} s of their navigation (${fresh.find(p => p.error != null)?.error ?? ''})`
      bound ??= overBounds()
    }
    const rampSeconds = (Date.now() - rampT0) / 1000
    if (bound != null) { gaveOut = { n, reason: bound }; log(`size ${n} gave out: ${bound}`); break }
    log(`size ${n}: ${live.length} peers up, ${live.filter(p => p.joinedAt != null).length} contributing${side != null ? `, ${pages.filter(p => p.join?.afterLoadMs != null).length} of ${pages.length} pages contributing` : ''} after ${rampSeconds.toFixed(1)} s`)

    // ---- churn and jobs ---------------------------------------------------------
    linkMax = 0; linkSum = 0; linkSamples = 0; reqLinkMax = 0
    for (const p of pages) { p.linkedMax = 0; p.linksMax = 0; p.createdMax = 0 }
    const pageJobsBefore = pages.reduce((a, p) => a + p.jobsDone, 0)
    lag.reset()
    const outcomes = new Outcomes()
    const jobs: Array<Promise<void>> = []
    const queries: number[] = []
    const sampleSizes: number[] = []
    const pop: number[] = []
    // lifetimes run only while churn does: push back the deaths that fell due while it was paused
    const resumedAt = Date.now()
    for (const p of live) p.diesAt += resumedAt - pausedAt
    const windowEnd = resumedAt + windowMs
    churning = true
    let arrivalDebt = 0
    let nextJob = Date.now()
    let nextQuery = Date.now()
    let lastTick = Date.now()
    while (Date.now() < windowEnd) {
      const now = Date.now()
      // only Node peers churn: their arrivals keep their own share of N
      arrivalDebt += (now - lastTick) * nodeTarget / lifetimeMs
      lastTick = now
      for (; arrivalDebt >= 1; arrivalDebt--) {
        const s = spawn(true).finally(() => { starting.delete(s) })
        starting.add(s)
      }
      for (const p of [...live]) {
        if (p.diesAt > now) continue
        // every tenth departure: a peer that served a job in the last 2 s goes instead (closed mid-job)
        const serving = live.filter(q => now - q.lastJobSeenAt < 2000 && !q.stopping)
        if ((churnCounts.departures + 1) % 10 === 0 && serving.length > 0) {
          depart(serving[Math.floor(Math.random() * serving.length)], true)
          p.diesAt = now + expLifetime()
        } else depart(p, false)
      }
      while (nextJob <= now) {
        nextJob += 1000 / num('rate')
        jobs.push(submitJobs(requester, 1, { replicas: num('replicas'), quorum: num('quorum'), timeout, grace }).then(o => { outcomes.merge(o) }))
      }
      if (nextQuery <= now) {
        nextQuery = now + 2000
        const q0 = performance.now()
        const found = await requester.findContributors().catch(() => [] as string[])
        queries.push(performance.now() - q0)
        sampleSizes.push(found.length)
      }
      pop.push(live.length + openPages().length)
      await sleep(100)
    }
    pausedAt = Date.now()
    churning = false
    const windowLag = { p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 }
    const joinsSnapshot = [...joins]
    const linksSnapshot = { max: linkMax, mean: linkSamples > 0 ? linkSum / linkSamples : 0, req: reqLinkMax }
    const churnSnapshot = { ...churnCounts }
    log(`size ${n}: window over, ${jobs.length} jobs submitted, waiting for them to end`)
    await Promise.all(jobs)
    await Promise.all(stopping.splice(0))
    // the last arrivals' starts (their puzzle, their first lease) belong to the churn, not to the idle figures
    await Promise.all([...starting])
    for (const by = Date.now() + joinTimeoutMs; Date.now() < by && !live.every(p => p.joinedAt != null);) await sleep(250)
    // one last reading of the pages' links and jobs, then they are left alone until the window ends
    pageSamplingPaused = true
    await pageSampleInFlight
    await Promise.all(openPages().filter(p => p.join?.afterLoadMs != null).map(samplePage))
    const pageJobsServed = pages.reduce((a, p) => a + p.jobsDone, 0) - pageJobsBefore
    const pageLinks = { linked: Math.max(0, ...pages.map(p => p.linkedMax)), links: Math.max(0, ...pages.map(p => p.linksMax)), created: Math.max(0, ...pages.map(p => p.createdMax)) }

    // ---- quiet: no jobs, no churn --------------------------------------------------
    await sleep(2000)
    const tabs = openPages()
    const renderers = side != null ? (await processList(side.sys)).filter(p => p.type === 'renderer').map(p => p.id) : []
    const pt0 = await Promise.all(tabs.map(async p => await trafficOf(p.peer)))
    const th0 = threadCpu(renderers)
    const pc0 = side != null ? await processCpu(side.sys) : {}
    const ps0 = Date.now()
    const reqLinksAtStart = requester.stats().links.links
    const r0 = relayTotals()
    const b0 = bytesWritten
    const c0 = process.cpuUsage()
    const q0 = Date.now()
    await sleep(quietMs)
    const secs = (Date.now() - q0) / 1000
    const c1 = process.cpuUsage(c0)
    const r1 = relayTotals()
    const b1 = bytesWritten
    const reqLinksAtEnd = requester.stats().links.links
    // the pages' end readings after this process's: reading a page costs CPU that is not the page's own
    const pc1 = side != null ? await processCpu(side.sys) : {}
    const th1 = threadCpu(renderers)
    const pageSecs = (Date.now() - ps0) / 1000
    const pt1 = await Promise.all(tabs.map(async p => await trafficOf(p.peer)))
    const rendererMem = renderers.map(memOf)
    const contributingAtEnd = (await Promise.all(tabs.map(async p => await p.peer.page.evaluate(() => window.crosscheck?.stats()?.contributing === true).catch(() => false)))).filter(Boolean).length
    pageSamplingPaused = false
    const mem = process.memoryUsage()
    const peers = Math.max(1, live.length)
    const allPeers = Math.max(1, live.length + tabs.length)
    const cpuPct = (c1.user + c1.system) / 1e6 / secs * 100
    const reservations = Math.max(1, r1.reservations)
    const pageCpu = cpuDelta(pc0, pc1)
    const chromiumCpuPct = Object.values(pageCpu).reduce((a, b) => a + b, 0) / pageSecs * 100
    const perTab = (f: (t: Awaited<ReturnType<typeof trafficOf>>) => number): number => {
      const xs = pt1.map((t, i) => (f(t) - f(pt0[i])) / pageSecs).filter(x => Number.isFinite(x))
      return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN
    }
    const pagesSent = pt1.map((t, i) => t.rtcSent + t.wsSent - pt0[i].rtcSent - pt0[i].wsSent).filter(x => Number.isFinite(x)).reduce((a, b) => a + b, 0)
    const fresh = pages.filter(p => p.size === n)
    const freshJoins = fresh.map(p => p.join?.afterLoadMs).filter((x): x is number => x != null)
    const pagesResult: PagesResult | null = side == null
      ? null
      : {
          open: tabs.length,
          arrived: fresh.length,
          join: {
            count: freshJoins.length,
            p50: round(quantile(freshJoins, 0.5), 0),
            p95: round(quantile(freshJoins, 0.95), 0),
            max: freshJoins.length > 0 ? round(Math.max(...freshJoins), 0) : NaN,
            notJoined: fresh.length - freshJoins.length,
            loadP50: round(quantile(fresh.map(p => p.join?.loadMs).filter((x): x is number => x != null), 0.5), 0),
            errors: fresh.map(p => p.error).filter((e): e is string => e != null).slice(0, 3)
          },
          linkedMaxPerPage: pageLinks.linked,
          linksMaxPerPage: pageLinks.links,
          createdMaxPerPage: pageLinks.created,
          jobsServed: pageJobsServed,
          ...(tabs.length > 0
            ? {
                idle: {
                  seconds: round(pageSecs, 1),
                  cpuPercentPerTab: round((pageCpu.renderer ?? 0) / tabs.length / pageSecs * 100, 3),
                  browserProcessCpuPercentPerTab: round((pageCpu.browser ?? 0) / tabs.length / pageSecs * 100, 3),
                  allProcessesCpuPercent: round(chromiumCpuPct, 3),
                  threadsPercentPerTab: Object.fromEntries(Object.entries(cpuDelta(th0, th1)).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => [k, round(v / tabs.length / pageSecs * 100, 3)])),
                  bytesPerSecPerTab: {
                    sent: round(perTab(t => t.rtcSent + t.wsSent), 1),
                    received: round(perTab(t => t.rtcReceived + t.wsReceived), 1),
                    rtcSent: round(perTab(t => t.rtcSent), 1),
                    wsSent: round(perTab(t => t.wsSent), 1)
                  },
                  rendererMemMiBPerTab: {
                    rss: round(rendererMem.reduce((a, m) => a + m.rss, 0) / 2 ** 20 / tabs.length, 1),
                    anon: round(rendererMem.reduce((a, m) => a + m.anon, 0) / 2 ** 20 / tabs.length, 1)
                  },
                  renderers: renderers.length,
                  contributingAtEnd
                }
              }
            : {})
        }
    const res: SizeResult = {
      n,
      population: { min: Math.min(...pop), max: Math.max(...pop), mean: round(pop.reduce((a, b) => a + b, 0) / Math.max(1, pop.length), 1) },
      rampSeconds: round(rampSeconds, 1),
      join: {
        count: joinsSnapshot.length,
        p50: quantile(joinsSnapshot.map(j => j.ms), 0.5),
        p95: quantile(joinsSnapshot.map(j => j.ms), 0.95),
        max: Math.max(...joinsSnapshot.map(j => j.ms)),
        churnP50: quantile(joinsSnapshot.filter(j => j.churn).map(j => j.ms), 0.5),
        notJoined: live.filter(p => p.joinedAt == null).length
      },
      linksMaxPerPeer: linksSnapshot.max,
      linksMeanPerPeer: round(linksSnapshot.mean),
      requesterLinksMax: linksSnapshot.req,
      churn: churnSnapshot,
      idle: {
        seconds: round(secs, 1),
        cpuPercentPerPeer: round((cpuPct + chromiumCpuPct) / allPeers, 3),
        bytesPerSecPerPeer: round(((b1 - b0) / secs + pagesSent / pageSecs) / allPeers, 1),
        node: { cpuPercentPerPeer: round(cpuPct / peers, 3), bytesPerSecPerPeer: round((b1 - b0) / secs / peers, 1) },
        requesterLinks: { atStart: reqLinksAtStart, atEnd: reqLinksAtEnd },
        // pages lease themselves at the relays too
        directoryRequestsPerSecPerPeer: round((r1.requests - r0.requests) / secs / allPeers, 4),
        backboneMessagesPerSecPerPeer: round((r1.backbone - r0.backbone) / secs / allPeers, 4),
        rssMiBPerPeer: round(mem.rss / 2 ** 20 / peers),
        relayCpuPercentPerReservation: round(cpuPct / reservations, 3),
        relayRssKiBPerReservation: round(mem.rss / 1024 / reservations, 0),
        reservations: r1.reservations,
        leases: relays.map(r => r.stats().leases)
      },
      directoryQueryMs: { count: queries.length, p50: round(quantile(queries, 0.5), 1), p95: round(quantile(queries, 0.95), 1), sampleSizeMean: round(sampleSizes.reduce((a, b) => a + b, 0) / Math.max(1, sampleSizes.length), 1) },
      jobs: { ...outcomes.toJSON(), ms: [], acceptedMsP50: quantile(outcomes.ms, 0.5) },
      eventLoopLagMs: { p99: round(windowLag.p99, 0), max: round(windowLag.max, 0) },
      rssMiB: Math.round(mem.rss / 2 ** 20),
      nodes: live.length,
      pages: pagesResult
    }
    results.push(res)
    log(`size ${n}: accepted ${res.jobs.accepted}/${res.jobs.submitted}, lost ${res.jobs.lost}, failed ${JSON.stringify(res.jobs.failed)}; idle ${res.idle.cpuPercentPerPeer}% CPU/peer, ${res.idle.bytesPerSecPerPeer} B/s/peer over ${res.idle.seconds} s`)
    const pi = pagesResult?.idle
    if (pi != null) log(`size ${n}: pages ${pagesResult?.open}: ${pi.cpuPercentPerTab}% of a core per tab (browser process ${pi.browserProcessCpuPercentPerTab}% per tab), ${pi.bytesPerSecPerTab.sent} B/s sent and ${pi.bytesPerSecPerTab.received} B/s received per tab; ${pagesResult?.jobsServed} replicas served by pages; threads ${Object.entries(pi.threadsPercentPerTab).map(([k, v]) => `${k} ${v}%`).join(', ')}`)
    const after = overBounds()
    if (after != null && si < sizes.length - 1) { gaveOut = { n: sizes[si + 1], reason: `after size ${n}, ${after}` }; break }
  }

  sampling = false
  pageSampling = false
  await Promise.all([sampler, pageSampler])
  await Promise.all(pageArrivals.splice(0))
  if (pages.length > 0) log(`closing ${openPages().length} pages`)
  await Promise.all(openPages().map(async p => { await p.peer.ctx.close().catch(() => {}) }))
  log(`stopping ${live.length} peers`)
  for (const p of [...live]) depart(p, false)
  await Promise.race([Promise.all(stopping), sleep(30_000)])
  await requester.stop().catch(() => {})
  await Promise.all(relays.map(async r => { await r.stop().catch(() => {}) }))
  lag.disable()

  // ---- slopes, files, table ----------------------------------------------------------
  const metrics: Array<{ key: string, label: string, get: (r: SizeResult) => number }> = [
    { key: 'joinP50', label: 'join p50 (ms)', get: r => r.join.p50 },
    { key: 'joinP95', label: 'join p95 (ms)', get: r => r.join.p95 },
    { key: 'linksMax', label: 'links/peer max', get: r => r.linksMaxPerPeer },
    { key: 'idleBytes', label: 'idle B/s/peer', get: r => r.idle.bytesPerSecPerPeer },
    { key: 'idleCpu', label: 'idle CPU %/peer', get: r => r.idle.cpuPercentPerPeer },
    { key: 'dirReq', label: 'dir req/s/peer', get: r => r.idle.directoryRequestsPerSecPerPeer },
    { key: 'relayRss', label: 'relay KiB/reservation', get: r => r.idle.relayRssKiBPerReservation },
    { key: 'queryP50', label: 'directory query p50 (ms)', get: r => r.directoryQueryMs.p50 },
    { key: 'queryP95', label: 'directory query p95 (ms)', get: r => r.directoryQueryMs.p95 },
    ...(side != null
      ? [
          { key: 'idleBytesNode', label: 'idle B/s/Node peer', get: (r: SizeResult) => r.idle.node.bytesPerSecPerPeer },
          { key: 'idleCpuNode', label: 'idle CPU %/Node peer', get: (r: SizeResult) => r.idle.node.cpuPercentPerPeer },
          { key: 'pageJoinP50', label: 'page join p50 (ms)', get: (r: SizeResult) => r.pages?.join.p50 ?? NaN },
          { key: 'pageJoinP95', label: 'page join p95 (ms)', get: (r: SizeResult) => r.pages?.join.p95 ?? NaN },
          { key: 'pageLinksMax', label: 'links/page max', get: (r: SizeResult) => r.pages?.linksMaxPerPage ?? NaN },
          { key: 'pageIdleCpu', label: 'idle CPU %/tab', get: (r: SizeResult) => r.pages?.idle?.cpuPercentPerTab ?? NaN },
          { key: 'pageIdleBytes', label: 'idle B/s/tab', get: (r: SizeResult) => r.pages?.idle?.bytesPerSecPerTab.sent ?? NaN }
        ]
      : [])
  ]
  const slopes: Record<string, number | null> = {}
  for (const m of metrics) {
    const pts = results.map(r => [Math.log(r.n), Math.log(m.get(r))] as const).filter(([, y]) => Number.isFinite(y))
    slopes[m.key] = pts.length >= 2 ? round(leastSquaresSlope(pts), 2) : null
  }
  const out = String(values.out)
  mkdirSync(out, { recursive: true })
  const report = {
    when: new Date().toISOString(),
    command: `npm run swarm -- ${process.argv.slice(2).join(' ')}`.trim(),
    settings: { relays: relays.length, sizes, pages: sizes.map(pagesAt), windowS: windowMs / 1000, quietS: quietMs / 1000, lifetimeMeanS: lifetimeMs / 1000, jobsPerSecond: num('rate'), replicas: num('replicas'), quorum: num('quorum'), jobTimeoutMs: timeout, identityCostBits: bits, leaseRenewMs: DEFAULT_LEASE_RENEW_MS, lagLimitMs: lagLimit, memLimitMiB: Math.round(memLimit / 2 ** 20), minFreeMemMiB: Math.round(minFreeMem / 2 ** 20), joinTimeoutS: joinTimeoutMs / 1000 },
    method: {
      bytes: 'bytes written to TCP sockets in this process (net.Socket#write) during the quiet window, plus the bytes the pages sent (WebRTC transport bytes and relay WebSocket frame payloads), divided by seconds and by live peers (Node peers + pages); on loopback each wire byte is written once, by its sender, so relays, backbone and requester traffic are included; WebRTC between Node peers (UDP, node-datachannel) is not. idle.node: this process alone / Node peers',
      cpu: 'process.cpuUsage() delta over the quiet window plus every Chromium process\'s CPU (CDP SystemInfo.getProcessInfo), / seconds / (Node peers + pages) (peers, relays and the requester share this process: an upper bound per peer). idle.node: this process alone / Node peers',
      quiet: `the quiet window (${quietMs / 1000} s) starts 2 s after the last job ended, the departed peers stopped and the last arrivals joined; it covers ${round(quietMs / DEFAULT_LEASE_RENEW_MS, 2)} lease renewals (${DEFAULT_LEASE_RENEW_MS / 1000} s) and ${round(quietMs / 30_000, 2)} relay pings (30 s) per peer; the requester's links close after 60 s idle, which may fall inside it (idle.requesterLinks)`,
      pages: 'M = --pages at the largest size, round(M × N / largest) (at least 1) at each size, counted in N; a size\'s new pages arrive during its growth at least 0.5 s apart and stay to the end (no page churn). join: load event → stats().contributing, in the page\'s clock, for the pages that arrived at that size; links: stats().linked and stats().links every 2 s in the churn window; idle: renderer processes\' CPU / open pages, bytes sent per tab (WebRTC transport + relay WebSocket frames, mean over pages), renderer VmRSS and RssAnon / pages; pages are not read during the quiet window. Pages solve the page\'s default 16-bit identity puzzle',
      relay: 'process rss and CPU divided by the relays\' reservations (the peers share the process too: an upper bound)',
      join: 'createNode start → stats().contributing true, sampled every 250 ms, for peers started during the ramp and the churn window of that size',
      links: 'stats().links.links of every live peer, sampled every 250 ms during the churn window',
      churn: 'no churn and no jobs in the quiet window; mid-job stops are orderly node.stop() of a peer whose jobsDone rose in the last 2 s'
    },
    results,
    slopes,
    gaveOut: gaveOut ?? null,
    elapsedS: round((Date.now() - t0) / 1000, 0)
  }
  writeFileSync(`${out}/results.json`, JSON.stringify(report, null, 2) + '\n')
  writeFileSync(`${out}/chart.svg`, chart(results, metrics.filter(m => ['joinP50', 'linksMax', 'idleBytes', 'idleCpu', 'relayRss', 'queryP50', 'pageJoinP50', 'pageIdleCpu', 'pageIdleBytes'].includes(m.key)), slopes))

  const f = (x: number, d = 1): string => (Number.isFinite(x) ? String(round(x, d)) : '–')
  const lines = [
    '| N | pop min–max | join p50 / p95 / max (ms) | links/peer max (mean) | idle B/s/peer | idle CPU %/peer | dir req/s/peer | relay KiB / %CPU per reservation | dir query p50 / p95 (ms) | jobs accepted / failed / lost | lag p99 (ms) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(r => `| ${r.n} | ${r.population.min}–${r.population.max} | ${f(r.join.p50, 0)} / ${f(r.join.p95, 0)} / ${f(r.join.max, 0)} | ${r.linksMaxPerPeer} (${f(r.linksMeanPerPeer, 2)}) | ${f(r.idle.bytesPerSecPerPeer)} | ${f(r.idle.cpuPercentPerPeer, 3)} | ${f(r.idle.directoryRequestsPerSecPerPeer, 4)} | ${f(r.idle.relayRssKiBPerReservation, 0)} / ${f(r.idle.relayCpuPercentPerReservation, 3)} | ${f(r.directoryQueryMs.p50)} / ${f(r.directoryQueryMs.p95)} | ${r.jobs.accepted}/${r.jobs.submitted} / ${Object.entries(r.jobs.failed).map(([k, v]) => `${k} ${v}`).join(', ') || '0'} / ${r.jobs.lost} | ${r.eventLoopLagMs.p99} |`),
    ...(side != null
      ? [
          '',
          'Pages (Chromium contributor tabs, counted in N):',
          '',
          '| N | Node peers + pages (new) | page join after load p50 / p95 / max (ms) | not joined | links/page max (linked) | idle CPU %/tab (browser proc) | idle B/s/tab sent / received | renderer MiB/tab (own) | replicas served by pages | contributing at end |',
          '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
          ...results.map(r => {
            const p = r.pages
            const i = p?.idle
            return `| ${r.n} | ${r.nodes} + ${p?.open ?? 0} (${p?.arrived ?? 0}) | ${f(p?.join.p50 ?? NaN, 0)} / ${f(p?.join.p95 ?? NaN, 0)} / ${f(p?.join.max ?? NaN, 0)} | ${p?.join.notJoined ?? '–'} | ${p?.linksMaxPerPage ?? '–'} (${p?.linkedMaxPerPage ?? '–'}) | ${f(i?.cpuPercentPerTab ?? NaN, 3)} (${f(i?.browserProcessCpuPercentPerTab ?? NaN, 3)}) | ${f(i?.bytesPerSecPerTab.sent ?? NaN)} / ${f(i?.bytesPerSecPerTab.received ?? NaN)} | ${f(i?.rendererMemMiBPerTab.anon ?? NaN, 0)} | ${p?.jobsServed ?? '–'} | ${i?.contributingAtEnd ?? '–'}/${p?.open ?? 0} |`
          })
        ]
      : []),
    '',
    `log-log slope vs N: ${metrics.map(m => `${m.label} ${slopes[m.key] ?? '–'}`).join('; ')}`,
    gaveOut != null ? `gave out at N=${gaveOut.n}: ${gaveOut.reason}` : 'every size held',
    `churn per size (arrivals/departures/mid-job stops): ${results.map(r => `${r.n}: ${r.churn.arrivals}/${r.churn.departures}/${r.churn.midJobStops}`).join(', ')}`
  ]
  process.stdout.write(lines.join('\n') + '\n')
  log(`wrote ${out}/results.json and ${out}/chart.svg`)
  return results.reduce((a, r) => a + r.jobs.lost, 0) > 0 ? 1 : 0
}

function leastSquaresSlope (pts: ReadonlyArray<readonly [number, number]>): number {
  const mx = pts.reduce((a, [x]) => a + x, 0) / pts.length
  const my = pts.reduce((a, [, y]) => a + y, 0) / pts.length
  const sxy = pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0)
  const sxx = pts.reduce((a, [x]) => a + (x - mx) ** 2, 0)
  return sxx > 0 ? sxy / sxx : NaN
}

/** Each per-peer cost relative to its value at the smallest size, log-log, with slope-0 and slope-1 guides. */
function chart (results: SizeResult[], metrics: Array<{ key: string, label: string, get: (r: SizeResult) => number }>, slopes: Record<string, number | null>): string {
  const W = 820
  const H = 480
  const m = { l: 70, r: 260, t: 44, b: 56 }
  const colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#17becf', '#e377c2', '#7f7f7f', '#bcbd22']
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  const ns = results.map(r => r.n)
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, sans-serif" font-size="12">`, `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${(W - m.r + m.l) / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600">Per-peer cost against swarm size (relative to N=${ns[0] ?? '?'}, log-log)</text>`]
  if (results.length === 0) { out.push('<text x="40" y="80">no size completed</text></svg>'); return out.join('\n') + '\n' }
  const series = metrics.map(mt => {
    const base = mt.get(results[0])
    return { mt, pts: results.map(r => ({ n: r.n, y: mt.get(r) / base })).filter(p => Number.isFinite(p.y) && p.y > 0) }
  })
  const xMin = Math.log10(Math.min(...ns))
  const xMax = Math.max(xMin + 0.3, Math.log10(Math.max(...ns)))
  const ys = series.flatMap(s => s.pts.map(p => Math.log10(p.y))).concat([0, xMax - xMin])
  const yMin = Math.floor(Math.min(...ys) * 2) / 2
  const yMax = Math.ceil(Math.max(...ys) * 2) / 2 + 0.001
  const px = (n: number): number => m.l + (Math.log10(n) - xMin) / (xMax - xMin) * (W - m.l - m.r)
  const py = (ly: number): number => H - m.b - (ly - yMin) / (yMax - yMin) * (H - m.t - m.b)
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#999"/>`)
  for (const n of ns) out.push(`<line x1="${px(n)}" y1="${m.t}" x2="${px(n)}" y2="${H - m.b}" stroke="#eee"/><text x="${px(n)}" y="${H - m.b + 16}" text-anchor="middle" fill="#555">${n}</text>`)
  for (let ly = Math.ceil(yMin); ly <= yMax; ly++) out.push(`<line x1="${m.l}" y1="${py(ly)}" x2="${W - m.r}" y2="${py(ly)}" stroke="#eee"/><text x="${m.l - 6}" y="${py(ly) + 4}" text-anchor="end" fill="#555">×${10 ** ly}</text>`)
  out.push(`<text x="${(W - m.r + m.l) / 2}" y="${H - 18}" text-anchor="middle" fill="#555">peers N (log)</text>`)
  // guides: constant per peer (slope 0) and linear in N (slope 1)
  const n0 = ns[0]
  const n1 = Math.max(...ns)
  out.push(`<line x1="${px(n0)}" y1="${py(0)}" x2="${px(n1)}" y2="${py(0)}" stroke="#888" stroke-dasharray="4 4"/>`)
  out.push(`<line x1="${px(n0)}" y1="${py(0)}" x2="${px(n1)}" y2="${py(Math.log10(n1 / n0))}" stroke="#bbb" stroke-dasharray="2 6"/>`)
  series.forEach((s, i) => {
    const c = colours[i % colours.length]
    if (s.pts.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${s.pts.map(p => `${px(p.n).toFixed(1)},${py(Math.log10(p.y)).toFixed(1)}`).join(' ')}"/>`)
    for (const p of s.pts) out.push(`<circle cx="${px(p.n).toFixed(1)}" cy="${py(Math.log10(p.y)).toFixed(1)}" r="3.5" fill="${c}"/>`)
    const y = m.t + 14 + i * 20
    out.push(`<line x1="${W - m.r + 14}" y1="${y - 4}" x2="${W - m.r + 34}" y2="${y - 4}" stroke="${c}" stroke-width="2"/><text x="${W - m.r + 40}" y="${y}">${esc(`${s.mt.label}: slope ${slopes[s.mt.key] ?? '–'}`)}</text>`)
  })
  const gy = m.t + 14 + series.length * 20 + 10
  out.push(`<line x1="${W - m.r + 14}" y1="${gy - 4}" x2="${W - m.r + 34}" y2="${gy - 4}" stroke="#888" stroke-dasharray="4 4"/><text x="${W - m.r + 40}" y="${gy}">slope 0 (flat per peer)</text>`)
  out.push(`<line x1="${W - m.r + 14}" y1="${gy + 16}" x2="${W - m.r + 34}" y2="${gy + 16}" stroke="#bbb" stroke-dasharray="2 6"/><text x="${W - m.r + 40}" y="${gy + 20}">slope 1 (grows with N)</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}

/** What must go even when the run fails half-way (Chromium and the app server); run once, in reverse order. */
const cleanups: Array<() => Promise<void>> = []

const code = await main().catch((err) => { process.stderr.write(`swarm failed: ${String((err as Error)?.stack ?? err)}\n`); return 2 })
for (const stop of cleanups.reverse()) await Promise.race([stop().catch(() => {}), sleep(15_000)])
process.exit(code)
