/**
 * The requester against in-memory peers that sign real votes: acceptance,
 * replacement of failed replicas, escalation on dissent, canaries and
 * reputation. No network: `send` calls the fake peer directly.
 */
import { describe, it, expect, beforeAll } from 'vitest'
import { createTensor, hashTensors } from '../tensor/index.js'
import type { NamedTensors } from '../tensor/index.js'
import { identityFromSeed, libp2pVerifier, signerFromPrivateKey } from '../network/keys.js'
import { handleJob, handleOutput } from './worker.js'
import { HeldOutputs } from './held-outputs.js'
import { runVerifiedJob } from './requester.js'
import type { RequesterDeps } from './requester.js'
import { Requester } from './trust.js'
import { PreparedReplicas } from './prepared.js'
import type { JobProgress } from './requester.js'
import { ReputationBook } from '../consensus/reputation.js'
import { REVERIFY_MODE } from '../consensus/replication.js'
import { createRng } from '../consensus/select.js'
import { verifyReceipt } from '../consensus/receipt.js'
import type { Signer } from '../consensus/types.js'
import type { JobRequest, JobResponse, ObservationMessage } from '../network/codec.js'
import { decodeObservationMessage, encodeObservationMessage } from '../network/codec.js'

/** `gpu-bug`: an honest peer on a WebGPU backend that is wrong the same way everywhere (it returns what every `wrong` peer returns). */
type Behaviour = 'honest' | 'wrong' | 'fail' | 'sole-liar' | 'silent' | 'gpu-bug' | 'paused'

const WASM_CLASS = 'ort-web/wasm/t1/chromium'
const GPU_CLASS = 'ort-web/webgpu/t1/chromium'
const classOf = (b: Behaviour): string => (b === 'gpu-bug' ? GPU_CLASS : WASM_CLASS)

const MODEL = 'c'.repeat(64)
const policy = { kind: 'tolerance' as const, atol: 1e-5, rtol: 1e-4 }
const inputs = { x: createTensor('float32', [1, 3], new Float32Array([1, 2, 3])) }
// the "model": y = 2x
const model = (x: NamedTensors): NamedTensors => ({ y: createTensor('float32', [1, 3], (x.x.data as Float32Array).map(v => v * 2)) })

interface FakePeer { signer: Signer, behaviour: Behaviour, asked: number, held: HeldOutputs, fetched: number, inlineOutputBytes?: number }

let requesterSigner: Signer
const pool: Signer[] = []

beforeAll(async () => {
  // seeded keys: peer ids, and so the seeded selection, are the same every run
  requesterSigner = signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(99)))
  for (let i = 0; i < 8; i++) pool.push(signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(i + 1))))
})

function world (behaviours: Behaviour[], book = new ReputationBook({ establishedAfter: 3 }), hold?: (req: JobRequest) => Promise<void> | undefined): { deps: RequesterDeps, peers: Map<string, FakePeer> } {
  const peers = new Map<string, FakePeer>()
  behaviours.forEach((behaviour, i) => peers.set(pool[i].peerId, { signer: pool[i], behaviour, asked: 0, held: new HeldOutputs(), fetched: 0 }))
  let t = 1_700_000_000_000
  const rng = createRng(7)
  const deps: RequesterDeps = {
    signer: requesterSigner,
    verifier: libp2pVerifier,
    book,
    candidates: () => [...peers.values()].map(p => ({ peerId: p.signer.peerId, numericClass: classOf(p.behaviour) })),
    random: rng,
    now: () => (t += 1),
    randomHex: (n) => Array.from({ length: n }, () => Math.floor(rng() * 256).toString(16).padStart(2, '0')).join(''),
    waitForPeers: async () => { await new Promise(resolve => setTimeout(resolve, 5)) },
    fetchOutput: async (peerId, jobId) => {
      const p = peers.get(peerId)
      if (p == null) throw new Error('unknown peer')
      p.fetched++
      const res = handleOutput({ type: 'output', jobId }, { from: requesterSigner.peerId }, p.held)
      if (res.type !== 'output') throw new Error('no outputs')
      return res.outputs
    },
    send: async (peerId: string, req: JobRequest, { signal }): Promise<JobResponse> => {
      const p = peers.get(peerId)
      if (p == null) throw new Error('unknown peer')
      p.asked++
      await hold?.(req)
      if (p.behaviour === 'fail') throw Object.assign(new Error('peer went away'), { name: 'TimeoutError' })
      // what a contributor that paused after its lease was sampled answers (CrosscheckNode.serveJobs)
      if (p.behaviour === 'paused') return { type: 'error', jobId: req.jobId, error: { name: 'PeerPausedError', message: 'paused (user)' } }
      if (p.behaviour === 'silent') {
        await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true }) })
      }
      return await handleJob(req, { from: requesterSigner.peerId, signal: new AbortController().signal }, {
        signer: p.signer,
        now: () => t,
        held: p.held,
        // these outputs are a few bytes: held anyway, so the fetch path is what runs
        inlineOutputBytes: p.inlineOutputBytes ?? 0,
        ensureModel: async () => {},
        run: async (_hash, x) => {
          const honest = model(x)
          const lie = p.behaviour === 'wrong' || p.behaviour === 'gpu-bug' || (p.behaviour === 'sole-liar' && req.spec.quorum === 1)
          const outputs = lie ? { y: createTensor('float32', [1, 3], new Float32Array([9, 9, 9])) } : honest
          return { outputs, numericClass: classOf(p.behaviour), ms: 1 }
        }
      })
    }
  }
  return { deps, peers }
}

const expected = hashTensors(model(inputs))

describe('runVerifiedJob (fixed k)', () => {
  it('accepts when the quorum agrees and the receipt verifies', async () => {
    const { deps } = world(['honest', 'honest', 'honest'])
    const r = await runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, replicas: 3, quorum: 2 })
    expect(r.outputHash).toBe(expected)
    expect(r.agreeing.length).toBeGreaterThanOrEqual(2)
    expect((await verifyReceipt(r.receiptText, libp2pVerifier)).ok).toBe(true)
  })

  it('asks replicas to prepare before the job, replaces one that cannot without blame, and sends prepared ones jobs straight', async () => {
    const { deps, peers } = world(['honest', 'honest', 'honest', 'honest'])
    const asked: string[] = []
    deps.prepared = new PreparedReplicas()
    deps.prepareReplica = async (peerId) => {
      asked.push(peerId)
      if (peerId === pool[0].peerId) throw Object.assign(new Error('no holder has it'), { name: 'ModelNotFoundError' })
      return 5
    }
    const events: JobProgress[] = []
    const r = await runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, replicas: 4, quorum: 3 }, { onProgress: (p) => events.push(p) })
    expect(r.outputHash).toBe(expected)
    expect(r.failed).toEqual([{ peerId: pool[0].peerId, reason: 'ModelNotFoundError: no holder has it' }])
    // never sent the job, and nothing held against it
    expect(peers.get(pool[0].peerId)?.asked).toBe(0)
    expect(deps.book.get(pool[0].peerId)).toBeUndefined()
    // each ready replica: preparing, then ready, then its vote
    for (const p of pool.slice(1, 4)) {
      const mine = events.filter(e => 'peerId' in e && e.peerId === p.peerId).map(e => e.type)
      expect(mine).toEqual(['dispatched', 'preparing', 'ready', 'vote'])
    }
    // the next job goes straight to the three that were ready; only the one that could not is asked to prepare again
    asked.length = 0
    await runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, replicas: 3, quorum: 3, exclude: new Set([pool[0].peerId]) })
    expect(asked).toEqual([])
    expect(pool.slice(1, 4).map(p => peers.get(p.peerId)?.asked)).toEqual([2, 2, 2])
  })

  it('moves one copy of an agreed output, from the first replica to vote; a differing vote\'s outputs are fetched', async () => {
    const { deps, peers } = world(['honest', 'honest', 'honest'])
    const voted: string[] = []
    const r = await runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, replicas: 3, quorum: 3 }, { onProgress: (p) => { if (p.type === 'vote') voted.push(p.peerId) } })
    expect(r.outputHash).toBe(expected)
    // every replica voted with the hash alone: the bytes were asked of the first voter, once
    expect([...peers.values()].reduce((n, p) => n + p.fetched, 0)).toBe(1)
    expect(peers.get(voted[0])?.fetched).toBe(1)
    expect(new Set(r.ballots.map(b => b.output)).size).toBe(1)
    expect((await verifyReceipt(r.receiptText, libp2pVerifier)).ok).toBe(true)
    // a liar among them: its outputs are fetched (to be compared), and it is outvoted
    const w = world(['wrong', 'honest', 'honest', 'honest'])
    let fetched = 0
    for (let i = 0; i < 6; i++) {
      const before = [...w.peers.values()].reduce((n, p) => n + p.fetched, 0)
      const res = await runVerifiedJob(w.deps, { modelHash: MODEL, inputs, policy, replicas: 3, quorum: 2 })
      expect(res.outputHash).toBe(expected)
      fetched += [...w.peers.values()].reduce((n, p) => n + p.fetched, 0) - before
    }
    expect(fetched).toBeGreaterThan(0)
  })

  it('small outputs come with every vote (no round trip); a lone replica sends its outputs', async () => {
    const { deps, peers } = world(['honest', 'honest', 'honest'])
    for (const p of peers.values()) p.inlineOutputBytes = 1024
    const r = await runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, replicas: 3, quorum: 2 })
    expect(r.outputHash).toBe(expected)
    expect([...peers.values()].map(p => p.fetched)).toEqual([0, 0, 0])
    const lone = world(['honest'])
    const one = await runVerifiedJob(lone.deps, { modelHash: MODEL, inputs, policy, replicas: 1, quorum: 1 })
    expect(one.outputHash).toBe(expected)
    expect([...lone.peers.values()].map(p => p.fetched)).toEqual([0])
  })

  it('a replica that votes without its outputs and then withholds them is a failed replica, replaced', async () => {
    const { deps, peers } = world(['honest', 'honest', 'honest', 'honest'])
    const withholder = pool[1].peerId
    const fetch = deps.fetchOutput!
    deps.fetchOutput = async (peerId, jobId, options) => {
      if (peerId === withholder) throw Object.assign(new Error('no outputs held'), { name: 'OutputNotHeldError' })
      return await fetch(peerId, jobId, options)
    }
    // the liar's hash differs from the others', so its outputs must be fetched: make the withholder the one that differs
    peers.get(withholder)!.behaviour = 'wrong'
    const r = await runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, replicas: 3, quorum: 2 })
    expect(r.outputHash).toBe(expected)
    const failed = r.failed.find(f => f.peerId === withholder)
    if (r.dispatched.slice(1).includes(withholder)) expect(failed?.reason).toMatch(/OutputNotHeldError/)
  })

  it('replaces a replica that answers it paused without blame, and a failed one with blame', async () => {
    const { deps, peers } = world(['paused', 'fail', 'honest', 'honest', 'honest'])
    const r = await runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, replicas: 5, quorum: 3 })
    expect(r.outputHash).toBe(expected)
    expect(r.failed).toEqual(expect.arrayContaining([{ peerId: pool[0].peerId, reason: 'PeerPausedError: paused (user)' }]))
    expect(peers.get(pool[0].peerId)?.asked).toBe(1)
    expect(deps.book.get(pool[0].peerId)).toBeUndefined()
    expect(deps.book.get(pool[1].peerId)).toBeDefined()
  })

  it('replaces a failed replica with a fresh peer', async () => {
    const { deps, peers } = world(['fail', 'honest', 'honest', 'honest'])
    const r = await runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, replicas: 4, quorum: 3 })
    expect(r.outputHash).toBe(expected)
    expect(r.failed.map(f => f.peerId)).toEqual([pool[0].peerId])
    expect([...peers.values()].filter(p => p.behaviour === 'honest').every(p => p.asked === 1)).toBe(true)
  })

  it('escalates a dissent instead of answering at once, and outvotes the liar', async () => {
    const { deps } = world(['wrong', 'honest', 'honest', 'honest'])
    const liar = pool[0].peerId
    let escalated = 0
    for (let i = 0; i < 12; i++) {
      const r = await runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, replicas: 3, quorum: 2 })
      expect(r.outputHash).toBe(expected)
      if (r.dispatched.slice(0, 3).includes(liar)) {
        // 1 dissent needs 3 agreeing votes: a fourth replica was asked
        escalated++
        expect(r.dispatched).toHaveLength(4)
        expect(r.dissenting).toEqual([liar])
        expect(r.agreeing).toHaveLength(3)
      }
      if (deps.book.isFlagged(liar)) break
    }
    expect(escalated).toBeGreaterThan(0)
  })

  it('fails with NoQuorumError and no answer when liars cannot be outvoted', async () => {
    const { deps } = world(['wrong', 'wrong', 'honest'])
    await expect(runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, replicas: 3, quorum: 2 })).rejects.toMatchObject({ name: 'NoQuorumError' })
  })

  it('replaces a replica that does not answer within replicaTimeout, long before the deadline', async () => {
    const { deps } = world(['silent', 'honest', 'honest', 'honest'])
    deps.now = Date.now
    const r = await runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, replicas: 4, quorum: 3, timeout: 20_000, replicaTimeout: 50 })
    expect(r.outputHash).toBe(expected)
    expect(r.failed).toEqual([{ peerId: pool[0].peerId, reason: 'no answer within 50 ms' }])
    expect(r.ms).toBeLessThan(10_000)
    expect(deps.book.get(pool[0].peerId)?.failures).toBe(1)
  })

  it('fails with NotEnoughPeersError when too few contributors exist', async () => {
    const { deps } = world(['honest'])
    await expect(runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, replicas: 3, quorum: 2, peerWait: 10 })).rejects.toMatchObject({ name: 'NotEnoughPeersError' })
  })
})

describe('reputation and canaries', () => {
  it('flags a peer that keeps dissenting and stops selecting it', async () => {
    const { deps, peers } = world(['wrong', 'honest', 'honest', 'honest', 'honest', 'honest'])
    const liar = pool[0].peerId
    for (let i = 0; i < 30 && !deps.book.isFlagged(liar); i++) {
      const r = await runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, replicas: 3, quorum: 2 })
      expect(r.outputHash).toBe(expected)
    }
    expect(deps.book.isFlagged(liar)).toBe(true)
    const askedBefore = peers.get(liar)!.asked
    for (let i = 0; i < 10; i++) await runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, replicas: 3, quorum: 2 })
    expect(peers.get(liar)!.asked).toBe(askedBefore)
  })

  it('catches a peer that lies only when alone, without accepting its lie', async () => {
    const { deps } = world(['sole-liar', 'honest', 'honest', 'honest', 'honest'])
    const liar = pool[0].peerId
    for (let i = 0; i < 80 && !deps.book.isFlagged(liar); i++) {
      const r = await runVerifiedJob(deps, { modelHash: MODEL, inputs, policy, adaptive: {} })
      expect(r.outputHash).toBe(expected)
    }
    expect(deps.book.isFlagged(liar)).toBe(true)
  })

  it('saves the reputation book once for a burst of jobs, and at once when settled() is asked', async () => {
    const { deps } = world(['honest', 'honest', 'honest'])
    const writes: number[] = []
    // a long delay: only settled() can end the wait before the test does
    const requester = new Requester({ deps, persist: async (records) => { writes.push(records.length) }, saveDelayMs: 60_000 }, { canaryRate: 0 })
    await Promise.all(Array.from({ length: 5 }, async () => await requester.request({ modelHash: MODEL, inputs, policy, replicas: 3, quorum: 3 })))
    expect(writes).toEqual([])
    await requester.settled()
    expect(writes).toEqual([3])
    await requester.request({ modelHash: MODEL, inputs, policy, replicas: 3, quorum: 3 })
    await requester.settled()
    expect(writes).toEqual([3, 3])
  })

  it('a failed canary flags at once; passed canaries do not', async () => {
    const { deps } = world(['wrong', 'honest', 'honest'])
    const requester = new Requester({ deps, localRun: async (_h, x) => ({ outputs: model(x), numericClass: 'ort-node/cpu/t1/node' }) })
    await requester.runCanary({ modelHash: MODEL, inputs, policy, replicas: 3, quorum: 2 })
    expect(requester.book.isFlagged(pool[0].peerId)).toBe(true)
    expect(requester.book.isFlagged(pool[1].peerId)).toBe(false)
    expect(requester.book.canariesPassed(pool[1].peerId)).toBe(1)
  })

  it('a backend wrong the same way on every peer: canaries judge the backend, and its peers (newcomers too) are no longer drawn for that model', async () => {
    const { deps, peers } = world(['gpu-bug', 'gpu-bug', 'honest', 'honest', 'honest'])
    const requester = new Requester({ deps, localRun: async (_h, x) => ({ outputs: model(x), numericClass: 'ort-node/cpu/t1/node' }) }, { seed: 3 })
    const verdicts: unknown[] = []
    requester.addEventListener('trust:backend', (evt) => { verdicts.push(evt.detail) })
    const gpu = [pool[0].peerId, pool[1].peerId].sort()
    const wasm = [pool[2].peerId, pool[3].peerId, pool[4].peerId].sort()
    // every peer answers this canary: the two GPU peers agree with each other and fail, the WASM peers pass
    await requester.runCanary({ modelHash: MODEL, inputs, policy, replicas: 5, quorum: 3 })
    expect(verdicts).toEqual([{ modelHash: MODEL, backend: 'ort-web/webgpu', failed: gpu, passed: [] }])
    expect(requester.health.isFaulty(MODEL, GPU_CLASS)).toBe(true)
    expect(requester.health.isFaulty(MODEL, WASM_CLASS)).toBe(false)
    expect(requester.health.checkedPeers(MODEL, WASM_CLASS)).toBe(3)
    expect(requester.health.isFaulty('d'.repeat(64), GPU_CLASS)).toBe(false)
    // a requester rebuilt with new settings (node.configureRequester) keeps the verdicts it is handed
    expect(new Requester({ deps, health: requester.health }, { canaryRate: 0 }).health.isFaulty(MODEL, GPU_CLASS)).toBe(true)
    // and one started from the stored reputation records (a reload) rebuilds them
    expect(new Requester({ deps, records: requester.book.toRecords() }, { canaryRate: 0 }).health.verdicts()).toEqual(requester.health.verdicts())
    // a fresh identity on the same backend, never flagged, is not drawn for this model either
    peers.set(pool[5].peerId, { signer: pool[5], behaviour: 'gpu-bug', asked: 0, held: new HeldOutputs(), fetched: 0 })
    expect(requester.book.isFlagged(pool[5].peerId)).toBe(false)
    for (let i = 0; i < 10; i++) {
      const r = await requester.request({ modelHash: MODEL, inputs, policy, replicas: 3, quorum: 3 })
      expect(r.outputHash).toBe(expected)
      expect(r.dispatched.sort()).toEqual(wasm)
    }
    expect(peers.get(pool[5].peerId)!.asked).toBe(0)
    // without the verdict the newcomer would have been drawn: it is a candidate like any other
    expect(deps.candidates().map(c => c.peerId)).toContain(pool[5].peerId)
  })

  it('a dispute that ends without an answer is followed by a canary of the same shape, which names the wrong backend', async () => {
    const { deps } = world(['gpu-bug', 'gpu-bug', 'honest', 'honest', 'honest'])
    // canaryRate 0: the only canary is the one the dispute calls for
    const requester = new Requester({ deps, localRun: async (_h, x) => ({ outputs: model(x), numericClass: 'ort-node/cpu/t1/node' }) }, { seed: 3, canaryRate: 0 })
    const progress: string[] = []
    // three against two needs five agreeing votes: with every peer asked, no answer
    await expect(requester.request({ modelHash: MODEL, inputs, policy, replicas: 5, quorum: 2 }, { onProgress: (p) => { progress.push(p.type) } })).rejects.toMatchObject({ name: 'NoQuorumError' })
    expect(progress).toContain('disputed')
    await requester.settled()
    expect(requester.health.verdicts()).toEqual([{ modelHash: MODEL, backend: 'ort-web/webgpu', failed: [pool[0].peerId, pool[1].peerId].sort(), passed: [] }])
    // a job that fails for want of peers, with no dispute, calls for no canary
    const quiet = new Requester({ deps: world(['honest']).deps, localRun: async () => { throw new Error('no canary expected') } }, { canaryRate: 0 })
    await expect(quiet.request({ modelHash: MODEL, inputs, policy, replicas: 2, quorum: 2, peerWait: 50 })).rejects.toMatchObject({ name: 'NotEnoughPeersError' })
    await quiet.settled()
  })

  it('aims canaries at a backend no canary has reached yet on the model', async () => {
    // four WASM peers already canaried on the model, one GPU peer not: a one-replica canary's first draw
    let gpuFirst = 0
    const draws = 40
    for (let seed = 1; seed <= draws; seed++) {
      const { deps, peers } = world(['honest', 'honest', 'honest', 'honest', 'gpu-bug'])
      const requester = new Requester({ deps, localRun: async (_h, x) => ({ outputs: model(x), numericClass: 'ort-node/cpu/t1/node' }) }, { seed })
      for (const p of [0, 1, 2, 3]) requester.health.observe(MODEL, WASM_CLASS, pool[p].peerId, 'canary-passed')
      await requester.runCanary({ modelHash: MODEL, inputs, policy, adaptive: { floorRecheck: 0, probationRecheck: 0, base: { replicas: 1, quorum: 1 } } })
      if (peers.get(pool[4].peerId)!.asked > 0) gpuFirst++
    }
    // uniform draws would reach it 1 time in 5 (about 8 of 40); aimed, 1 in 2 (about 20)
    expect(gpuFirst).toBeGreaterThanOrEqual(14)
  })
})

describe('re-verification', () => {
  it('runs in the background after a flag: request() returns first, settled() waits, a wrong sole answer is retracted', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    // re-verification jobs are REVERIFY_MODE (3-of-3): once the flagging request is sent, hold them until it has returned
    let holding = false
    let held = 0
    const { deps, peers } = world(['sole-liar', 'honest', 'honest', 'honest'], undefined, (req) => {
      if (!holding || req.spec.replicas !== REVERIFY_MODE.replicas || req.spec.quorum !== REVERIFY_MODE.quorum) return undefined
      held++
      return gate
    })
    const liar = pool[0].peerId
    const sharedRecords: string[] = []
    const requester = new Requester({ deps, shareRetraction: async (rec) => { sharedRecords.push(rec); return true } }, { trust: { establishedAfter: 1, maxInvalid: 1 }, seed: 5 })
    const retracted: string[] = []
    const records: string[] = []
    requester.addEventListener('job:retracted', (evt) => { retracted.push(evt.detail.jobId); if (evt.detail.record !== undefined) records.push(evt.detail.record) })
    const flaggedEvents: string[] = []
    requester.addEventListener('trust:flagged', (evt) => { flaggedEvents.push(evt.detail.peerId) })
    // no rechecks: the liar, once established, gets a wrong answer accepted alone
    const adaptive = { floorRecheck: 0, probation: 0, probationRecheck: 0 }
    let wrongJob: string | undefined
    let wrongReceipt = ''
    for (let i = 0; i < 60 && wrongJob == null; i++) {
      const r = await requester.request({ modelHash: MODEL, inputs, policy, adaptive })
      if (r.outputHash !== expected) { wrongJob = r.jobId; wrongReceipt = r.receiptText }
    }
    expect(wrongJob).toBeDefined()
    // now it lies everywhere: one dissent flags it
    peers.get(liar)!.behaviour = 'wrong'
    holding = true
    const r = await requester.request({ modelHash: MODEL, inputs, policy, replicas: 4, quorum: 2 })
    expect(r.outputHash).toBe(expected)
    expect(requester.book.isFlagged(liar)).toBe(true)
    expect(flaggedEvents).toEqual([liar])
    // the request is answered before the re-verification, which then waits at the gate
    await expect.poll(() => held).toBeGreaterThan(0)
    expect(retracted).toEqual([])
    release()
    await requester.settled()
    expect(retracted).toContain(wrongJob)
    // the sole answer's receipt said it was provisional; the signed retraction turns it retracted, and was shared
    const before = await verifyReceipt(wrongReceipt, deps.verifier, { now: deps.now() })
    expect(before.status?.kind).toBe('provisional')
    expect(sharedRecords).toEqual(records)
    const after = await verifyReceipt(wrongReceipt, deps.verifier, { records })
    expect(after.ok).toBe(true)
    expect(after.status).toMatchObject({ kind: 'retracted' })
    expect(after.statusText).toContain(liar)
  })
})

describe('shared observations', () => {
  it('another requester counts a shared, evidenced dissent once, and ignores claims without evidence', async () => {
    const { deps } = world(['wrong', 'honest', 'honest', 'honest'])
    const shared: ObservationMessage[] = []
    const a = new Requester({ deps, share: async (m) => { shared.push(decodeObservationMessage(encodeObservationMessage(m), 1 << 20)); return true } })
    const r = await a.request({ modelHash: MODEL, inputs, policy, replicas: 4, quorum: 2 })
    expect(r.dissenting).toEqual([pool[0].peerId])
    expect(shared).toHaveLength(1)

    const other = world(['honest'], new ReputationBook())
    const otherSigner = signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(77)))
    const b = new Requester({ deps: { ...other.deps, signer: otherSigner } })
    expect(await b.receiveObservation(shared[0])).toBe('dissented')
    expect(b.book.get(pool[0].peerId)?.invalid).toBe(1)
    // the same observation again changes nothing
    expect(await b.receiveObservation(shared[0])).toBe('ignored')
    expect(b.book.get(pool[0].peerId)?.invalid).toBe(1)

    // a claim without evidence, or with evidence that does not hold, is ignored
    const c = new Requester({ deps: { ...other.deps, signer: otherSigner } })
    expect(await c.receiveObservation({ observation: shared[0].observation })).toBe('ignored')
    const forged = { ...shared[0], evidence: { ...shared[0].evidence!, output: model(inputs) } } as ObservationMessage
    expect(await c.receiveObservation(forged)).toBe('ignored')
    expect(c.book.get(pool[0].peerId)?.invalid ?? 0).toBe(0)
  })
})
