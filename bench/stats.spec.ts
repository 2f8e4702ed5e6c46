/**
 * The bench's arithmetic on fixed traces (no clocks, no timing assertions):
 * a job's stages follow its critical path and add up to its latency.
 */
import { describe, it, expect } from 'vitest'
import { breakdown, growthExponent, meanStages, summarize } from './stats.js'
import type { TraceEntry } from './stats.js'
import { goalRows } from './report.js'
import { renderChart } from './chart.js'

const timing = { started: 1000, modelReady: 1002, requested: 1003, receipted: 1080, finished: 1085 }
const trace: TraceEntry[] = [
  { t: 1004, type: 'job:progress', detail: { type: 'dispatched', jobId: 'j', peerId: 'A', reason: 'initial' } },
  { t: 1004, type: 'job:progress', detail: { type: 'dispatched', jobId: 'j', peerId: 'B', reason: 'initial' } },
  { t: 1040, type: 'job:progress', detail: { type: 'vote', jobId: 'j', peerId: 'A', outputHash: 'h', ms: 20 } },
  { t: 1060, type: 'job:progress', detail: { type: 'vote', jobId: 'j', peerId: 'B', outputHash: 'h', ms: 30 } },
  { t: 1062, type: 'job:progress', detail: { type: 'accepted', jobId: 'j', outputHash: 'h', peers: ['A', 'B'] } },
  { t: 1070, type: 'job:progress', detail: { type: 'vote', jobId: 'other', peerId: 'C', outputHash: 'h', ms: 999 } }
]
const served = new Map([['B', { received: 1010, modelStart: 1011, modelReady: 1012, queued: 1012, computeStarted: 1013, computeDone: 1045, answered: 1050, computeMs: 30 }]])

describe('breakdown', () => {
  it('follows the vote that completed the quorum and sums to the latency', () => {
    const b = breakdown({ jobId: 'j', timing, requesterTrace: trace, served, verifyMs: 3 })
    expect(b.critical).toBe('B')
    expect(b.totalMs).toBe(85)
    expect(b.slowestComputeMs).toBe(30)
    expect(b.overheadMs).toBe(55)
    expect(b.stages).toMatchObject({ requesterModel: 2, requesterQueue: 2, inputTransfer: 6, workerChecks: 1, provisioning: 1, workerQueue: 1, compute: 30, runtimeIo: 2, signing: 5, voteVerification: 3, responseTransfer: 7, tally: 2, receipt: 18, store: 5 })
    const sum = Object.values(b.stages).reduce((a, v) => a + (v ?? 0), 0)
    expect(sum).toBeCloseTo(b.totalMs, 9)
  })

  it('puts a replica\'s prepare (dispatch to ready) in its own stage, before the input transfer', () => {
    const prepared: TraceEntry[] = [...trace, { t: 1008, type: 'job:progress', detail: { type: 'ready', jobId: 'j', peerId: 'B', ms: 3 } }]
    const b = breakdown({ jobId: 'j', timing, requesterTrace: prepared, served, verifyMs: 3 })
    expect(b.stages).toMatchObject({ requesterQueue: 2, prepare: 4, inputTransfer: 2 })
    const sum = Object.values(b.stages).reduce((a, v) => a + (v ?? 0), 0)
    expect(sum).toBeCloseTo(b.totalMs, 9)
  })

  it('keeps dispatch to vote as one stage for a replica that left no trace', () => {
    const b = breakdown({ jobId: 'j', timing, requesterTrace: trace, served: new Map(), verifyMs: 3 })
    expect(b.unsplit).toMatch(/left no trace/)
    expect(b.stages.compute).toBe(30)
    expect(b.stages.inputTransfer).toBeUndefined()
    const sum = Object.values(b.stages).reduce((a, v) => a + (v ?? 0), 0)
    expect(sum).toBeCloseTo(b.totalMs, 9)
  })
})

describe('summaries', () => {
  it('medians, means and stage means', () => {
    expect(summarize([3, 1, 2, 4])).toMatchObject({ median: 2.5, mean: 2.5, min: 1, max: 4, n: 4 })
    expect(meanStages([{ jobId: 'a', totalMs: 2, slowestComputeMs: 0, overheadMs: 2, stages: { compute: 1, store: 1 } }, { jobId: 'b', totalMs: 4, slowestComputeMs: 0, overheadMs: 4, stages: { compute: 3, store: 1 } }])).toEqual({ compute: 2, store: 1 })
  })

  it('reads growth from a log-log slope', () => {
    expect(growthExponent([{ x: 2, y: 8 }, { x: 4, y: 16 }, { x: 8, y: 32 }])).toBeCloseTo(1, 9)
    expect(growthExponent([{ x: 2, y: 4 }, { x: 4, y: 16 }])).toBeCloseTo(2, 9)
  })
})

describe('report and chart', () => {
  it('judges each goal from the results and draws an SVG', () => {
    const rows = goalRows({
      runtime: { mlp: { t1: { ratio: 1.2, webThreads: 1, web: { median: 1.2 }, node: { median: 1 } } } },
      crowd: {
        crowds: [
          { pages: 8, arrivalMs: 500, joined: 8, joinAfterLoad: { median: 1500, p95: 2400, max: 2500 }, jobs: ['accepted', 'accepted'], links: { max: 3, createdMax: 3, bound: 16 }, idle: { seconds: 50, perTabCores: 0.005, browserProcessPerTabCores: 0.001, bytesPerTabPerSecond: { sent: 500, received: 400 } } },
          { pages: 16, arrivalMs: 500, joined: 15, joinAfterLoad: { median: 2000, p95: 3900, max: 4000 }, jobs: ['accepted', 'NoQuorumError'], links: { max: 17, createdMax: 20, bound: 16 }, idle: { seconds: 50, perTabCores: 0.02, browserProcessPerTabCores: 0.001, bytesPerTabPerSecond: { sent: 500, received: 400 } } }
        ],
        slopes: { joinMedian: 0.41, linksMax: 0, idleCpu: 0.1, idleBytes: 0 }
      }
    })
    // runtime; crowd 8: join, jobs, links, idle; crowd 16: join (one page never joined, max over 3 s), jobs (one failed), links (over the bound), idle (2%); slopes (join grows)
    expect(rows.map(r => r.holds)).toEqual([true, true, true, true, true, false, false, false, false, false])
    expect(rows.find(r => r.goal === '4 crowd jobs' && r.holds === false)?.measured).toContain('NoQuorumError')
    const svg = renderChart({ title: 't', latency: [{ label: 'mlp', stages: { compute: 1, store: 2 } }], throughput: [{ peers: 1, jobsPerSecond: 10, node: false }, { peers: 2, jobsPerSecond: 15, node: true }] })
    expect(svg).toMatch(/^<svg /)
    expect(svg).toContain('mlp')
  })
})
