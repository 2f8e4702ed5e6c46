/**
 * User story: the network has cheaters. Four honest browser peers, one Node
 * worker that is always wrong and one that lies whenever it alone holds the
 * quorum (test-only fault mode). A requester using adaptive replication and
 * canaries gets only correct answers, flags both cheaters, stops selecting
 * them, and every receipt verifies; replayed or edited receipts do not.
 */
import { test, expect } from '@playwright/test'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestRelay } from './fixtures/relay.js'
import { PeerPage } from './fixtures/peer.js'
import { runCli, startCliWorker } from './fixtures/cli.js'
import type { CliWorker } from './fixtures/cli.js'
import { NodeRunner } from '../src/cli/ort-node.js'
import { resolveModel } from '../src/models/catalog.js'
import { tensorsFromJSON } from '../src/tensor/index.js'
import { outputsAgree } from '../src/consensus/compare.js'
import { parseReceiptOutputs, verifyReceipt } from '../src/consensus/receipt.js'
import { libp2pVerifier } from '../src/network/keys.js'

const input = (i: number): any => ({ x: { dtype: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, j) => Math.round(Math.sin(i * 16 + j) * 1000) / 1000) } })

test('cheaters are outvoted, caught by rechecks and canaries, and no longer selected', async ({ browser }) => {
  test.setTimeout(300_000)
  const relay = await startTestRelay()
  const peers: PeerPage[] = []
  const workers: CliWorker[] = []
  const runner = new NodeRunner()
  try {
    for (const name of ['alice', 'bob', 'carol', 'dan']) peers.push(await PeerPage.open(browser, relay.addr, name))
    const wrong = await startCliWorker(relay.addr, 'always-wrong')
    workers.push(wrong)
    const colluder = await startCliWorker(relay.addr, 'collude')
    workers.push(colluder)
    const requester = await PeerPage.open(browser, relay.addr, 'requester')
    peers.push(requester)
    const honest = await Promise.all(peers.slice(0, 4).map(async p => await p.peerId()))
    const bad = [wrong.peerId, colluder.peerId]
    const wrongId = wrong.peerId
    await expect.poll(async () => (await requester.contributors()).filter(id => [...honest, ...bad].includes(id)).length, { timeout: 60_000 }).toBe(6)

    // small thresholds so the story fits in a test: established after 2 valid
    // votes, flagged after 2 invalid ones or one failed canary; half the jobs
    // are followed by a canary. Seeded, so the same peers are drawn each run
    // seeded: peer draws, canary draws and canary inputs repeat run to run
    await requester.page.evaluate(async () => { await window.crosscheck.configureRequester({ trust: { establishedAfter: 2, maxInvalid: 2 }, canaryRate: 0.5, seed: 20261128 }) })

    const mlp = await resolveModel('mlp')
    await runner.load(mlp.sha256, mlp.bytes)
    const flaggedNow = async (): Promise<string[]> => (await requester.page.evaluate(() => window.crosscheck.reputation())).filter(r => r.flagged).map(r => r.peerId)
    const receipts: string[] = []
    const receiptOutputs: string[] = []
    const checkCorrect = async (i: number, r: { output: any, agreeing: string[], receiptText: string, receiptOutputsText: string }): Promise<void> => {
      const ref = await runner.run(mlp.sha256, tensorsFromJSON(input(i)))
      expect(outputsAgree(tensorsFromJSON(r.output), ref.outputs, mlp.entry!.policy, 'ort-web/wasm/t2/chromium', ref.numericClass), `job ${i} accepted a wrong answer`).toBe(true)
      // the colluder answers honestly unless it holds the quorum; the always-wrong peer never agrees
      expect(r.agreeing, `job ${i}: a wrong vote was counted as agreeing`).not.toContain(wrongId)
      // the noisy peer agrees within the tolerance with other bytes: the receipt's outputs re-check that
      const v = await verifyReceipt(r.receiptText, libp2pVerifier, { outputs: parseReceiptOutputs(r.receiptOutputsText).outputs })
      expect(v.ok, JSON.stringify(v.checks.filter(c => !c.ok))).toBe(true)
      receipts.push(r.receiptText)
      receiptOutputs.push(r.receiptOutputsText)
    }

    let i = 0
    let noAnswer = 0
    for (; i < 80; i++) {
      let r
      try {
        r = await requester.requestModel('mlp', input(i), { adaptive: {} })
      } catch (err: any) {
        // two liars in one dispute can leave too few honest peers to outvote
        // them: the job then fails with no answer, which is allowed; a wrong
        // answer is not
        expect(String(err.message)).toContain('NoQuorumError')
        noAnswer++
        continue
      }
      await checkCorrect(i, r)
      await requester.page.evaluate(async () => { await window.crosscheck.settled() })
      const flagged = await flaggedNow()
      if (bad.every(b => flagged.includes(b))) break
    }
    await requester.page.evaluate(async () => { await window.crosscheck.settled() })
    const flagged = await flaggedNow()
    expect(flagged).toEqual(expect.arrayContaining(bad))
    for (const h of honest) expect(flagged).not.toContain(h)
    console.log(`both cheaters flagged after ${i + 1} jobs (${noAnswer} ended without an answer)`)
    expect(noAnswer).toBeLessThan(i + 1)

    // flagged peers are no longer asked
    for (let j = 0; j < 10; j++) {
      const r = await requester.requestModel('mlp', input(100 + j), { adaptive: {} })
      await checkCorrect(100 + j, r)
      for (const b of bad) expect(r.dispatched).not.toContain(b)
    }

    // receipts verify with the CLI; a replayed vote or an edited receipt does not
    const dir = await mkdtemp(join(tmpdir(), 'crosscheck-trust-'))
    const a = JSON.parse(receipts[receipts.length - 1])
    const b = JSON.parse(receipts[receipts.length - 2])
    await writeFile(join(dir, 'ok.json'), receipts[receipts.length - 1])
    await writeFile(join(dir, 'ok-outputs.json'), receiptOutputs[receiptOutputs.length - 1])
    const okRun = await runCli(['verify', join(dir, 'ok.json'), '--outputs', join(dir, 'ok-outputs.json')])
    expect(okRun.code, okRun.stdout + okRun.stderr).toBe(0)

    // a vote signed for another job, slipped in as a dissent (so the format
    // holds: from a peer that has no vote in this receipt, when there is one)
    const voters = new Set(a.votes.map((v: any) => v.body.peerId))
    const other = receipts.slice(0, -1).flatMap(r => JSON.parse(r).votes).find((v: any) => !voters.has(v.body.peerId))
    const { output: _o, ...foreign } = other ?? b.votes[0]
    const replayed = { ...a, votes: [...a.votes, { ...foreign, agrees: false }].sort((x: any, y: any) => (x.body.peerId < y.body.peerId ? -1 : 1)) }
    await writeFile(join(dir, 'replayed.json'), JSON.stringify(replayed, null, 2) + '\n')
    const rv = await runCli(['verify', join(dir, 'replayed.json')])
    expect(rv.code).toBe(1)
    // a second vote from one peer is refused by the format check before its signature is read
    expect(rv.stdout).toMatch(other != null ? /FAIL vote/ : /FAIL format/)

    // edit the job spec (its nonce) and the job id no longer matches
    const edited = receipts[receipts.length - 1].replace(/"nonce": "(.)/, (_m, c) => `"nonce": "${c === '0' ? '1' : '0'}`)
    expect(edited).not.toBe(receipts[receipts.length - 1])
    await writeFile(join(dir, 'edited.json'), edited)
    const ev = await runCli(['verify', join(dir, 'edited.json')])
    expect(ev.code).toBe(1)
    expect(ev.stdout).toMatch(/FAIL jobId/)
  } finally {
    await runner.close()
    await Promise.all(peers.map(async p => { await p.close() }))
    await Promise.all(workers.map(async w => { await w.stop() }))
    await relay.stop()
  }
})
