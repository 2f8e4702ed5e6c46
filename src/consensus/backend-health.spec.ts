import { describe, expect, it } from 'vitest'
import { BackendHealth } from './backend-health.js'
import type { TrustRecord } from './reputation.js'

const M = 'ab'.repeat(32)
const M2 = 'cd'.repeat(32)
const GPU = 'ort-web/webgpu/t1/chromium'
const GPU_OTHER_BROWSER = 'ort-web/webgpu/t1/firefox'
const WASM = 'ort-web/wasm/t2/chromium'

describe('BackendHealth', () => {
  it('one peer failing is that peer\'s fault; a second peer on the same backend failing judges the backend, once', () => {
    const h = new BackendHealth()
    expect(h.observe(M, GPU, 'p1', 'canary-failed')).toBeUndefined()
    expect(h.isFaulty(M, GPU)).toBe(false)
    // the same peer failing again is still one peer
    expect(h.observe(M, GPU, 'p1', 'canary-failed')).toBeUndefined()
    // another browser's build of the same runtime/backend counts as the same backend
    expect(h.observe(M, GPU_OTHER_BROWSER, 'p2', 'canary-failed')).toEqual({ modelHash: M, backend: 'ort-web/webgpu', failed: ['p1', 'p2'], passed: [] })
    expect(h.isFaulty(M, GPU)).toBe(true)
    // reported once; later failures change nothing
    expect(h.observe(M, GPU, 'p3', 'canary-failed')).toBeUndefined()
    expect(h.verdicts()).toEqual([{ modelHash: M, backend: 'ort-web/webgpu', failed: ['p1', 'p2', 'p3'], passed: [] }])
  })

  it('is per model and per backend: other models and other backends stay healthy', () => {
    const h = new BackendHealth()
    h.observe(M, GPU, 'p1', 'canary-failed')
    h.observe(M, GPU, 'p2', 'canary-failed')
    expect(h.isFaulty(M, GPU)).toBe(true)
    expect(h.isFaulty(M2, GPU)).toBe(false)
    expect(h.isFaulty(M, WASM)).toBe(false)
    expect(h.checkedPeers(M, GPU)).toBe(2)
    expect(h.checkedPeers(M, WASM)).toBe(0)
  })

  it('needs failures to outnumber passes: two liars among healthy peers of a backend do not condemn it', () => {
    const h = new BackendHealth()
    for (const p of ['h1', 'h2', 'h3']) h.observe(M, GPU, p, 'canary-passed')
    expect(h.observe(M, GPU, 'liar1', 'canary-failed')).toBeUndefined()
    expect(h.observe(M, GPU, 'liar2', 'canary-failed')).toBeUndefined()
    expect(h.observe(M, GPU, 'liar3', 'canary-failed')).toBeUndefined()
    expect(h.isFaulty(M, GPU)).toBe(false)
    // a tie is not a majority; one more failure is
    expect(h.observe(M, GPU, 'liar4', 'canary-failed')).toMatchObject({ failed: ['liar1', 'liar2', 'liar3', 'liar4'], passed: ['h1', 'h2', 'h3'] })
  })

  it('counts each peer\'s latest verdict, and near misses not at all', () => {
    const h = new BackendHealth()
    h.observe(M, GPU, 'p1', 'canary-failed')
    h.observe(M, GPU, 'p1', 'canary-passed')
    expect(h.observe(M, GPU, 'p2', 'canary-failed')).toBeUndefined() // p1 now passes: 1 failed, 1 passed
    expect(h.observe(M, GPU, 'p3', 'near-miss')).toBeUndefined()
    expect(h.observe(M, GPU, 'p4', 'near-miss')).toBeUndefined()
    expect(h.checkedPeers(M, GPU)).toBe(2)
    expect(h.isFaulty(M, GPU)).toBe(false)
  })

  it('takes a stricter threshold, and refuses a nonsense one', () => {
    const h = new BackendHealth({ minFailedPeers: 3 })
    h.observe(M, GPU, 'p1', 'canary-failed')
    expect(h.observe(M, GPU, 'p2', 'canary-failed')).toBeUndefined()
    expect(h.observe(M, GPU, 'p3', 'canary-failed')).toBeDefined()
    expect(() => new BackendHealth({ minFailedPeers: 0 })).toThrow(RangeError)
    expect(() => new BackendHealth({ minFailedPeers: 1.5 })).toThrow(RangeError)
  })
})

describe('BackendHealth.fromRecords (a reload)', () => {
  it('rebuilds a verdict from stored canary verdicts, judged on the whole whatever the order', () => {
    const key = (m: string, c: string): string => `${m}|${c.split('/').slice(0, 2).join('/')}`
    const rec = (peerId: string, verdicts: Record<string, boolean>): TrustRecord => ({ peerId, valid: 0, invalid: 0, consecutiveValid: 0, flagged: false, updatedAt: 0, canaryVerdicts: verdicts })
    const broken = BackendHealth.fromRecords([rec('p1', { [key(M, GPU)]: false }), rec('p2', { [key(M, GPU)]: false, [key(M, WASM)]: true })])
    expect(broken.isFaulty(M, GPU)).toBe(true)
    expect(broken.isFaulty(M, WASM)).toBe(false)
    expect(broken.verdicts()).toEqual([{ modelHash: M, backend: 'ort-web/webgpu', failed: ['p1', 'p2'], passed: [] }])
    // three passes against three failures is no verdict, even when the failures are read first
    const tie = BackendHealth.fromRecords(['l1', 'l2', 'l3', 'h1', 'h2', 'h3'].map(p => rec(p, { [key(M, GPU)]: p.startsWith('h') })))
    expect(tie.isFaulty(M, GPU)).toBe(false)
    // malformed keys and values are skipped
    expect(BackendHealth.fromRecords([rec('x', { nobar: false, [key(M, GPU)]: 'no' as unknown as boolean })]).verdicts()).toEqual([])
  })
})
