import { describe, expect, it } from 'vitest'
import { JobRun, peersFor } from './jobrun.js'
import { judgeCounts, requiredAgreeing } from './rule.js'
import { ReputationBook } from './reputation.js'
import { createRng } from './select.js'
import { CLASS_NODE, CLASS_WEB, HASH_A, HASH_C, f32, fakeBallot, fakePeer, out } from './test-fixtures.js'
import type { JobRunAction, JobRunParams } from './jobrun.js'
import type { Ballot, ComparisonPolicy, NumericClass } from './types.js'
import type { NamedTensors } from '../tensor/index.js'

const GPU = 'ort-web/webgpu/t1/chromium'
const EXACT: ComparisonPolicy = { kind: 'exact' }
const GOOD = out(f32([1, 2, 3]))
const GOOD_GPU = out(f32([1 + 3e-5, 2, 3]))
const BAD = out(f32([1, 2, 9]))
const WORSE = out(f32([7, 7, 7]))
const MAIN = HASH_A
const RECHECK = HASH_C
const OTHER = 'd'.repeat(64)

/** A ballot of `peer` for job `jobId`. */
function vote (peer: string, output: NamedTensors, jobId = MAIN, numericClass: NumericClass = CLASS_WEB): Ballot {
  const b = fakeBallot(peer, output, numericClass)
  return { ...b, vote: { ...b.vote, body: { ...b.vote.body, jobId } } }
}

const P = (name: string): string => fakePeer(name)

/** A started run whose initial dispatch went to `peers`. */
function started (peers: string[], over: Partial<JobRunParams> = {}): { run: JobRun, first: JobRunAction[] } {
  const run = new JobRun({ jobId: MAIN, policy: EXACT, quorum: peers.length, replicas: peers.length, ...over })
  expect(run.start()).toEqual([{ type: 'dispatch', count: over.replicas ?? peers.length, reason: 'initial', job: 'main' }])
  const first = run.step({ type: 'dispatched', at: 0, jobId: MAIN, reason: 'initial', peers: peers.map(P) })
  return { run, first }
}

const kinds = (actions: JobRunAction[]): string[] => actions.map((a) => a.type)
const accepted = (actions: JobRunAction[]): Extract<JobRunAction, { type: 'accept' }> => {
  const a = actions.find((x) => x.type === 'accept')
  if (a === undefined || a.type !== 'accept') throw new Error(`not accepted: ${JSON.stringify(kinds(actions))}`)
  return a
}
const records = (actions: JobRunAction[]): Record<string, string> =>
  Object.fromEntries(actions.flatMap((a) => (a.type === 'record' ? [[a.peerId, a.outcome]] : [])))

describe('the counting rule', () => {
  it('needs quorum without dissent and max(quorum, 2d+1) with d dissenting', () => {
    expect(requiredAgreeing(2, 0)).toBe(2)
    expect(requiredAgreeing(1, 1)).toBe(3)
    expect(requiredAgreeing(3, 1)).toBe(3)
    expect(requiredAgreeing(3, 2)).toBe(5)
  })

  it('waits, asks, accepts or fails', () => {
    const base = { quorum: 2, outstanding: 0, dispatched: 3, maxReplicas: 7, recheckPending: false }
    expect(judgeCounts({ ...base, agreeing: 2, dissenting: 0 })).toEqual({ kind: 'accept', required: 2 })
    expect(judgeCounts({ ...base, agreeing: 2, dissenting: 0, outstanding: 1 })).toEqual({ kind: 'wait' })
    expect(judgeCounts({ ...base, agreeing: 2, dissenting: 0, recheckPending: true })).toEqual({ kind: 'dispatch', add: 1, reason: 'recheck' })
    expect(judgeCounts({ ...base, agreeing: 1, dissenting: 0 })).toEqual({ kind: 'dispatch', add: 1, reason: 'replace' })
    expect(judgeCounts({ ...base, agreeing: 2, dissenting: 1 })).toEqual({ kind: 'dispatch', add: 1, reason: 'dispute' })
    expect(judgeCounts({ ...base, agreeing: 2, dissenting: 1, outstanding: 1 })).toEqual({ kind: 'wait' })
    expect(judgeCounts({ ...base, agreeing: 2, dissenting: 2, dispatched: 4, maxReplicas: 6 }).kind).toBe('fail')
    // a receipt: nothing outstanding, no room
    expect(judgeCounts({ ...base, agreeing: 3, dissenting: 1, dispatched: 4, maxReplicas: 4 }).kind).toBe('accept')
    expect(judgeCounts({ ...base, agreeing: 2, dissenting: 1, dispatched: 3, maxReplicas: 3 }).kind).toBe('fail')
  })
})

describe('JobRun', () => {
  it('accepts unanimous votes across numeric classes once every replica answered', () => {
    const { run, first } = started(['a', 'b', 'c'], { quorum: 2 })
    expect(first).toEqual([])
    expect(run.step({ type: 'vote', at: 1, ballot: vote('a', GOOD) })).toEqual([])
    // quorum met, but a replica is still in flight: a later dissent must still count
    expect(run.step({ type: 'vote', at: 2, ballot: vote('b', GOOD_GPU, MAIN, GPU) })).toEqual([])
    const actions = run.step({ type: 'vote', at: 3, ballot: vote('c', GOOD) })
    const a = accepted(actions)
    expect(a.agreeing).toHaveLength(3)
    expect(a.dissenting).toHaveLength(0)
    expect(a.disputed).toBe(false)
    expect(a.sole).toBe(false)
    expect(records(actions)).toEqual({ [P('a')]: 'agreed', [P('b')]: 'agreed', [P('c')]: 'agreed' })
    expect(actions.every((x) => x.type !== 'record' || x.jobId === MAIN)).toBe(true)
    expect(run.decided).toBe(true)
    expect(run.result).toBe(a)
  })

  it('a single vote is accepted as sole without a recheck', () => {
    const { run } = started(['a'])
    const actions = run.step({ type: 'vote', at: 1, ballot: vote('a', GOOD) })
    const a = accepted(actions)
    expect(a.sole).toBe(true)
    expect(actions.find((x) => x.type === 'record')).toMatchObject({ peerId: P('a'), outcome: 'agreed', sole: true })
  })

  it('a planned recheck is asked only once the votes agree, as a job of its own, and counts', () => {
    const { run } = started(['a'], { recheck: true })
    expect(run.step({ type: 'vote', at: 1, ballot: vote('a', GOOD) })).toEqual([{ type: 'dispatch', count: 1, reason: 'recheck', job: 'recheck' }])
    expect(() => run.step({ type: 'dispatched', at: 2, jobId: MAIN, reason: 'recheck', peers: [P('r')] })).toThrow(/job of its own/)
    expect(run.step({ type: 'dispatched', at: 2, jobId: RECHECK, reason: 'recheck', peers: [P('r')] })).toEqual([])
    const actions = run.step({ type: 'vote', at: 3, ballot: vote('r', GOOD_GPU, RECHECK, GPU) })
    const a = accepted(actions)
    expect(a.sole).toBe(false)
    // the receipt holds the main job's vote only; the recheck voter is recorded under the main job id
    expect(a.ballots.map((b) => b.vote.body.peerId)).toEqual([P('a')])
    expect(actions.filter((x) => x.type === 'record')).toEqual([
      { type: 'record', peerId: P('a'), outcome: 'agreed', numericClass: CLASS_WEB, jobId: MAIN, sole: false },
      { type: 'record', peerId: P('r'), outcome: 'agreed', numericClass: GPU, jobId: MAIN, sole: false }
    ])
  })

  it('a recheck that dissents is a tie, escalated on the main job until its own votes meet the rule', () => {
    const { run } = started(['liar'], { recheck: true })
    run.step({ type: 'vote', at: 1, ballot: vote('liar', BAD) })
    run.step({ type: 'dispatched', at: 2, jobId: RECHECK, reason: 'recheck', peers: [P('r')] })
    // 1 against 1: whichever is the best cluster, it needs 2*1+1 = 3 agreeing votes
    expect(run.step({ type: 'vote', at: 3, ballot: vote('r', GOOD, RECHECK) })).toEqual([{ type: 'dispatch', count: 2, reason: 'dispute', job: 'main' }])
    run.step({ type: 'dispatched', at: 4, jobId: MAIN, reason: 'dispute', peers: [P('e1'), P('e2')] })
    expect(run.step({ type: 'vote', at: 5, ballot: vote('e1', GOOD) })).toEqual([])
    // 3 against 1 overall, but the receipt's votes are 2 against 1: one more for the main job
    expect(run.step({ type: 'vote', at: 6, ballot: vote('e2', GOOD) })).toEqual([{ type: 'dispatch', count: 1, reason: 'dispute', job: 'main' }])
    run.step({ type: 'dispatched', at: 7, jobId: MAIN, reason: 'dispute', peers: [P('e3')] })
    const actions = run.step({ type: 'vote', at: 8, ballot: vote('e3', GOOD) })
    const a = accepted(actions)
    expect(a.outputHash).toBe(vote('x', GOOD).vote.body.outputHash)
    expect(a.agreeing.map((b) => b.vote.body.peerId)).toEqual([P('e1'), P('e2'), P('e3')])
    expect(a.dissenting.map((b) => b.vote.body.peerId)).toEqual([P('liar')])
    expect(a.disputed).toBe(true)
    expect(records(actions)[P('liar')]).toBe('dissented')
    expect(records(actions)[P('r')]).toBe('agreed')
    expect(run.dispatched).toEqual(['liar', 'r', 'e1', 'e2', 'e3'].map(P))
  })

  it('any dissent escalates to max(quorum, 2d+1), never answers early; two dissents need five', () => {
    const { run } = started(['a', 'b'])
    run.step({ type: 'vote', at: 1, ballot: vote('a', GOOD) })
    expect(run.step({ type: 'vote', at: 2, ballot: vote('b', BAD) })).toEqual([{ type: 'dispatch', count: 2, reason: 'dispute', job: 'main' }])
    run.step({ type: 'dispatched', at: 3, jobId: MAIN, reason: 'dispute', peers: [P('c'), P('d')] })
    // three answers, one vote each: d = 2, so 5 are needed; with one in flight, 3 more are asked at once
    expect(run.step({ type: 'vote', at: 4, ballot: vote('c', WORSE) })).toEqual([{ type: 'dispatch', count: 3, reason: 'dispute', job: 'main' }])
    run.step({ type: 'dispatched', at: 5, jobId: MAIN, reason: 'dispute', peers: [P('e'), P('f'), P('g')] })
    expect(run.step({ type: 'vote', at: 6, ballot: vote('d', GOOD_GPU, MAIN, GPU) })).toEqual([])
    run.step({ type: 'vote', at: 7, ballot: vote('e', GOOD) })
    run.step({ type: 'vote', at: 8, ballot: vote('f', GOOD) })
    const a = accepted(run.step({ type: 'vote', at: 9, ballot: vote('g', GOOD) }))
    expect(a.agreeing).toHaveLength(5)
    expect(a.dissenting.map((b) => b.vote.body.peerId).sort()).toEqual([P('b'), P('c')].sort())
  })

  it('a tie of two against two needs five agreeing votes; the cap fails the job with no answer', () => {
    const { run } = started(['a', 'b', 'c', 'd'], { quorum: 2, maxReplicas: 6 })
    run.step({ type: 'vote', at: 1, ballot: vote('a', GOOD) })
    run.step({ type: 'vote', at: 1, ballot: vote('b', BAD) })
    run.step({ type: 'vote', at: 1, ballot: vote('c', GOOD) })
    const actions = run.step({ type: 'vote', at: 1, ballot: vote('d', BAD) })
    expect(actions).toEqual([{ type: 'fail', reason: 'cap', detail: expect.stringContaining('cap of 6'), disputed: true }])
    expect(run.result).toMatchObject({ type: 'fail', reason: 'cap' })
  })

  it('ties break as tally does (same answer whatever the arrival order)', () => {
    const order1 = started(['a', 'b'], { quorum: 1 }).run
    const order2 = started(['a', 'b'], { quorum: 1 }).run
    order1.step({ type: 'vote', at: 1, ballot: vote('a', GOOD) })
    const x = order1.step({ type: 'vote', at: 1, ballot: vote('b', BAD) })
    order2.step({ type: 'vote', at: 1, ballot: vote('b', BAD) })
    const y = order2.step({ type: 'vote', at: 1, ballot: vote('a', GOOD) })
    expect(x).toEqual(y)
    expect(x).toEqual([{ type: 'dispatch', count: 2, reason: 'dispute', job: 'main' }])
  })

  it('a failed replica is recorded as a failure to answer and replaced; its later vote is ignored', () => {
    const { run } = started(['a', 'b'])
    run.step({ type: 'vote', at: 1, ballot: vote('a', GOOD) })
    const actions = run.step({ type: 'replica-failed', at: 2, peerId: P('b'), reason: 'gone' })
    expect(actions).toEqual([
      { type: 'record', peerId: P('b'), outcome: 'failed-to-answer', jobId: MAIN, sole: false },
      { type: 'dispatch', count: 1, reason: 'replace', job: 'main' }
    ])
    expect(run.failures).toEqual([{ peerId: P('b'), reason: 'gone' }])
    run.step({ type: 'dispatched', at: 3, jobId: MAIN, reason: 'replace', peers: [P('c')] })
    expect(run.step({ type: 'vote', at: 4, ballot: vote('b', GOOD) })).toEqual([{ type: 'ignore', peerId: P('b'), why: 'late' }])
    // a second failure report for the same replica changes nothing
    expect(run.step({ type: 'replica-failed', at: 4, peerId: P('b'), reason: 'again' })).toEqual([])
    expect(run.step({ type: 'replica-failed', at: 4, peerId: P('nobody'), reason: 'x' })).toEqual([])
    accepted(run.step({ type: 'vote', at: 5, ballot: vote('c', GOOD) }))
  })

  it('replicas past replicaTimeoutMs are cancelled, counted as failures and replaced', () => {
    const { run } = started(['a', 'b'], { replicaTimeoutMs: 1000 })
    expect(run.nextTimeout()).toBe(1000)
    run.step({ type: 'vote', at: 10, ballot: vote('a', GOOD) })
    expect(run.step({ type: 'tick', at: 999 })).toEqual([])
    expect(run.step({ type: 'tick', at: 1000 })).toEqual([
      { type: 'record', peerId: P('b'), outcome: 'failed-to-answer', jobId: MAIN, sole: false },
      { type: 'cancel', peerId: P('b') },
      { type: 'dispatch', count: 1, reason: 'replace', job: 'main' }
    ])
    run.step({ type: 'dispatched', at: 1000, jobId: MAIN, reason: 'replace', peers: [P('c')] })
    expect(run.nextTimeout()).toBe(2000)
    accepted(run.step({ type: 'vote', at: 1500, ballot: vote('c', GOOD) }))
    expect(run.nextTimeout()).toBeUndefined()
    expect(started(['a']).run.nextTimeout()).toBeUndefined()
  })

  it('a preparing replica has no answer clock until it is ready; then the clock starts at ready', () => {
    const { run } = started(['a', 'b'], { replicaTimeoutMs: 1000 })
    expect(run.step({ type: 'replica-preparing', at: 0, peerId: P('a') })).toEqual([])
    run.step({ type: 'vote', at: 10, ballot: vote('b', GOOD) })
    // ready at 900 (fetching and loading took 900 ms): it has until 1900 to answer
    expect(run.step({ type: 'replica-ready', at: 900, peerId: P('a') })).toEqual([])
    expect(run.nextTimeout()).toBe(1900)
    expect(run.step({ type: 'tick', at: 1899 })).toEqual([])
    // ready twice, or ready without preparing, moves nothing
    expect(run.step({ type: 'replica-ready', at: 1500, peerId: P('a') })).toEqual([])
    expect(run.step({ type: 'replica-ready', at: 1500, peerId: P('b') })).toEqual([])
    expect(run.nextTimeout()).toBe(1900)
    accepted(run.step({ type: 'vote', at: 1899, ballot: vote('a', GOOD) }))
  })

  it('a replica that cannot prepare, or is not ready in time, is replaced without a record against it', () => {
    const { run } = started(['a', 'b', 'c'], { quorum: 2, replicaTimeoutMs: 1000 })
    run.step({ type: 'replica-preparing', at: 0, peerId: P('a') })
    run.step({ type: 'replica-preparing', at: 0, peerId: P('b') })
    // b and c can still make the quorum: nobody more is asked yet, and nothing is recorded
    expect(run.step({ type: 'replica-unavailable', at: 5, peerId: P('a'), reason: 'ModelNotFoundError: no holder' })).toEqual([])
    run.step({ type: 'vote', at: 10, ballot: vote('c', GOOD) })
    // b is still fetching when its time is up: cancelled and replaced, nothing recorded
    expect(run.step({ type: 'tick', at: 1000 })).toEqual([
      { type: 'cancel', peerId: P('b') },
      { type: 'dispatch', count: 1, reason: 'replace', job: 'main' }
    ])
    expect(run.failures).toEqual([{ peerId: P('a'), reason: 'ModelNotFoundError: no holder' }, { peerId: P('b'), reason: 'not ready within 1000 ms' }])
    // a late ready or vote from a dropped replica plays no part
    expect(run.step({ type: 'replica-ready', at: 1001, peerId: P('b') })).toEqual([])
    expect(run.step({ type: 'replica-unavailable', at: 1001, peerId: P('b'), reason: 'again' })).toEqual([])
    run.step({ type: 'dispatched', at: 1000, jobId: MAIN, reason: 'replace', peers: [P('d')] })
    const done = run.step({ type: 'vote', at: 1001, ballot: vote('d', GOOD) })
    expect(records(done)).toEqual({ [P('c')]: 'agreed', [P('d')]: 'agreed' })
    expect(done.filter((a) => a.type === 'record' && (a.peerId === P('a') || a.peerId === P('b')))).toEqual([])
  })

  it('the deadline and an abort fail the job, cancelling what is in flight', () => {
    const { run } = started(['a', 'b'])
    run.step({ type: 'vote', at: 1, ballot: vote('a', GOOD) })
    expect(run.step({ type: 'deadline', at: 2 })).toEqual([{ type: 'cancel', peerId: P('b') }, { type: 'fail', reason: 'timeout', detail: expect.stringContaining('deadline'), disputed: false }])
    expect(run.step({ type: 'deadline', at: 3 })).toEqual([])
    const other = started(['a']).run
    expect(other.step({ type: 'abort', at: 1 })).toEqual([{ type: 'cancel', peerId: P('a') }, { type: 'fail', reason: 'aborted', detail: 'aborted', disputed: false }])
  })

  it('ignores late, duplicate, other-job and unsolicited votes', () => {
    const { run } = started(['a', 'b'], { quorum: 2, recheck: true })
    run.step({ type: 'vote', at: 1, ballot: vote('a', GOOD) })
    expect(run.step({ type: 'vote', at: 1, ballot: vote('a', BAD) })).toEqual([{ type: 'ignore', peerId: P('a'), why: 'duplicate' }])
    expect(run.step({ type: 'vote', at: 1, ballot: vote('b', GOOD, OTHER) })).toEqual([{ type: 'ignore', peerId: P('b'), why: 'other-job' }])
    expect(run.step({ type: 'vote', at: 1, ballot: vote('z', BAD) })).toEqual([{ type: 'ignore', peerId: P('z'), why: 'unsolicited' }])
    // a main-job voter cannot vote on the recheck job either
    run.step({ type: 'vote', at: 2, ballot: vote('b', GOOD) })
    run.step({ type: 'dispatched', at: 3, jobId: RECHECK, reason: 'recheck', peers: [P('r')] })
    expect(run.step({ type: 'vote', at: 4, ballot: vote('r', GOOD) })).toEqual([{ type: 'ignore', peerId: P('r'), why: 'other-job' }])
    accepted(run.step({ type: 'vote', at: 5, ballot: vote('r', GOOD, RECHECK) }))
    expect(run.step({ type: 'vote', at: 6, ballot: vote('a', BAD) })).toEqual([{ type: 'ignore', peerId: P('a'), why: 'late' }])
    expect(run.ignored.map((i) => i.why)).toEqual(['duplicate', 'other-job', 'unsolicited', 'other-job', 'late'])
    expect(run.ballots).toHaveLength(3)
  })

  it('with no peer left: a missing recheck is skipped, a missing replica fails the job once nothing is in flight', () => {
    const solo = started(['a'], { recheck: true }).run
    solo.step({ type: 'vote', at: 1, ballot: vote('a', GOOD) })
    const a = accepted(solo.step({ type: 'dispatched', at: 2, jobId: RECHECK, reason: 'recheck', peers: [] }))
    expect(a.recheckSkipped).toBe(true)

    const { run } = started(['a', 'b', 'c'], { quorum: 3 })
    run.step({ type: 'replica-failed', at: 1, peerId: P('a'), reason: 'gone' })
    // b and c still in flight: wait for them, asking again after each event
    expect(run.step({ type: 'dispatched', at: 1, jobId: MAIN, reason: 'replace', peers: [] })).toEqual([])
    expect(run.step({ type: 'vote', at: 2, ballot: vote('b', GOOD) })).toEqual([{ type: 'dispatch', count: 1, reason: 'replace', job: 'main' }])
    expect(run.step({ type: 'dispatched', at: 2, jobId: MAIN, reason: 'replace', peers: [] })).toEqual([])
    expect(run.step({ type: 'vote', at: 3, ballot: vote('c', GOOD) })).toEqual([{ type: 'dispatch', count: 1, reason: 'replace', job: 'main' }])
    expect(run.step({ type: 'dispatched', at: 4, jobId: MAIN, reason: 'replace', peers: [] })).toEqual([{ type: 'fail', reason: 'no-peers', detail: expect.stringContaining('no further peer'), disputed: false }])
  })

  it('refuses shell mistakes', () => {
    const run = new JobRun({ jobId: MAIN, policy: EXACT, quorum: 1, replicas: 1 })
    expect(() => run.step({ type: 'tick', at: 0 })).toThrow(/not started/)
    run.start()
    expect(() => run.start()).toThrow(/already started/)
    expect(() => run.step({ type: 'dispatched', at: 0, jobId: MAIN, reason: 'initial', peers: [P('a'), P('b')] })).toThrow(/were asked for/)
    expect(() => run.step({ type: 'dispatched', at: 0, jobId: OTHER, reason: 'initial', peers: [P('a')] })).toThrow(/main job id/)
    expect(() => run.step({ type: 'dispatched', at: 0, jobId: MAIN, reason: 'initial', peers: [P('a'), P('a')] })).toThrow()
    run.step({ type: 'dispatched', at: 0, jobId: MAIN, reason: 'initial', peers: [P('a')] })
    expect(() => run.step({ type: 'dispatched', at: 0, jobId: MAIN, reason: 'initial', peers: [P('a')] })).toThrow(/without a dispatch action/)
    expect(() => new JobRun({ jobId: MAIN, policy: EXACT, quorum: 0, replicas: 1 })).toThrow(/quorum/)
  })

  it('counts one vote per group: two sybils cannot make a quorum', () => {
    const { run } = started(['a', 'b'], { groupOf: () => 'one-net' })
    run.step({ type: 'vote', at: 1, ballot: vote('a', BAD) })
    expect(run.step({ type: 'vote', at: 2, ballot: vote('b', BAD) })).toEqual([{ type: 'dispatch', count: 1, reason: 'replace', job: 'main' }])
  })

  it('a dissent that agrees under a widened policy is a near miss, not invalid', () => {
    const near = out(f32([1 + 5e-4, 2, 3]))
    const { run } = started(['a', 'b', 'c', 'd'], { quorum: 3 })
    run.step({ type: 'vote', at: 1, ballot: vote('a', GOOD) })
    run.step({ type: 'vote', at: 1, ballot: vote('b', GOOD) })
    run.step({ type: 'vote', at: 1, ballot: vote('c', GOOD) })
    const actions = run.step({ type: 'vote', at: 1, ballot: vote('d', near, MAIN, CLASS_NODE) })
    expect(records(actions)[P('d')]).toBe('near-miss')
  })

  it('on a canary every voter is judged against the known answer, even one the majority outvoted, and on failure too', () => {
    const canary = { modelHash: HASH_A, inputHash: HASH_C, expected: GOOD, expectedClass: CLASS_WEB, policy: EXACT }
    const { run } = started(['a', 'b', 'c', 'd'], { quorum: 2, canary })
    run.step({ type: 'vote', at: 1, ballot: vote('a', BAD) })
    run.step({ type: 'vote', at: 1, ballot: vote('b', BAD) })
    run.step({ type: 'vote', at: 1, ballot: vote('c', GOOD) })
    // the majority is wrong here (3 against 1 meets the rule): the canary still fails all three
    const actions = run.step({ type: 'vote', at: 1, ballot: vote('d', BAD) })
    expect(accepted(actions).outputHash).toBe(vote('x', BAD).vote.body.outputHash)
    expect(records(actions)).toEqual({ [P('a')]: 'canary-failed', [P('b')]: 'canary-failed', [P('c')]: 'canary-passed', [P('d')]: 'canary-failed' })
    const failing = started(['a', 'b'], { canary }).run
    failing.step({ type: 'vote', at: 1, ballot: vote('a', BAD) })
    expect(records(failing.step({ type: 'deadline', at: 2 }))).toEqual({ [P('a')]: 'canary-failed' })
  })

  it('peersFor asks peers not tried yet, of other backends first', () => {
    const book = new ReputationBook({ establishedAfter: 1 })
    const cands = [
      { peerId: P('a'), numericClass: GPU },
      { peerId: P('g'), numericClass: GPU },
      { peerId: P('w'), numericClass: CLASS_WEB }
    ]
    for (const c of cands) book.record(c.peerId, 'agreed', { modelHash: HASH_A, numericClass: c.numericClass, at: 0 })
    const { run } = started(['a'], { recheck: true })
    const [action] = run.step({ type: 'vote', at: 1, ballot: vote('a', GOOD, MAIN, GPU) })
    if (action.type !== 'dispatch') throw new Error('expected a dispatch')
    for (let seed = 0; seed < 5; seed++) {
      expect(peersFor(run, action, { book, candidates: cands, modelHash: HASH_A, rng: createRng(seed), now: 0 })).toEqual([P('w')])
    }
  })
})
