/**
 * The composition core with Node parts (memory store, onnxruntime-node, the
 * built-in catalog) over a real relay on loopback: two contributors and a
 * requester that only requests. The same core runs in pages, the widget frame
 * and the extension with browser parts.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startRelay } from '../network/relay.js'
import type { Relay } from '../network/relay.js'
import { createNode } from '../index.node.js'
import type { CrosscheckNode } from './node.js'
import { LocalCatalog } from '../models/catalog.js'
import { MemoryStore } from './memory-store.js'
import type { InferenceRuntime } from './types.js'
import { NodeRunner } from '../cli/ort-node.js'
import { createTensor } from '../tensor/index.js'
import type { NamedTensors } from '../tensor/index.js'
import { verifyReceipt } from '../consensus/receipt.js'
import { identityFromSeed, libp2pVerifier, peerIdOf, privateKeyToBytes, signerFromPrivateKey } from '../network/keys.js'
import { serializeRecord, signSettlement } from '../consensus/settlement.js'
import { checkIdentityPuzzle, solveIdentityPuzzle } from '../consensus/identity-cost.js'

const INPUT = { x: { dtype: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => i / 16) } }

let relay: Relay
let workers: CrosscheckNode[] = []
let requester: CrosscheckNode

async function until (what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const t0 = Date.now()
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

beforeAll(async () => {
  relay = await startRelay({ port: 0 })
  const relays = [relay.multiaddrs[0]]
  const catalog = new LocalCatalog()
  workers = [0, 1].map(() => createNode({ relays, surface: 'cli', catalog, contribute: { startPaused: false }, announceInterval: 500 }))
  requester = createNode({ relays, surface: 'cli', catalog, contribute: false, requester: { canaryRate: 0 } })
  for (const n of [...workers, requester]) await n.start()
  await until('both contributors leased and sampled', async () => (await requester.findContributors()).length === 2)
}, 90_000)

afterAll(async () => {
  for (const n of [...workers, requester]) await n?.stop()
  await relay?.stop()
})

describe('CrosscheckNode (Node parts)', () => {
  it('reports an honest state: running, reachable, contributing, its real runtime', () => {
    const s = workers[0].stats()
    expect(s.state).toBe('running')
    expect(s.reachable).toBe(true)
    expect(s.contributing).toBe(true)
    expect(s.runtime).toMatchObject({ runtime: 'ort-node', backend: 'cpu', threads: 1 })
    // a node built with contribute: false never claims to contribute
    expect(requester.stats().contributing).toBe(false)
    const announced = relay.book.get(workers[0].peerId)
    expect(announced).toMatchObject({ backend: 'cpu', threads: 1, paused: false })
  })

  it('runs a model by catalog id on both contributors and returns outputs with a receipt that verifies', async () => {
    const r = await requester.run('mlp', INPUT, { replicas: 2, quorum: 2 })
    expect(r.agreeing.sort()).toEqual(workers.map(w => w.peerId).sort())
    expect(r.outputs.y.dims).toEqual([1, 10])
    const v = await verifyReceipt(r.receipt, libp2pVerifier)
    expect(v.ok).toBe(true)
    expect((await requester.listReceipts()).map(x => x.jobId)).toContain(r.jobId)
    // the workers fetched the model from the catalog, once
    expect(workers.every(w => w.stats().jobsDone === 1)).toBe(true)
  }, 60_000)

  it('a paused contributor is announced as paused and gets no jobs', async () => {
    workers[1].pause()
    expect(workers[1].stats().contributing).toBe(false)
    expect(workers[1].stats().paused).toEqual(['user'])
    await until('the pause to be announced', () => relay.book.get(workers[1].peerId)?.paused === true)
    // the requester may still draw it from a sample taken before the pause: it refuses, is replaced, and is not blamed
    const served = workers[1].stats().jobsDone
    const failuresOf = (): number => requester.reputation().find(r => r.peerId === workers[1].peerId)?.failures ?? 0
    const failures = failuresOf()
    for (let i = 0; i < 3; i++) {
      const r = await requester.run('mlp', INPUT, { replicas: 1, quorum: 1 })
      expect(r.agreeing).toEqual([workers[0].peerId])
    }
    expect(workers[1].stats().jobsDone).toBe(served)
    expect(failuresOf()).toBe(failures)
    // one contributor for two replicas: too few up front, or (drawn from the older sample) the paused one refused and none was left
    await expect(requester.run('mlp', INPUT, { replicas: 2, quorum: 2, timeout: 3000 })).rejects.toMatchObject({ name: expect.stringMatching(/NotEnoughPeersError|TimeoutError|NoQuorumError/) })
    expect(workers[1].stats().jobsDone).toBe(served)
    workers[1].resume()
    await until('the resume to be announced', () => relay.book.get(workers[1].peerId)?.paused === false)
    const r = await requester.run('mlp', INPUT, { replicas: 2, quorum: 2 })
    expect(r.agreeing).toContain(workers[1].peerId)
  }, 90_000)

  it('browser signals pause a contributor: hidden → announced paused → not selected; visible again → selected', async () => {
    workers[1].signal({ type: 'visibility', hidden: true })
    expect(workers[1].stats().paused).toEqual(['hidden'])
    await until('the hidden pause to be announced', () => relay.book.get(workers[1].peerId)?.paused === true)
    const served = workers[1].stats().jobsDone
    const r = await requester.run('mlp', INPUT, { replicas: 1, quorum: 1 })
    expect(r.agreeing).toEqual([workers[0].peerId])
    expect(workers[1].stats().jobsDone).toBe(served)
    workers[1].signal({ type: 'battery', charging: false })
    workers[1].signal({ type: 'visibility', hidden: false })
    expect(workers[1].stats().paused).toEqual(['battery'])
    workers[1].signal({ type: 'battery', charging: true })
    workers[1].signal({ type: 'pressure', state: 'critical' })
    expect(workers[1].stats().paused).toEqual(['pressure'])
    workers[1].signal({ type: 'pressure', state: 'fair' })
    expect(workers[1].stats().contributing).toBe(true)
    await until('the resume to be announced', () => relay.book.get(workers[1].peerId)?.paused === false)
  }, 60_000)

  it('takes models as bytes or sha256, and refuses bad arguments with named errors', async () => {
    const bytes = new Uint8Array(await new LocalCatalog().download((await new LocalCatalog().manifest()).models.find(m => m.id === 'cnn')!))
    const x = { x: { dtype: 'float32', dims: [1, 1, 8, 8], data: new Array(64).fill(0.25) } }
    const byBytes = await requester.run(bytes, x, { replicas: 1, quorum: 1 })
    const bySha = await requester.run(byBytes.modelHash, x, { replicas: 1, quorum: 1 })
    expect(bySha.outputHash).toBe(byBytes.outputHash)
    await expect(requester.run('no-such-model', x)).rejects.toMatchObject({ name: 'ModelNotFoundError' })
    await expect(requester.run('mlp', INPUT, { replicas: 2, quorum: 3 })).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    await expect(requester.run('mlp', INPUT, { exclude: 'peer' as unknown as string[] })).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    // every contributor excluded: nobody to ask
    const all = workers.map(w => w.peerId)
    await expect(requester.run('mlp', INPUT, { replicas: 1, quorum: 1, exclude: all, timeout: 3_000 })).rejects.toMatchObject({ name: 'NotEnoughPeersError' })
    await expect(requester.run('mlp', { x: { dtype: 'float32', dims: [1, 16], data: [1] } })).rejects.toMatchObject({ name: 'InvalidTensorError' })
  }, 60_000)

  it('a requested job cut short by a reload is shown as interrupted at the next start; failed jobs leave nothing pending', async () => {
    const store = new MemoryStore()
    const relays = [relay.multiaddrs[0]]
    const before = createNode({ relays, store, catalog: new LocalCatalog(), contribute: false, requester: { canaryRate: 0 } })
    await before.start()
    // a job that cannot be served (no such replicas) fails with a named error and is not left pending
    await expect(before.run('mlp', INPUT, { replicas: 3, quorum: 3, timeout: 1500 })).rejects.toMatchObject({ name: expect.stringMatching(/NotEnoughPeersError|TimeoutError/) })
    expect(await store.listPendingJobs()).toEqual([])
    expect((await before.listJobs())[0]).toMatchObject({ role: 'requester', status: 'failed' })
    await before.stop()
    // as if the page had reloaded while a job was in flight
    await store.putPendingJob({ jobId: 'local-1', modelHash: 'a'.repeat(64), inputHash: 'b'.repeat(64), startedAt: 1 })
    const after = createNode({ relays, store, contribute: false })
    const seen: unknown[] = []
    after.addEventListener('job:interrupted', (evt) => { seen.push(evt.detail) })
    await after.start()
    expect(seen).toEqual([{ jobs: [{ modelHash: 'a'.repeat(64), inputHash: 'b'.repeat(64), startedAt: 1 }] }])
    expect((await after.listJobs()).find(j => j.jobId === 'local-1')).toMatchObject({ status: 'interrupted' })
    expect(await store.listPendingJobs()).toEqual([])
    await after.stop()
  }, 60_000)

  it('pays the identity puzzle once per identity: the solution is saved with the key and reused at the next start', async () => {
    const relays = [relay.multiaddrs[0]]
    const bits = 12
    const announced = (peerId: string): string | undefined => relay.book.get(peerId)?.identityNonce
    // a fresh identity solves the puzzle, announces the solution and saves it with its key
    const fresh = new MemoryStore()
    const first = createNode({ relays, store: fresh, catalog: new LocalCatalog(), contribute: { startPaused: false }, identityCostBits: bits, announceInterval: 500 })
    await first.start()
    await until('the fresh identity announced its solution', () => announced(first.peerId) !== undefined)
    expect((await fresh.getIdentity())?.identityNonce).toBe(announced(first.peerId))
    expect(checkIdentityPuzzle(first.peerId, announced(first.peerId), bits)).toBeUndefined()
    await first.stop()
    // a stored solution that is not the one the solver finds first (it counts up from 0): announcing it proves it was reused, not re-solved
    const key = await identityFromSeed(new Uint8Array(32).fill(7))
    const peerId = peerIdOf(key)
    const firstFound = solveIdentityPuzzle(peerId, bits)!
    const saved = solveIdentityPuzzle(peerId, bits, { start: parseInt(firstFound, 16) + 1 })!
    const store = new MemoryStore()
    await store.putIdentity({ privateKey: privateKeyToBytes(key), createdAt: 1, identityNonce: saved })
    const again = createNode({ relays, store, catalog: new LocalCatalog(), contribute: { startPaused: false }, identityCostBits: bits, announceInterval: 500 })
    await again.start()
    try {
      await until('the restarted identity announced', () => announced(peerId) !== undefined)
      expect(announced(peerId)).toBe(saved)
    } finally {
      await again.stop()
    }
  }, 60_000)

  it('a retraction shared on gossip reaches another holder of the receipt; forged ones do not; one heard before an import applies at it', async () => {
    const relays = [relay.multiaddrs[0]]
    const key = await identityFromSeed(new Uint8Array(32).fill(9))
    const aStore = new MemoryStore()
    await aStore.putIdentity({ privateKey: privateKeyToBytes(key), createdAt: 1 })
    const a = createNode({ relays, store: aStore, catalog: new LocalCatalog(), contribute: false, requester: { canaryRate: 0 } })
    const holder = createNode({ relays, contribute: false })
    const late = createNode({ relays, contribute: false })
    try {
      for (const n of [a, holder, late]) await n.start()
      await until('the requester sees both contributors', async () => (await a.findContributors()).length >= 2)
      const { receipt, receiptOutputs, outputHash, jobId } = await a.run('mlp', INPUT, { replicas: 2, quorum: 2 })
      // the receipt commits to its output by hash; the requester keeps the bytes beside it
      expect(JSON.parse(receipt).v).toBe(2)
      expect(Object.keys(receiptOutputs)).toContain(outputHash)
      expect(Object.keys((await a.listReceipts()).find(r => r.jobId === jobId)?.outputs ?? {})).toContain(outputHash)
      // the holder keeps a verified copy, with the bytes it was given (checked against their hashes); an edited one is refused by name
      await expect(holder.importReceipt(receipt, { outputs: { [outputHash]: { y: createTensor('float32', [1], new Float32Array([42])) } } })).rejects.toMatchObject({ name: 'ReceiptInvalidError', check: 'outputs' })
      expect(await holder.importReceipt(receipt, { outputs: receiptOutputs })).toMatchObject({ jobId, status: 'accepted' })
      expect(Object.keys((await holder.listReceipts()).find(r => r.jobId === jobId)?.outputs ?? {})).toContain(outputHash)
      await expect(holder.importReceipt(receipt.replace(/"nonce": "(.)/, (_m, c: string) => `"nonce": "${c === '0' ? '1' : '0'}`))).rejects.toMatchObject({ name: 'ReceiptInvalidError' })
      const retracted: Array<{ jobId: string, reason: string, record: string }> = []
      holder.addEventListener('receipt:retracted', (evt) => { retracted.push(evt.detail) })
      const record = async (seed: number, reason: string): Promise<string> => serializeRecord(await signSettlement({ jobId, receiptText: receipt, status: 'retracted', reason, at: Date.now(), signer: signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(seed))) }))
      const forged = await record(10, 'forged: not the requester')
      const real = await record(9, 're-verification disagreed')
      // the holder's mesh may still be forming: publish until it hears (gossip has no delivery receipts)
      await until('the holder heard the retraction', () => {
        void a.publishRecord(forged).then(async () => await a.publishRecord(real))
        return retracted.length > 0
      })
      expect(retracted).toEqual([{ jobId, reason: 're-verification disagreed', record: real }])
      expect((await holder.listReceipts()).find(r => r.jobId === jobId)?.status).toBe('invalid')
      // the requester's own copy: the receipt turns invalid and its history says retracted, not accepted
      expect((await a.listJobs()).find(j => j.jobId === jobId)?.status).toBe('accepted')
      expect(await a.applyRecord(real)).toBe(true)
      expect((await a.listReceipts()).find(r => r.jobId === jobId)?.status).toBe('invalid')
      expect((await a.listJobs()).find(j => j.jobId === jobId)?.status).toBe('retracted')
      // importing the receipt again cannot undo that
      expect(await a.importReceipt(receipt)).toMatchObject({ jobId, status: 'invalid' })
      // a node that heard the retraction before it was given the receipt stores it as invalid at once
      expect(await late.applyRecord(real)).toBe(false)
      expect(await late.importReceipt(receipt)).toMatchObject({ jobId, status: 'invalid' })
    } finally {
      for (const n of [a, holder, late]) await n.stop()
    }
  }, 90_000)

  it('computes canaries\' known answers on a CPU runtime when its own runtime is an accelerated backend, so a broken one there flags no honest peer', async () => {
    // a "WebGPU" runtime wrong by 5 % on every output, as a driver bug would be
    const skew = (outputs: NamedTensors): NamedTensors => Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, createTensor(t.dtype, t.dims, (t.data as Float32Array).map(v => v * 1.05 + 1e-3))]))
    const brokenGpu = (): InferenceRuntime => {
      const inner = new NodeRunner()
      const gpuClass = 'ort-node/webgpu/t1/node'
      return {
        probe: async () => ({ ...(await inner.probe()), backend: 'webgpu', numericClass: gpuClass }),
        hasModel: async (sha) => await inner.hasModel(sha),
        loadModel: async (sha, bytes) => { await inner.loadModel(sha, bytes) },
        run: async (sha, inputs) => { const r = await inner.run(sha, inputs); return { ...r, outputs: skew(r.outputs), numericClass: gpuClass } },
        close: async () => { await inner.close() }
      }
    }
    const made: string[] = []
    const n = createNode({
      relays: [relay.multiaddrs[0]],
      catalog: new LocalCatalog(),
      contribute: false,
      // seeded: the one draw after the job is a canary
      requester: { canaryRate: 0.99, seed: 1 },
      runtime: (init) => { made.push(init.reference === true ? 'reference' : 'own'); return init.reference === true ? new NodeRunner() : brokenGpu() }
    })
    try {
      await n.start()
      await until('the requester sees both contributors', async () => (await n.findContributors()).length >= 2)
      await n.run('mlp', INPUT, { replicas: 2, quorum: 2 })
      await n.settled()
      expect(made).toEqual(['own', 'reference'])
      const records = n.reputation()
      expect(records.filter(r => r.flagged)).toEqual([])
      expect(records.filter(r => (r.canariesPassed ?? 0) > 0).map(r => r.peerId).sort()).toEqual(workers.map(w => w.peerId).sort())
    } finally {
      await n.stop()
    }
  }, 60_000)

  it('needs start() first and stops idempotently', async () => {
    const n = createNode({ relays: [relay.multiaddrs[0]], contribute: false })
    await expect(n.run('mlp', INPUT)).rejects.toMatchObject({ name: 'NotStartedError' })
    expect(() => createNode({ relays: [] })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
    await n.stop()
    expect(n.stats().state).toBe('stopped')
  })
})
