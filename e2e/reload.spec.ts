/**
 * User story: a contributor reloads the page. It comes back as the same peer
 * (identity in IndexedDB) with its cached model, and serves the next job
 * without downloading the model again.
 */
import { test, expect } from '@playwright/test'
import { startTestRelay } from './fixtures/relay.js'
import { PeerPage } from './fixtures/peer.js'
import { resolveModel } from '../src/models/catalog.js'

const INPUT = { x: { dtype: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => i / 16) } }

test('a reloaded contributor keeps its peer id and cached model', async ({ browser }) => {
  const relay = await startTestRelay()
  const peers: PeerPage[] = []
  try {
    const contributor = await PeerPage.open(browser, relay.addr, 'contributor')
    peers.push(contributor)
    const requester = await PeerPage.open(browser, relay.addr, 'requester')
    // no background canaries: the contributor's job count must be exactly the jobs asked here
    await requester.page.evaluate(async () => { await window.crosscheck.configureRequester({ canaryRate: 0 }) })
    peers.push(requester)
    const id = await contributor.peerId()
    const mlp = await resolveModel('mlp')

    await expect.poll(async () => await requester.contributors()).toContain(id)
    const first = await requester.requestModel('mlp', INPUT, { replicas: 1, quorum: 1 })
    expect(first.agreeing).toEqual([id])
    const before = await contributor.stats()
    expect(before?.modelDownloads).toBe(1) // fetched from the requester, peer to peer
    expect(before?.models.map(m => m.sha256)).toContain(mlp.sha256)

    await contributor.reload()
    expect(await contributor.peerId()).toBe(id)
    const after = await contributor.stats()
    expect(after?.models.map(m => m.sha256)).toContain(mlp.sha256)
    expect(after?.modelDownloads).toBe(0)

    // the reloaded peer leases itself again and serves the next job from its
    // cache; the requester's stale pre-reload link fails and it links afresh
    const requesterId = await requester.peerId()
    await expect.poll(async () => await requester.contributors()).toContain(id)
    const second = await requester.requestModel('mlp', INPUT, { replicas: 1, quorum: 1 })
    expect(await contributor.directPeers(), 'the reloaded contributor is linked directly to the requester').toContain(requesterId)
    expect(second.agreeing).toEqual([id])
    expect(second.outputHash).toBe(first.outputHash)
    expect((await contributor.stats())?.modelDownloads).toBe(0)
    expect((await contributor.stats())?.jobsDone).toBe(1)
  } finally {
    await Promise.all(peers.map(async p => { await p.close() }))
    await relay.stop()
  }
})
