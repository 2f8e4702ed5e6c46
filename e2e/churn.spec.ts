/**
 * User story (issue 8, "Nothing lost"): a contributor site lives on churn.
 * Waves of visitors open the page, link directly, serve a job for a
 * requester who stays, and close the page; every wave after the first finds
 * the network as the first did (before the fix, from the ~10th visitor on,
 * new pages showed "Relay connected" but never linked nor got a job). Then
 * the relay is killed mid-run: jobs keep crossing the direct links, the page
 * says it is unreachable, and once the relay is back on the same port and id
 * every page takes a reservation again by itself.
 */
import './fixtures/polyfill.js'
import { test, expect } from '@playwright/test'
import { startRelay } from '../src/network/relay.js'
import type { Relay } from '../src/network/relay.js'
import { generateIdentity } from '../src/network/keys.js'
import { PeerPage } from './fixtures/peer.js'

const WAVES = 4
const PER_WAVE = 3
const MLP_INPUT = { x: { dtype: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => Math.round(Math.sin(i + 1) * 1000) / 1000) } }

test('waves of pages come, link, serve and go; a relay restart loses nothing', async ({ browser }) => {
  test.setTimeout(240_000)
  const relayKey = await generateIdentity()
  let relay: Relay = await startRelay({ host: '127.0.0.1', port: 0, privateKey: relayKey })
  const addr = relay.multiaddrs.find(a => a.includes('/ws/')) ?? relay.multiaddrs[0]
  const port = Number(addr.split('/tcp/')[1].split('/')[0])
  const open: PeerPage[] = []
  try {
    const requester = await PeerPage.open(browser, addr, 'requester')
    // no background canaries: each wave's job count must be exactly the job it served
    await requester.page.evaluate(async () => { await window.crosscheck.configureRequester({ canaryRate: 0 }) })
    open.push(requester)
    const requesterId = await requester.peerId()
    let wave: PeerPage[] = []
    let ids: string[] = []

    for (let w = 1; w <= WAVES; w++) {
      wave = await Promise.all(Array.from({ length: PER_WAVE }, async (_, i) => await PeerPage.open(browser, addr, `wave${w}-${i}`)))
      open.push(...wave)
      ids = (await Promise.all(wave.map(async p => await p.peerId()))).sort()

      // the requester offers jobs to exactly this wave: departed pages are not candidates
      await expect.poll(async () => await requester.contributors(), { timeout: 30_000, message: `wave ${w}: the requester's contributors are this wave` }).toEqual(ids)

      // replicas 3, quorum 3: every page of the wave serves the job
      const result = await requester.requestModel('mlp', MLP_INPUT, { replicas: PER_WAVE, quorum: PER_WAVE })
      expect([...result.agreeing].sort(), `wave ${w} served the job`).toEqual(ids)
      for (const p of wave) expect((await p.stats())?.jobsDone, `${p.name} counted its job`).toBe(1)
      // links on demand: each page is linked to the requester that gave it work, and to no other page
      for (const p of wave) expect(await p.directPeers(), `wave ${w}: ${p.name} links only to the requester`).toEqual([requesterId])
      if (w === WAVES) break

      await Promise.all(wave.map(async p => { await p.close(); open.splice(open.indexOf(p), 1) }))
      // the relay forgets the departed: only the requester's connection and reservation stay
      await expect.poll(() => relay.stats(), { timeout: 20_000, message: `wave ${w}: the relay releases the departed pages` }).toMatchObject({ connections: 1, reservations: 1 })
    }

    // the relay dies mid-run: the last wave and the requester stay linked
    await relay.stop()
    for (const p of [requester, ...wave]) {
      await expect.poll(async () => (await p.stats())?.reachable, { timeout: 15_000, message: `${p.name} notices the relay is gone` }).toBe(false)
    }
    // the page says so, rather than "connected"
    await expect(requester.page.locator('#state')).toHaveText('unreachable')
    const during = await requester.requestModel('mlp', MLP_INPUT, { replicas: PER_WAVE, quorum: PER_WAVE })
    expect([...during.agreeing].sort(), 'jobs cross the direct links while the relay is down').toEqual(ids)

    // back on the same port with the same id: every page re-reserves by itself (backoff redial)
    relay = await startRelay({ host: '127.0.0.1', port, privateKey: relayKey })
    for (const p of [requester, ...wave]) {
      await expect.poll(async () => (await p.stats())?.reachable, { timeout: 45_000, message: `${p.name} takes a reservation again` }).toBe(true)
    }
    await expect(requester.page.locator('#state')).toHaveText('contributing')
    await expect.poll(() => relay.stats().reservations, { timeout: 10_000 }).toBe(PER_WAVE + 1)
    const after = await requester.requestModel('mlp', MLP_INPUT, { replicas: PER_WAVE, quorum: PER_WAVE })
    expect([...after.agreeing].sort()).toEqual(ids)
  } finally {
    await Promise.all(open.map(async p => { await p.close() }))
    await relay.stop().catch(() => {})
  }
})
