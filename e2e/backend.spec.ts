/**
 * User story: a runtime is wrong the same way on every peer that uses it (a
 * WebGPU driver bug, say). Its peers agree with each other, so counting votes
 * cannot tell who is right. Three honest browser peers (onnxruntime-web,
 * WASM) and two Node workers whose onnxruntime-node backend has a
 * deterministic bug (test-only fault mode `backend-bug`, 5 % off on every
 * output) answer a requester page.
 *
 * The first job, sent to all five, is a dispute with no answer (three against
 * two needs five agreeing votes). The requester follows it with a canary of
 * the same shape: the known answer from its own runtime judges each voter, and
 * with failures from two peers of one backend and no passes it judges the
 * backend itself. From then on, no peer of that backend is asked for that
 * model, not even a fresh identity that was never flagged; every answer is
 * right and the honest peers are never flagged.
 */
import { test, expect } from '@playwright/test'
import { startTestRelay } from './fixtures/relay.js'
import { PeerPage } from './fixtures/peer.js'
import { startCliWorker } from './fixtures/cli.js'
import type { CliWorker } from './fixtures/cli.js'
import { NodeRunner } from '../src/cli/ort-node.js'
import { resolveModel } from '../src/models/catalog.js'
import { tensorsFromJSON } from '../src/tensor/index.js'
import { outputsAgree } from '../src/consensus/compare.js'

const input = (i: number): any => ({ x: { dtype: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, j) => Math.round(Math.cos(i * 16 + j) * 1000) / 1000) } })

test('a backend wrong the same way on every peer is judged by canaries and no longer asked, newcomers included', async ({ browser }) => {
  test.setTimeout(240_000)
  const relay = await startTestRelay()
  const peers: PeerPage[] = []
  const workers: CliWorker[] = []
  const runner = new NodeRunner()
  try {
    for (const name of ['alice', 'bob', 'carol']) peers.push(await PeerPage.open(browser, relay.addr, name))
    for (let i = 0; i < 2; i++) workers.push(await startCliWorker(relay.addr, 'backend-bug'))
    const honest = (await Promise.all(peers.map(async p => await p.peerId()))).sort()
    const requester = await PeerPage.open(browser, relay.addr, 'requester')
    peers.push(requester)
    const buggy = workers.map(w => w.peerId).sort()
    await expect.poll(async () => (await requester.contributors()).filter(id => [...honest, ...buggy].includes(id)).length, { timeout: 60_000 }).toBe(5)
    // no scheduled canaries: the only one is the canary the dispute calls for
    await requester.page.evaluate(async () => { await window.crosscheck.configureRequester({ canaryRate: 0, seed: 20261128 }) })

    const mlp = await resolveModel('mlp')
    await runner.load(mlp.sha256, mlp.bytes)

    // every peer asked: honest WASM against the buggy backend, three against two, no answer
    const first = await requester.requestModel('mlp', input(0), { replicas: 5, quorum: 2 }).then(() => 'answered', (err: Error) => String(err.message))
    expect(first).toContain('NoQuorumError')
    await requester.page.evaluate(async () => { await window.crosscheck.settled() })
    const verdicts = await requester.page.evaluate(() => window.crosscheck.backendVerdicts())
    expect(verdicts).toEqual([{ modelHash: mlp.sha256, backend: 'ort-node/cpu', failed: buggy, passed: [] }])
    const flagged = (await requester.page.evaluate(() => window.crosscheck.reputation())).filter(r => r.flagged).map(r => r.peerId)
    for (const h of honest) expect(flagged, 'an honest peer was flagged').not.toContain(h)
    // the page says so, in words
    await expect(requester.page.locator('#trust')).toContainText('judged wrong by canaries: ort-node/cpu on ')
    await expect(requester.page.locator('#trust')).toContainText('2 peers flagged and no longer asked')

    // a fresh identity on the same backend: never flagged, a candidate like any other, and never asked
    const newcomer = await startCliWorker(relay.addr, 'backend-bug')
    workers.push(newcomer)
    await expect.poll(async () => await requester.contributors(), { timeout: 60_000 }).toContain(newcomer.peerId)
    for (let i = 1; i <= 8; i++) {
      const r = await requester.requestModel('mlp', input(i), { replicas: 3, quorum: 3 })
      const ref = await runner.run(mlp.sha256, tensorsFromJSON(input(i)))
      expect(outputsAgree(tensorsFromJSON(r.output), ref.outputs, mlp.entry!.policy, 'ort-web/wasm/t2/chromium', ref.numericClass), `job ${i} accepted a wrong answer`).toBe(true)
      // three of the four unflagged contributors, chosen at random: without the verdict the newcomer would be in most draws
      expect([...r.dispatched].sort()).toEqual(honest)
    }
    const after = (await requester.page.evaluate(() => window.crosscheck.reputation())).filter(r => r.flagged).map(r => r.peerId)
    expect(after).not.toContain(newcomer.peerId)
    for (const h of honest) expect(after).not.toContain(h)
  } finally {
    await runner.close()
    await Promise.all(peers.map(async p => { await p.close() }))
    await Promise.all(workers.map(async w => { await w.stop() }))
    await relay.stop()
  }
})
