/**
 * User story: someone installs the Crosscheck browser extension, enters the
 * relay in its popup and presses Start. The extension's node (in its offscreen
 * document) answers a verified job from a requester page over a direct WebRTC
 * link. After the browser is closed and opened again with the same profile, it
 * comes back by itself as the same peer, with its cached model, and serves the
 * next job without downloading the model again.
 */
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test, expect } from '@playwright/test'
import { startTestRelay } from './fixtures/relay.js'
import { PeerPage } from './fixtures/peer.js'
import { ExtensionPeer } from './fixtures/extension.js'
import { resolveModel } from '../src/models/catalog.js'
import { verifyReceipt } from '../src/verify.js'

const INPUT = { x: { dtype: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => i / 16) } }

test('the extension contributes from its offscreen document and keeps its identity and model across browser restarts', async ({ browser }) => {
  const relay = await startTestRelay()
  const profile = mkdtempSync(join(tmpdir(), 'crosscheck-extension-'))
  let extension: ExtensionPeer | undefined
  let requester: PeerPage | undefined
  try {
    extension = await ExtensionPeer.launch(profile, 'extension')
    expect((await extension.status()).offscreen).toBeNull() // nothing runs before Start
    await extension.start(relay.addr)
    const id = await extension.waitContributing()

    const joined = await extension.status()
    expect(joined.offscreen?.crossOriginIsolated).toBe(true) // manifest COOP/COEP reach the offscreen document
    const runtime = joined.offscreen?.node?.runtime
    expect(runtime?.crossOriginIsolated).toBe(true) // …and its inference worker
    console.log(`extension runtime: ${runtime?.backend}, ${runtime?.threads} thread(s) of ${joined.offscreen?.hardwareConcurrency} cores, ${runtime?.numericClass}`)
    expect(joined.settings).toMatchObject({ relay: relay.addr, contribute: true })

    requester = await PeerPage.open(browser, relay.addr, 'requester')
    const requesterId = await requester.peerId()
    // no background canary jobs: the extension's job count must be exactly the jobs asked here
    await requester.page.evaluate(async () => { await window.crosscheck.configureRequester({ canaryRate: 0 }) })
    await expect.poll(async () => await requester?.contributors(), { timeout: 60_000 }).toContain(id)
    const mlp = await resolveModel('mlp')

    // the requester's only other contributor is the extension: replicas 1, quorum 1
    const first = await requester.requestModel('mlp', INPUT, { replicas: 1, quorum: 1 })
    expect(first.agreeing).toEqual([id])
    const verified = await verifyReceipt(first.receiptText)
    expect(verified.checks.filter(c => !c.ok)).toEqual([])
    expect(verified.ok).toBe(true)

    const served = await extension.node()
    expect(served?.jobsDone).toBe(1)
    expect(served?.models.map(m => m.sha256)).toContain(mlp.sha256)
    expect(served?.modelDownloads).toBe(1) // from the extension's own catalog
    // WebRTC works from the offscreen document: the requester is linked directly, not through the relay
    expect(served?.peers.find(p => p.peerId === requesterId)?.direct).toBe(true)
    await expect(extension.popup.locator('#jobs-done')).toHaveText('1')

    // the popup in its running state; CROSSCHECK_DOCS_SCREENSHOTS=1 refreshes the README's picture
    // (off by default, so that a test run leaves tracked files alone)
    const shot = process.env.CROSSCHECK_DOCS_SCREENSHOTS === '1' ? 'docs/extension.png' : test.info().outputPath('popup.png')
    mkdirSync(dirname(shot), { recursive: true })
    await extension.popup.locator('body').screenshot({ path: shot })

    // close the browser; open it again with the same profile: no click needed, the choice was kept
    await extension.close()
    extension = await ExtensionPeer.launch(profile, 'extension (relaunched)')
    expect(await extension.waitContributing()).toBe(id)
    const back = await extension.node()
    expect(back?.models.map(m => m.sha256)).toContain(mlp.sha256)
    expect(back?.modelDownloads).toBe(0)

    // it serves the next job from its cache. The requester may still hold its
    // link to the closed browser for a few seconds: wait until that stale link
    // is gone or a fresh one exists (the relaunched node sees it); a job dials
    // a missing link on demand
    // (links form on discovery from the lower peer id only: say which side that is, for the log)
    console.log(`after relaunch the ${id < requesterId ? 'extension' : 'requester'} dials`)
    await expect.poll(async () => {
      const fresh = (await extension?.node())?.peers.some(p => p.peerId === requesterId && p.direct) === true
      const stale = (await requester?.directPeers())?.includes(id) === true
      return fresh || !stale
    }, { timeout: 60_000, message: 'the requester drops its link to the closed browser' }).toBe(true)
    const second = await requester.requestModel('mlp', INPUT, { replicas: 1, quorum: 1 })
    expect(second.agreeing).toEqual([id])
    expect(second.outputHash).toBe(first.outputHash)
    const after = await extension.node()
    expect(after?.jobsDone).toBe(1)
    expect(after?.modelDownloads).toBe(0)
    expect(after?.peers.find(p => p.peerId === requesterId)?.direct).toBe(true)

    // the CPU share control reaches the node and is kept
    await extension.popup.locator('#cpu-share').fill('50')
    await expect.poll(async () => await extension?.status().then(s => [s.settings.cpuShare, s.offscreen?.node?.cpuShare])).toEqual([0.5, 0.5])

    // Stop ends it and is remembered
    await extension.stop()
    await expect.poll(async () => await extension?.status().then(s => ({ node: s.offscreen, contribute: s.settings.contribute }))).toEqual({ node: null, contribute: false })
    await expect(extension.popup.locator('#state')).toHaveText('stopped')
  } finally {
    await requester?.close()
    await extension?.close().catch(() => {})
    await relay.stop()
    rmSync(profile, { recursive: true, force: true })
  }
})
