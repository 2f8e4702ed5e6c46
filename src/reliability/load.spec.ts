/**
 * Issue 8, point 7 (load), kept small for `npm test`: three requesters submit
 * their jobs all at once to a handful of Node workers over a real relay.
 * Every job must end accepted or with a named error (counted, none lost),
 * and afterwards open streams, connections, relay state and timers must be
 * back where they were before the load. `npm run soak` runs the full size
 * (100 jobs per requester, eight workers).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { startRelay } from '../network/relay.js'
import type { Relay, RelayStats } from '../network/relay.js'
import type { CrosscheckNode } from '../index.node.js'
import { Outcomes, activeTimers, contributorsOf, openStreams, startNodes, startRequester, submitJobs, until } from './harness.js'

const WORKERS = 4
const REQUESTERS = 3
const JOBS_EACH = 20

let relay: Relay
let workers: CrosscheckNode[] = []
let requesters: CrosscheckNode[] = []

// a heap figure worth comparing needs a full collection first
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function heapMiB (): number {
  gc()
  return process.memoryUsage().heapUsed / 2 ** 20
}

beforeAll(async () => {
  relay = await startRelay({ port: 0 })
  const relays = [relay.multiaddrs[0]]
  workers = await startNodes(relays, WORKERS)
  requesters = await Promise.all(Array.from({ length: REQUESTERS }, async () => await startRequester(relays)))
  await until('every requester sees every worker', async () => (await Promise.all(requesters.map(async r => (await contributorsOf(r)).length))).every(n => n === WORKERS), 60_000)
}, 180_000)

afterAll(async () => {
  await Promise.all([...workers, ...requesters].map(async n => { await n.stop() }))
  await relay?.stop()
})

describe(`load: ${REQUESTERS} requesters × ${JOBS_EACH} jobs at once, ${WORKERS} workers`, () => {
  it('ends every job accepted or with a named error, and returns to its baseline afterwards', async () => {
    const all = [...workers, ...requesters]
    // warm up: links form and the model reaches every worker, so the baseline
    // below is the steady state the load must come back to
    for (const r of requesters) await r.run('mlp', { x: { dtype: 'float32', dims: [1, 16], data: new Array(16).fill(0.5) } }, { replicas: WORKERS, quorum: WORKERS, timeout: 120_000 })
    // links on demand: each requester to each worker it asked, and no worker to another worker
    const linked = (): boolean => requesters.every(n => n.stats().linked === WORKERS) && workers.every(n => n.stats().linked === REQUESTERS)
    await until('a link from every requester to every worker, and none between workers', linked, 90_000)
    const settled = (): { connections: number, streams: number } => openStreams(all)
    // relayed signalling connections close a few seconds after their link opened
    await until('relayed connections closed', () => all.every(n => n.connections().every(c => c.direct || c.peerId === relay.peerId)), 20_000)
    const base = { ...settled(), relay: relay.stats(), timers: activeTimers(), heap: heapMiB() }

    const t0 = Date.now()
    const outcomes = (await Promise.all(requesters.map(async r => await submitJobs(r, JOBS_EACH, { replicas: 2, quorum: 2, timeout: 60_000 }))))
      .reduce((a, b) => a.merge(b), new Outcomes())
    const wall = Date.now() - t0

    const summary = { ...outcomes.toJSON(), ms: undefined, wall }
    console.log('load outcomes', JSON.stringify(summary))
    expect(outcomes.submitted).toBe(REQUESTERS * JOBS_EACH)
    expect(outcomes.ended).toBe(outcomes.submitted)
    expect(outcomes.lost, outcomes.lostDetail.join('\n')).toBe(0)
    // a healthy network under this load accepts every job
    expect(outcomes.accepted).toBe(outcomes.submitted)

    // back to the baseline: no stream, connection, reservation or timer left behind
    await until('streams and connections back to baseline', () => {
      const now = settled()
      return now.streams <= base.streams && now.connections <= base.connections
    }, 20_000)
    await until('relay back to baseline', () => {
      const s: RelayStats = relay.stats()
      return s.connections === base.relay.connections && s.reservations === base.relay.reservations && s.streams <= base.relay.streams
    }, 20_000)
    expect(linked()).toBe(true)
    await until('timers back to baseline', () => activeTimers() <= base.timers, 10_000)
    const heapAfter = heapMiB()
    console.log('load baseline', JSON.stringify({ ...base, after: { ...settled(), relay: relay.stats(), timers: activeTimers(), heap: heapAfter } }))
    // loose on purpose: it catches a leak of every job's tensors or streams, not allocator noise
    expect(heapAfter - base.heap).toBeLessThan(64)
  }, 420_000)
})
