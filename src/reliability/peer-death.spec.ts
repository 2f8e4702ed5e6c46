/**
 * Issue 8, point 3: a contributor dies while it holds a job (a closed tab, a
 * crashed worker). Here it is a real `crosscheck worker --fault slow`
 * process, killed with SIGKILL mid-job. The requester must replace it within
 * the job's deadline and accept; with nobody left to ask, the job must end
 * with a named error, never hang.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startRelay } from '../network/relay.js'
import type { Relay } from '../network/relay.js'
import type { CrosscheckNode } from '../index.node.js'
import type { JobProgress } from '../jobs/requester.js'
import { MLP_INPUT, NAMED_ERRORS, contributorsOf, peerSummary, spawnWorker, startNodes, startRequester, until } from './harness.js'
import type { WorkerProcess } from './harness.js'

let relay: Relay
let relays: string[]
const nodes: CrosscheckNode[] = []
const processes: WorkerProcess[] = []
let requester: CrosscheckNode

beforeAll(async () => {
  relay = await startRelay({ port: 0 })
  relays = [relay.multiaddrs[0]]
  requester = await startRequester(relays)
}, 60_000)

afterAll(async () => {
  await Promise.all(processes.map(async p => { await p.kill() }))
  await Promise.all([...nodes, requester].map(async n => { await n?.stop() }))
  await relay?.stop()
})

/**
 * Runs a job and calls `onHolding(peerId)` as each replica is given the job
 * itself: at once when it is dispatched ready, else when it says it prepared
 * (a replica that dies while preparing is replaced without blame, not failed).
 */
async function runJob (options: { replicas: number, quorum: number, timeout: number }, onHolding: (peerId: string) => void): Promise<{ ok: true, agreeing: string[], dispatched: string[], ms: number } | { ok: false, name: string, message: string, ms: number, progress: JobProgress[] }> {
  const progress: JobProgress[] = []
  const t0 = Date.now()
  try {
    const r = await requester.run('mlp', MLP_INPUT, options, {
      onProgress: (p) => {
        progress.push(p)
        // 'preparing' follows 'dispatched' synchronously when the replica must prepare first
        if (p.type === 'dispatched') queueMicrotask(() => { if (!progress.some(q => q.type === 'preparing' && q.peerId === p.peerId)) onHolding(p.peerId) })
        if (p.type === 'ready') onHolding(p.peerId)
      }
    })
    return { ok: true, agreeing: r.agreeing, dispatched: r.dispatched, ms: Date.now() - t0 }
  } catch (err) {
    const e = err as Error
    return { ok: false, name: e.name, message: e.message, ms: Date.now() - t0, progress }
  }
}

describe('a contributor dies mid-job', () => {
  it('is replaced within the deadline and the job is accepted', async () => {
    const honest = await startNodes(relays, 2)
    nodes.push(...honest)
    const slow = await spawnWorker(relays, { fault: 'slow' })
    processes.push(slow)
    const first = new Set([...honest.map(n => n.peerId), slow.peerId])
    await until('the requester sees the three contributors', async () => (await contributorsOf(requester)).filter(id => first.has(id)).length === 3, 90_000, 100, () => `slow ${slow.peerId.slice(-6)}; ${peerSummary(requester)}`)

    let killed: Promise<void> | undefined
    const outcome = await runJob({ replicas: 3, quorum: 3, timeout: 60_000 }, (peerId) => {
      if (peerId !== slow.peerId) return
      // the slow worker holds the job for 45 s; a spare contributor joins, then the worker dies
      killed = (async () => {
        const [spare] = await startNodes(relays, 1)
        nodes.push(spare)
        await until('the spare contributor is known', async () => (await contributorsOf(requester)).includes(spare.peerId), 30_000)
        await slow.kill('SIGKILL')
      })()
    })
    await killed
    expect(await slow.exited).toBe('SIGKILL')
    expect(outcome.ok, JSON.stringify(outcome)).toBe(true)
    if (!outcome.ok) return
    expect(outcome.dispatched).toContain(slow.peerId)
    expect(outcome.agreeing).not.toContain(slow.peerId)
    expect(outcome.agreeing).toHaveLength(3)
  }, 120_000)

  it('ends with a named error when nobody is left to replace it', async () => {
    // only one honest contributor stays
    const keep = nodes.find(n => n.started) as CrosscheckNode
    await Promise.all(nodes.filter(n => n !== keep).map(async n => { await n.stop() }))
    const slow = await spawnWorker(relays, { fault: 'slow' })
    processes.push(slow)
    await until('the requester sees exactly the two contributors', async () => {
      const c = await contributorsOf(requester)
      return c.length === 2 && c.includes(keep.peerId) && c.includes(slow.peerId)
    }, 60_000, 100, () => `keep ${keep.peerId.slice(-6)}, slow ${slow.peerId.slice(-6)}; ${peerSummary(requester)}`)

    const timeout = 20_000
    let holding = false
    const outcome = await runJob({ replicas: 2, quorum: 2, timeout }, (peerId) => {
      if (peerId !== slow.peerId) return
      holding = true
      setTimeout(() => { void slow.kill('SIGKILL') }, 1_000)
    })
    expect(outcome.ok).toBe(false)
    if (outcome.ok) return
    expect(NAMED_ERRORS.has(outcome.name), `${outcome.name}: ${outcome.message}`).toBe(true)
    // a machine so loaded that announcements lapse ends the job before dispatch, still by name
    const dispatched = outcome.progress.some(p => p.type === 'dispatched' && p.peerId === slow.peerId)
    expect(dispatched ? ['NoQuorumError', 'TimeoutError'] : ['NotEnoughPeersError'], outcome.message).toContain(outcome.name)
    expect(outcome.ms).toBeLessThan(timeout + 5_000)
    // killed while it held the job: a failed replica (killed while preparing, it would have been replaced without blame)
    if (holding) expect(outcome.progress.some(p => p.type === 'failed-replica' && p.peerId === slow.peerId), JSON.stringify(outcome.progress.filter(p => 'peerId' in p && p.peerId === slow.peerId))).toBe(true)
  }, 120_000)
})
