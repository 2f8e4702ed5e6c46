import { describe, expect, it } from 'vitest'
import { PROFILE_BEGIN, PROFILE_END, foldTrace, gapOf, traceFrom } from './profile.js'
import type { TraceEvent } from './profile.js'

const run = (ts: number, dur: number): TraceEvent => ({ cat: 'Session', name: 'model_run', ts, dur })
const op = (ts: number, dur: number, name: string): TraceEvent => ({ cat: 'Node', name: `n${ts}_kernel_time`, ts, dur, args: { op_name: name } })

describe('profile folding', () => {
  it('leaves out the warm-up run and counts fused kernels with their base op', () => {
    const events = [run(0, 100), op(10, 90_000, 'Conv'), run(200, 10), op(201, 4000, 'Conv'), op(205, 2000, 'FusedConv'), run(300, 20), op(301, 6000, 'Conv'), op(310, 2000, 'Add')]
    const p = foldTrace(events)
    expect(p.runMs).toBe(0.015)
    expect(p.ops).toEqual({ Conv: 6, Add: 1 })
    expect(p.nodes).toEqual({ Conv: 1.5, Add: 0.5 })
  })

  it('ranks op types by the time web loses to native', () => {
    const gap = gapOf({ runMs: 10, ops: { Conv: 8, Add: 2 }, nodes: {} }, { runMs: 3, ops: { Conv: 2, Add: 1 }, nodes: {} })
    expect(gap.map(g => g.op)).toEqual(['Conv', 'Add'])
    expect(gap[0].ratio).toBe(4)
    expect(gap[0].shareOfGap).toBeCloseTo(6 / 7)
  })

  it('reads the trace between the markers', () => {
    const out = `noise\n${PROFILE_BEGIN}\n[\n{"cat":"Session","name":"model_run","ts":1,"dur":2}\n]\n${PROFILE_END}\n`
    expect(traceFrom(out)).toEqual([{ cat: 'Session', name: 'model_run', ts: 1, dur: 2 }])
    expect(() => traceFrom('nothing')).toThrow()
  })
})
