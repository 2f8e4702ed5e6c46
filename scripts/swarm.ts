/**
 * `npm run swarm [-- --sizes 25,50,100,200]`: how the per-peer cost of the
 * crowd network grows with its size, measured on loopback with real
 * Crosscheck Node peers (createNode, onnxruntime-node, the tiny 'mlp' model),
 * many in this one process.
 *
 * - `--relays` relays on 127.0.0.1 forming a backbone (each given the earlier
 *   relays' multiaddrs as `peers`);
 * - for each size N: grow the population to N, then churn for `--window`
 *   seconds (arrivals at N / `--lifetime` per second, exponential lifetimes
 *   with mean `--lifetime` s, about one departure in ten is a peer that just
 *   served a job) while a requester on both relays submits verified jobs
 *   (k=3, q=2) at `--rate` per second; then a quiet window of `--quiet`
 *   seconds (no jobs, no churn) for the idle costs;
 * - stops growing when the machine cannot hold a size (a start fails, too few
 *   peers join in time, event-loop lag or memory over their bounds, or the
 *   time budget is spent) and says why;
 * - writes swarm/results.json and swarm/chart.svg and prints a markdown
 *   table with the log-log slope of each per-peer cost against N.
 *
 * Bytes are counted as they are written to TCP sockets in this process
 * (net.Socket#write): everything here is on loopback, so each byte on the
 * wire is counted once, at its sender. Peers, relays and the requester share
 * the process, so CPU and memory are process-wide figures divided by N (or
 * by reservations for the relays' share) — upper bounds, stated as such.
 */
import { parseArgs } from 'node:util'
import { Socket } from 'node:net'
import { mkdirSync, writeFileSync } from 'node:fs'
import { totalmem } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { startRelay } from '../src/network/relay.js'
import type { Relay, RelayStats } from '../src/network/relay.js'
import { DEFAULT_LEASE_RENEW_MS } from '../src/network/constants.js'
import { Outcomes, startNodes, startRequester, submitJobs } from '../src/reliability/harness.js'
import type { CrosscheckNode } from '../src/index.node.js'

const { values } = parseArgs({
  options: {
    relays: { type: 'string', default: '2' },
    sizes: { type: 'string', default: '25,50,100,200' },
    window: { type: 'string', default: '60' },
    quiet: { type: 'string', default: '20' },
    lifetime: { type: 'string', default: '90' },
    rate: { type: 'string', default: '2' },
    replicas: { type: 'string', default: '3' },
    quorum: { type: 'string', default: '2' },
    timeout: { type: 'string', default: '20000' },
    'identity-bits': { type: 'string', default: '8' },
    'join-timeout': { type: 'string', default: '90' },
    'lag-limit': { type: 'string', default: '1000' },
    'mem-limit': { type: 'string', default: String(Math.round(totalmem() * 0.7 / 2 ** 20)) },
    minutes: { type: 'string', default: '8' },
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
    cpuPercentPerPeer: number
    bytesPerSecPerPeer: number
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
}

async function main (): Promise<number> {
  const t0 = Date.now()
  const deadline = t0 + num('minutes') * 60_000
  const log = (msg: string): void => { process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`) }
  if (num('pages') > 0) log('--pages is not measured by this script yet (Node peers only); ignoring it')
  const sizes = String(values.sizes).split(',').map(Number).filter(n => Number.isInteger(n) && n > 0)
  const bits = num('identity-bits')
  const lifetimeMs = num('lifetime') * 1000
  const windowMs = num('window') * 1000
  const quietMs = num('quiet') * 1000
  const timeout = num('timeout')
  const grace = 10_000
  const lagLimit = num('lag-limit')
  const memLimit = num('mem-limit') * 2 ** 20

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
    const p99 = lag.percentile(99) / 1e6
    if (p99 > lagLimit) return `event-loop lag: p99 ${Math.round(p99)} ms over the bound of ${lagLimit} ms`
    return undefined
  }

  for (const [si, n] of sizes.entries()) {
    // will this size fit in the time left? (a rough guess from the last one, scaled by N)
    const last = results.at(-1)
    const guess = windowMs + quietMs + timeout + grace + (last != null ? last.rampSeconds * 1000 * (n - last.n) / Math.max(1, last.n - (results.at(-2)?.n ?? 0)) : 30_000)
    if (Date.now() + guess > deadline) { gaveOut = { n, reason: `time: about ${Math.round(guess / 1000)} s needed, ${Math.round((deadline - Date.now()) / 1000)} s left of --minutes ${num('minutes')}` }; break }
    log(`size ${n}: growing from ${live.length}`)
    churnCounts = { arrivals: 0, departures: 0, midJobStops: 0, startFailures: 0 }
    startErrors = []
    joins.length = 0
    lag.reset()
    const rampT0 = Date.now()
    // grow in small batches, checking the bounds between them
    let bound: string | undefined
    while (live.length < n && bound == null) {
      const batch = Math.min(10, n - live.length)
      const failuresBefore = churnCounts.startFailures
      await Promise.all(Array.from({ length: batch }, async () => { await spawn(false) }))
      if (churnCounts.startFailures - failuresBefore === batch) bound = `start: ${batch} peers failed to start (${startErrors[0] ?? ''})`
      bound ??= overBounds()
    }
    const joinBy = Date.now() + num('join-timeout') * 1000
    while (bound == null && live.filter(p => p.joinedAt != null).length < 0.9 * n) {
      if (Date.now() > joinBy) { bound = `join: only ${live.filter(p => p.joinedAt != null).length} of ${live.length} peers contributing ${num('join-timeout')} s after the last start`; break }
      await sleep(250)
    }
    const rampSeconds = (Date.now() - rampT0) / 1000
    if (bound != null) { gaveOut = { n, reason: bound }; log(`size ${n} gave out: ${bound}`); break }
    log(`size ${n}: ${live.length} peers up, ${live.filter(p => p.joinedAt != null).length} contributing after ${rampSeconds.toFixed(1)} s`)

    // ---- churn and jobs ---------------------------------------------------------
    linkMax = 0; linkSum = 0; linkSamples = 0; reqLinkMax = 0
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
      arrivalDebt += (now - lastTick) * n / lifetimeMs
      lastTick = now
      for (; arrivalDebt >= 1; arrivalDebt--) void spawn(true)
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
      pop.push(live.length)
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

    // ---- quiet: no jobs, no churn --------------------------------------------------
    await sleep(2000)
    const r0 = relayTotals()
    const b0 = bytesWritten
    const c0 = process.cpuUsage()
    const q0 = Date.now()
    await sleep(quietMs)
    const secs = (Date.now() - q0) / 1000
    const c1 = process.cpuUsage(c0)
    const r1 = relayTotals()
    const b1 = bytesWritten
    const mem = process.memoryUsage()
    const peers = Math.max(1, live.length)
    const cpuPct = (c1.user + c1.system) / 1e6 / secs * 100
    const reservations = Math.max(1, r1.reservations)
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
        cpuPercentPerPeer: round(cpuPct / peers, 3),
        bytesPerSecPerPeer: round((b1 - b0) / secs / peers, 1),
        directoryRequestsPerSecPerPeer: round((r1.requests - r0.requests) / secs / peers, 4),
        backboneMessagesPerSecPerPeer: round((r1.backbone - r0.backbone) / secs / peers, 4),
        rssMiBPerPeer: round(mem.rss / 2 ** 20 / peers),
        relayCpuPercentPerReservation: round(cpuPct / reservations, 3),
        relayRssKiBPerReservation: round(mem.rss / 1024 / reservations, 0),
        reservations: r1.reservations,
        leases: relays.map(r => r.stats().leases)
      },
      directoryQueryMs: { count: queries.length, p50: round(quantile(queries, 0.5), 1), p95: round(quantile(queries, 0.95), 1), sampleSizeMean: round(sampleSizes.reduce((a, b) => a + b, 0) / Math.max(1, sampleSizes.length), 1) },
      jobs: { ...outcomes.toJSON(), ms: [], acceptedMsP50: quantile(outcomes.ms, 0.5) },
      eventLoopLagMs: { p99: round(windowLag.p99, 0), max: round(windowLag.max, 0) },
      rssMiB: Math.round(mem.rss / 2 ** 20)
    }
    results.push(res)
    log(`size ${n}: accepted ${res.jobs.accepted}/${res.jobs.submitted}, lost ${res.jobs.lost}, failed ${JSON.stringify(res.jobs.failed)}; idle ${res.idle.cpuPercentPerPeer}% CPU/peer, ${res.idle.bytesPerSecPerPeer} B/s/peer`)
    const after = overBounds()
    if (after != null && si < sizes.length - 1) { gaveOut = { n: sizes[si + 1], reason: `after size ${n}, ${after}` }; break }
  }

  sampling = false
  await sampler
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
    { key: 'queryP95', label: 'directory query p95 (ms)', get: r => r.directoryQueryMs.p95 }
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
    settings: { relays: relays.length, sizes, windowS: windowMs / 1000, quietS: quietMs / 1000, lifetimeMeanS: lifetimeMs / 1000, jobsPerSecond: num('rate'), replicas: num('replicas'), quorum: num('quorum'), jobTimeoutMs: timeout, identityCostBits: bits, leaseRenewMs: DEFAULT_LEASE_RENEW_MS, lagLimitMs: lagLimit, memLimitMiB: Math.round(memLimit / 2 ** 20) },
    method: {
      bytes: 'bytes written to TCP sockets in this process (net.Socket#write) during the quiet window, divided by seconds and by live peers; on loopback each wire byte is written once, by its sender, so relays, backbone and requester traffic are included',
      cpu: 'process.cpuUsage() delta over the quiet window / seconds / live peers (peers, relays and the requester share this process: an upper bound per peer)',
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
  writeFileSync(`${out}/chart.svg`, chart(results, metrics.filter(m => ['joinP50', 'linksMax', 'idleBytes', 'idleCpu', 'relayRss', 'queryP50'].includes(m.key)), slopes))

  const f = (x: number, d = 1): string => (Number.isFinite(x) ? String(round(x, d)) : '–')
  const lines = [
    '| N | pop min–max | join p50 / p95 / max (ms) | links/peer max (mean) | idle B/s/peer | idle CPU %/peer | dir req/s/peer | relay KiB / %CPU per reservation | dir query p50 / p95 (ms) | jobs accepted / failed / lost | lag p99 (ms) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(r => `| ${r.n} | ${r.population.min}–${r.population.max} | ${f(r.join.p50, 0)} / ${f(r.join.p95, 0)} / ${f(r.join.max, 0)} | ${r.linksMaxPerPeer} (${f(r.linksMeanPerPeer, 2)}) | ${f(r.idle.bytesPerSecPerPeer)} | ${f(r.idle.cpuPercentPerPeer, 3)} | ${f(r.idle.directoryRequestsPerSecPerPeer, 4)} | ${f(r.idle.relayRssKiBPerReservation, 0)} / ${f(r.idle.relayCpuPercentPerReservation, 3)} | ${f(r.directoryQueryMs.p50)} / ${f(r.directoryQueryMs.p95)} | ${r.jobs.accepted}/${r.jobs.submitted} / ${Object.entries(r.jobs.failed).map(([k, v]) => `${k} ${v}`).join(', ') || '0'} / ${r.jobs.lost} | ${r.eventLoopLagMs.p99} |`),
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
  const colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#17becf']
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

const code = await main().catch((err) => { process.stderr.write(`swarm failed: ${String((err as Error)?.stack ?? err)}\n`); return 2 })
process.exit(code)
