/**
 * `npm run soak [-- --minutes N]`: churn, relay restarts, peer kills and load
 * together, on loopback, for N minutes (default 2.5). Then it prints a table:
 * faults injected, jobs submitted, accepted, failed by named reason, lost
 * (must be 0; exit 1 otherwise) and peak memory per peer.
 *
 * - a relay in this process, restarted on the same port and id every
 *   `--relay-every` seconds (down for 2 s each time);
 * - `--workers` contributors, each its own `crosscheck worker` process
 *   (onnxruntime-node); every `--churn-every` seconds the oldest leaves and a
 *   new one joins, alternately killed (SIGKILL: a crash, a killed tab) and
 *   stopped (SIGTERM: a closed tab), always while jobs are in flight;
 * - `--pages` contributor pages in Chromium (the built app, served here;
 *   one browser context per page, so each is a visitor with its own
 *   identity); on every churn the oldest page is closed, as a tab is, and a
 *   fresh visitor opens the page;
 * - `--requesters` requesters, each its own process (this script with
 *   `--role requester`), submitting rounds of `--jobs` jobs, `--concurrency`
 *   at a time, until the time is up.
 *
 * A job is lost when it has not ended `grace` after its deadline, or ended
 * with an error that has no name of ours (src/reliability/harness.ts).
 */
import { parseArgs } from 'node:util'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startRelay } from '../src/network/relay.js'
import type { Relay } from '../src/network/relay.js'
import { generateIdentity } from '../src/network/keys.js'
import { existsSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import { Outcomes, contributorsOf, spawnWorker, startRequester, submitJobs, until } from '../src/reliability/harness.js'
import type { WorkerProcess } from '../src/reliability/harness.js'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { chromiumLaunchOptions } from '../e2e/fixtures/chromium.js'
import { pageUrl } from '../bench/browser.js'

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'soak' },
    minutes: { type: 'string', default: '2.5' },
    workers: { type: 'string', default: '8' },
    pages: { type: 'string', default: '3' },
    requesters: { type: 'string', default: '3' },
    jobs: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '20' },
    replicas: { type: 'string', default: '2' },
    quorum: { type: 'string', default: '2' },
    timeout: { type: 'string', default: '30000' },
    'churn-every': { type: 'string', default: '15' },
    'relay-every': { type: 'string', default: '45' },
    relay: { type: 'string' },
    until: { type: 'string' },
    peers: { type: 'string' }
  }
})

const num = (name: keyof typeof values): number => {
  const n = Number(values[name])
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`)
  return n
}

const MiB = (bytes: number | undefined): string => (bytes == null ? '–' : `${Math.round(bytes / 2 ** 20)} MiB`)
const stamp = (t0: number): string => `[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s]`

// ---- requester process --------------------------------------------------------

interface RequesterReport { type: 'done', peerId: string, outcomes: ReturnType<Outcomes['toJSON']>, peakRss: number }

async function requesterRole (): Promise<void> {
  const relay = values.relay as string
  const stopAt = Number(values.until)
  const node = await startRequester([relay])
  // wait for most of the workers before the first round, so the first jobs are not all NotEnoughPeers
  await until('contributors', async () => (await contributorsOf(node)).length >= Math.min(num('peers'), Math.max(num('replicas'), 1)), 60_000).catch(() => {})
  const all = new Outcomes()
  const tell = (round: Outcomes): void => {
    process.stdout.write(JSON.stringify({ type: 'progress', submitted: all.ended + round.ended, accepted: all.accepted + round.accepted, lost: all.lost + round.lost }) + '\n')
  }
  while (Date.now() < stopAt) {
    const round = await submitJobs(node, num('jobs'), {
      replicas: num('replicas'),
      quorum: num('quorum'),
      timeout: num('timeout'),
      concurrency: num('concurrency'),
      onEnd: (o) => { if (o.ended % 10 === 0) tell(o) }
    })
    all.merge(round)
  }
  const report: RequesterReport = { type: 'done', peerId: node.peerId, outcomes: { ...all.toJSON(), ms: [] }, peakRss: process.resourceUsage().maxRSS * 1024 }
  process.stdout.write(JSON.stringify(report) + '\n')
  await node.stop()
}

interface RequesterProcess { child: ChildProcess, done: Promise<RequesterReport>, progress: { submitted: number, accepted: number, lost: number } }

function spawnRequester (relay: string, stopAt: number, peers: number): RequesterProcess {
  const args = ['--experimental-websocket', '--no-warnings=ExperimentalWarning', '--import', 'tsx', fileURLToPath(import.meta.url), '--role', 'requester', '--relay', relay, '--until', String(stopAt), '--peers', String(peers),
    ...(['jobs', 'concurrency', 'replicas', 'quorum', 'timeout'] as const).flatMap(k => [`--${k}`, String(values[k])])]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const progress = { submitted: 0, accepted: 0, lost: 0 }
  let buf = ''
  const done = new Promise<RequesterReport>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      buf += String(d)
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        try {
          const msg = JSON.parse(line) as { type: string } & Record<string, unknown>
          if (msg.type === 'progress') Object.assign(progress, { submitted: msg.submitted, accepted: msg.accepted, lost: msg.lost })
          if (msg.type === 'done') resolve(msg as unknown as RequesterReport)
        } catch {}
      }
    })
    child.once('exit', (code) => { reject(new Error(`requester exited with ${code} before reporting`)) })
  })
  return { child, done, progress }
}

// ---- browser pages ----------------------------------------------------------------

interface ContributorPage { context: BrowserContext, page: Page, peakHeap: number, jobsDone: number }

/** The built app served with its headers (vite preview, as `npm start` does), and Chromium to open it in. */
async function startPages (): Promise<{ url: string, browser: Browser, stop: () => Promise<void> }> {
  const outDir = resolvePath('dist')
  if (!existsSync(resolvePath(outDir, 'index.html'))) throw new Error('no built app in dist/: run `npm run build` first (npm run soak does), or pass --pages 0')
  const { preview } = await import('vite')
  const server = await preview({ build: { outDir }, preview: { host: '127.0.0.1', port: 0, open: false }, logLevel: 'warn' })
  const url = server.resolvedUrls?.local[0]
  if (url == null) throw new Error('the app server did not say where it listens')
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch(chromiumLaunchOptions())
  return { url, browser, stop: async () => { await browser.close(); await server.close() } }
}

/** A visitor: a fresh browser context (its own identity) that opens the page and contributes. */
async function openPage (browser: Browser, url: string, relay: string): Promise<ContributorPage> {
  // camera/microphone: Chromium then offers loopback ICE candidates (NOTES)
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] })
  const page = await context.newPage()
  await page.goto(pageUrl(url, relay))
  const t0 = Date.now()
  while (!(await page.evaluate(() => window.crosscheck?.stats()?.contributing === true).catch(() => false))) {
    if (Date.now() - t0 > 90_000) { await context.close(); throw new Error('a page did not start contributing within 90 s') }
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  return { context, page, peakHeap: 0, jobsDone: 0 }
}

/** Samples a page's JS heap (Chromium's performance.memory) and jobs served; a closed page keeps its last figures. */
async function samplePage (p: ContributorPage): Promise<void> {
  const now = await p.page.evaluate(() => ({ heap: (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0, jobs: window.crosscheck?.stats()?.jobsDone ?? 0 })).catch(() => undefined)
  if (now == null) return
  p.peakHeap = Math.max(p.peakHeap, now.heap)
  p.jobsDone = Math.max(p.jobsDone, now.jobs)
}

// ---- the soak -------------------------------------------------------------------

async function soak (): Promise<number> {
  const t0 = Date.now()
  const minutes = num('minutes')
  const stopAt = t0 + minutes * 60_000
  const relayKey = await generateIdentity()
  let relay: Relay = await startRelay({ port: 0, privateKey: relayKey })
  const addr = relay.multiaddrs[0]
  const port = Number(addr.split('/tcp/')[1].split('/')[0])
  const log = (msg: string): void => { process.stderr.write(`${stamp(t0)} ${msg}\n`) }
  log(`soak for ${minutes} min: relay ${addr}`)

  const faults = { crashes: 0, closes: 0, relayRestarts: 0, joins: 0 }
  const workerPeaks: number[] = []
  const live: WorkerProcess[] = []
  const join = async (): Promise<void> => {
    const w = await spawnWorker([addr])
    live.push(w)
    faults.joins++
  }
  const size = num('workers')
  await Promise.all(Array.from({ length: size }, async () => { await join() }))
  log(`${live.length} workers up`)
  const pageCount = num('pages')
  const browserSide = pageCount > 0 ? await startPages() : undefined
  const pages: ContributorPage[] = []
  const closedPages: ContributorPage[] = []
  const pageFaults = { closed: 0, joins: 0 }
  const openOne = async (): Promise<void> => {
    if (browserSide == null) return
    pages.push(await openPage(browserSide.browser, browserSide.url, addr))
    pageFaults.joins++
  }
  for (let i = 0; i < pageCount; i++) await openOne()
  if (pageCount > 0) log(`${pages.length} browser pages contributing`)
  const requesters = Array.from({ length: num('requesters') }, () => spawnRequester(addr, stopAt, size + pageCount))

  let stopping = false
  // churn: the oldest worker leaves (crash or close, alternately) and a new one joins
  const churn = (async () => {
    let crash = true
    while (!stopping) {
      await sleepUntil(Math.min(stopAt, Date.now() + num('churn-every') * 1000), () => stopping)
      if (stopping || Date.now() >= stopAt - 5_000) break
      const leaving = live.shift()
      if (leaving == null) continue
      workerPeaks.push(leaving.peakRss() ?? 0)
      await leaving.kill(crash ? 'SIGKILL' : 'SIGTERM')
      if (crash) faults.crashes++
      else faults.closes++
      log(`worker ${leaving.peerId.slice(-6)} ${crash ? 'crashed (SIGKILL)' : 'closed (SIGTERM)'}; a new one joins`)
      crash = !crash
      await join().catch((err: Error) => { log(`a worker failed to join: ${err.message}`) })
      // a visitor closes its tab and a new one opens the page
      const closing = pages.shift()
      if (closing != null) {
        await samplePage(closing)
        await closing.context.close()
        closedPages.push(closing)
        pageFaults.closed++
        log(`a page closed (${closing.jobsDone} jobs served); a new visitor opens it`)
        await openOne().catch((err: Error) => { log(`a page failed to join: ${err.message}`) })
      }
    }
  })()
  // relay restarts on the same port and id
  const restarts = (async () => {
    while (!stopping) {
      await sleepUntil(Math.min(stopAt, Date.now() + num('relay-every') * 1000), () => stopping)
      if (stopping || Date.now() >= stopAt - 10_000) break
      await relay.stop()
      log('relay stopped')
      await new Promise(resolve => setTimeout(resolve, 2_000))
      relay = await startRelay({ port, privateKey: relayKey })
      faults.relayRestarts++
      log('relay restarted (same port and id)')
    }
  })()
  const ticker = setInterval(() => {
    for (const p of pages) void samplePage(p)
    const p = requesters.reduce((a, r) => ({ submitted: a.submitted + r.progress.submitted, accepted: a.accepted + r.progress.accepted, lost: a.lost + r.progress.lost }), { submitted: 0, accepted: 0, lost: 0 })
    log(`jobs ended ${p.submitted} (accepted ${p.accepted}, lost ${p.lost}); workers ${live.length}; relay ${JSON.stringify(relay.stats())}`)
  }, 15_000)

  let reports: RequesterReport[] = []
  try {
    reports = await Promise.all(requesters.map(async r => await r.done))
  } finally {
    stopping = true
    clearInterval(ticker)
    await Promise.all([churn, restarts])
  }
  // every requester has left: the relay holds exactly the workers
  await until('the relay holds only the live workers and pages', () => {
    const s = relay.stats()
    return s.connections === live.length + pages.length && s.reservations === live.length + pages.length
  }, 30_000).catch((err: Error) => { log(`${err.message}: ${JSON.stringify(relay.stats())}`) })
  const relayAfter = relay.stats()
  for (const w of live) workerPeaks.push(w.peakRss() ?? 0)
  for (const p of pages) await samplePage(p)
  const allPages = [...closedPages, ...pages]
  await browserSide?.stop()
  await Promise.all(live.map(async w => { await w.kill('SIGTERM') }))
  await relay.stop()

  const outcomes = reports.reduce((a, r) => a.merge(Outcomes.fromJSON(r.outcomes)), new Outcomes())
  const failed = [...outcomes.failed.entries()].sort((a, b) => b[1] - a[1])
  const sorted = [...workerPeaks].filter(n => n > 0).sort((a, b) => a - b)
  const lines = [
    `Soak: ${minutes} min on this machine (${new Date(t0).toISOString().slice(0, 10)}), ${size} Node workers (onnxruntime-node, the generated MLP)${pageCount > 0 ? ` and ${pageCount} Chromium pages (onnxruntime-web)` : ''}, ${reports.length} requesters, ${values.jobs}-job rounds ${values.concurrency} at a time, replicas ${values.replicas} quorum ${values.quorum}, ${Number(values.timeout) / 1000} s deadline.`,
    '',
    '| | |',
    '|---|---|',
    `| faults injected | ${faults.crashes + faults.closes + faults.relayRestarts}: ${faults.crashes} worker crashes (SIGKILL), ${faults.closes} worker closes (SIGTERM), ${faults.relayRestarts} relay restarts (same port and id); ${faults.joins - size} replacement workers joined |`,
    `| jobs submitted | ${outcomes.submitted} |`,
    `| accepted | ${outcomes.accepted} (${pct(outcomes.accepted, outcomes.submitted)}) |`,
    `| failed, by named reason | ${failed.length === 0 ? '0' : failed.map(([k, v]) => `${k} ${v}`).join(', ')} |`,
    `| lost | ${outcomes.lost} |`,
    `| peak memory per worker (RSS) | min ${MiB(sorted[0])}, median ${MiB(sorted[Math.floor(sorted.length / 2)])}, max ${MiB(sorted.at(-1))} (${sorted.length} worker processes) |`,
    `| peak memory per requester (RSS) | ${reports.map(r => MiB(r.peakRss)).join(', ')} |`,
    `| peak memory of ${pageCount > 0 ? 'this process (relay, app server, Playwright driver; the browser is apart)' : 'the relay process'} (RSS) | ${MiB(process.resourceUsage().maxRSS * 1024)} |`,
    `| relay at the end | ${relayAfter.connections} connections, ${relayAfter.reservations} reservations (the ${live.length} live workers${pages.length > 0 ? ` and ${pages.length} open pages` : ''}) |`,
    ...(pageCount > 0
      ? [
          `| browser pages | ${pageCount} open at a time; ${pageFaults.closed} closed (tab closed) and ${pageFaults.joins - pageCount} fresh visitors joined; ${allPages.reduce((a, p) => a + p.jobsDone, 0)} replicas served by pages |`,
          `| peak JS heap per page | ${heapRange(allPages.map(p => p.peakHeap))} (${allPages.length} pages) |`
        ]
      : [])
  ]
  process.stdout.write(lines.join('\n') + '\n')
  for (const [name, detail] of outcomes.failedDetail) process.stderr.write(`  ${name}, e.g.: ${detail[0]}\n`)
  if (outcomes.lost > 0) process.stderr.write(`LOST ${outcomes.lost} jobs:\n  ${outcomes.lostDetail.join('\n  ')}\n`)
  return outcomes.lost === 0 && outcomes.ended === outcomes.submitted ? 0 : 1
}

function heapRange (bytes: number[]): string {
  const s = bytes.filter(n => n > 0).sort((a, b) => a - b)
  return s.length === 0 ? '–' : `min ${MiB(s[0])}, median ${MiB(s[Math.floor(s.length / 2)])}, max ${MiB(s.at(-1))}`
}

function pct (a: number, b: number): string {
  return b === 0 ? '–' : `${(100 * a / b).toFixed(1)}%`
}

async function sleepUntil (at: number, stop: () => boolean): Promise<void> {
  while (Date.now() < at && !stop()) await new Promise(resolve => setTimeout(resolve, Math.min(500, Math.max(1, at - Date.now()))))
}

if (values.role === 'requester') {
  await requesterRole()
  process.exit(0)
} else {
  // exit explicitly: libp2p and onnxruntime keep handles open after stop()
  process.exit(await soak())
}
