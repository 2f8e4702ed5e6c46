/**
 * User story: a requester reads the bundled sample image; text detection and
 * recognition each run as verified jobs on three contributor peers.
 */
import { test, expect } from '@playwright/test'
import { startTestRelay } from './fixtures/relay.js'
import { PeerPage } from './fixtures/peer.js'
import { parseReceiptOutputs, verifyReceipt } from '../src/consensus/receipt.js'
import { libp2pVerifier } from '../src/network/keys.js'

test('PaddleOCR reads the sample image through three peers', async ({ browser }) => {
  const relay = await startTestRelay()
  const peers: PeerPage[] = []
  try {
    for (const name of ['alice', 'bob', 'carol', 'requester']) peers.push(await PeerPage.open(browser, relay.addr, name))
    const requester = peers[3]
    const ids = await Promise.all(peers.slice(0, 3).map(async p => await p.peerId()))
    await expect.poll(async () => (await requester.contributors()).filter(id => ids.includes(id)).length).toBe(3)

    const result = await requester.readSample({ replicas: 3, quorum: 2 })
    expect(result.text).toBe('Hello ONNX 2026')
    // one detection job and one recognition job per line, each accepted by quorum
    expect(result.jobs.length).toBeGreaterThanOrEqual(2)
    for (const job of result.jobs) {
      expect(job.agreeing.length).toBeGreaterThanOrEqual(2)
      for (const p of job.agreeing) expect(ids).toContain(p)
      // the receipt commits to the outputs by hash; their bytes, beside it, re-check the agreement (ctc-text)
      const { outputs } = parseReceiptOutputs(job.receiptOutputsText)
      const v = await verifyReceipt(job.receiptText, libp2pVerifier, { outputs })
      expect(v.ok, JSON.stringify(v.checks.filter(c => !c.ok))).toBe(true)
      expect(v.checks.find(c => c.name === 'outputs')?.ok).toBe(true)
    }
  } finally {
    await Promise.all(peers.map(async p => { await p.close() }))
    await relay.stop()
  }
})
