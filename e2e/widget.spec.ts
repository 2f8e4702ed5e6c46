/**
 * User story: a news site on another origin adds one script tag and one
 * `<crosscheck-contributor>` element. Nothing runs until a visitor clicks
 * Start inside the widget's frame (served from the Crosscheck site, isolated
 * by Document-Isolation-Policy although the host is not); the widget's peer
 * then answers a verified job from a requester page over a direct link. The
 * host sees only coarse state; messages from a foreign origin framed in the
 * same page (at the widget frame and at the host window) are ignored and
 * change nothing; the host can pause and stop but never start or resume.
 */
import { mkdirSync } from 'node:fs'
import { test, expect } from '@playwright/test'
import { startTestRelay } from './fixtures/relay.js'
import { PeerPage } from './fixtures/peer.js'
import { forgedEmbedUrl, serveForeign, serveHost, WidgetHost } from './fixtures/widget.js'
import type { TestServer } from './fixtures/widget.js'
import { verifyReceipt } from '../src/verify.js'

const SITE_PORT = Number(process.env.CROSSCHECK_E2E_PORT ?? 4173)
const HOST_PORT = SITE_PORT + 2
const FOREIGN_PORT = SITE_PORT + 3
const INPUT = { x: { dtype: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => i / 16) } }

type Relay = Awaited<ReturnType<typeof startTestRelay>>
let relay: Relay
let host: TestServer
let foreign: TestServer

test.beforeAll(async ({ baseURL }) => {
  relay = await startTestRelay()
  foreign = await serveForeign(FOREIGN_PORT)
  host = await serveHost(HOST_PORT, { site: baseURL as string, relay: relay.addr, foreign: foreign.origin })
})

test.afterAll(async () => {
  await host?.close()
  await foreign?.close()
  await relay?.stop()
})

test('a visitor of another origin starts the widget; its peer answers a verified job; foreign messages change nothing', async ({ browser, baseURL }) => {
  const site = baseURL as string
  expect(new URL(host.origin).origin).not.toBe(new URL(site).origin)
  let visitor: WidgetHost | undefined
  let requester: PeerPage | undefined
  try {
    requester = await PeerPage.open(browser, relay.addr, 'requester')
    // no background canaries: the host must see exactly the one job asked here
    await requester.page.evaluate(async () => { await window.crosscheck.configureRequester({ canaryRate: 0 }) })

    visitor = await WidgetHost.open(browser, `${host.origin}/`, site)
    const { page } = visitor
    expect((await fetch(`${site}/widget.js`)).headers.get('access-control-allow-origin')).toBe('*')
    expect((await fetch(`${site}/frame.html`)).headers.get('document-isolation-policy')).toBe('isolate-and-require-corp')
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(false) // the host is not isolated

    // nothing runs before the click: no node, the host sees 'idle'
    const frame = await visitor.frame()
    expect(new URL(frame.url()).searchParams.get('host')).toBe(host.origin)
    await expect.poll(async () => await visitor?.elementState()).toBe('idle')
    expect(await visitor.stats()).toBeUndefined()
    expect(await visitor.frameIsolated()).toBe(true) // Document-Isolation-Policy isolated the frame under a plain host

    await visitor.clickStart()
    const id = await visitor.waitContributing()
    const s = await visitor.stats()
    expect(s?.surface).toBe('widget')
    expect(s?.runtime?.crossOriginIsolated).toBe(true) // …and its inference worker
    const cores = await frame.evaluate(() => navigator.hardwareConcurrency)
    console.log(`widget runtime: ${s?.runtime?.backend}, ${s?.runtime?.threads} thread(s) of ${cores} cores, ${s?.runtime?.numericClass}; storage kept: ${String(await visitor.persistent())}`)
    if (cores > 1) expect(s?.runtime?.threads).toBeGreaterThan(1)
    await expect.poll(async () => await visitor?.elementState()).toBe('running')

    // the requester's only other contributor is the widget's peer: replicas 1, quorum 1
    await expect.poll(async () => await requester?.contributors(), { timeout: 60_000 }).toContain(id)
    const result = await requester.requestModel('mlp', INPUT, { replicas: 1, quorum: 1 })
    expect(result.agreeing).toEqual([id])
    const verified = await verifyReceipt(result.receiptText)
    expect(verified.checks.filter(c => !c.ok)).toEqual([])
    expect(verified.ok).toBe(true)
    const requesterId = await requester.peerId()
    expect((await visitor.stats())?.peers.find(p => p.peerId === requesterId)?.direct).toBe(true)

    // the host learns coarse state only: counts, backend, threads, no peer id
    await expect.poll(async () => (await visitor?.hostEvents())?.at(-1)?.jobsDone).toBe(1)
    const seen = (await visitor.hostEvents()).at(-1)
    expect(seen).toMatchObject({ state: 'running', jobsDone: 1, backend: s?.runtime?.backend, threads: s?.runtime?.threads, crossOriginIsolated: true, paused: false })
    expect(JSON.stringify(await visitor.hostEvents())).not.toContain(id)
    await expect(page.frameLocator('crosscheck-contributor iframe').locator('#jobs-done')).toHaveText('1')

    // the widget in its running state, for the README
    mkdirSync('docs', { recursive: true })
    // the README's picture is refreshed on request only, so test runs leave tracked files alone
    await page.screenshot({ path: process.env.CROSSCHECK_DOCS_SCREENSHOTS === '1' ? 'docs/widget.png' : test.info().outputPath('widget.png'), clip: { x: 0, y: 0, width: 1000, height: 360 } })

    // a foreign origin in the same page posts a forged stop and a forged state at every window it can reach
    const before = { frame: await visitor.frameIgnored(), host: await visitor.hostIgnored(), jobsDone: (await visitor.stats())?.jobsDone }
    const evil = await visitor.foreignFrame(foreign.origin)
    const forgedStop = { source: 'crosscheck', v: 1, type: 'command', command: 'stop' }
    const forgedState = { source: 'crosscheck', v: 1, type: 'state', detail: { state: 'stopped', linked: 999, jobsDone: 999, backend: 'wasm', threads: 64, crossOriginIsolated: false, paused: true } }
    for (const m of [forgedStop, forgedState]) await evil.evaluate((msg) => (window as unknown as { forge: (m: unknown) => number }).forge(msg), m)
    // the host window got both: the element refused them by origin
    await expect.poll(async () => await visitor?.hostIgnored(), { message: 'the element refused both by origin' }).toBe(before.host + 2)
    // a window of the host's own origin that is not the frame's parent can reach the frame: refused by source
    await visitor.forgeFromHelper(forgedStop, site)
    await expect.poll(async () => (await visitor?.frameIgnored())?.source, { message: 'the frame refused the wrong window' }).toBe(before.frame.source + 1)
    // (the foreign frame could not even address the widget's frame: it sits in the element's shadow root, outside window.frames)
    expect((await visitor.frameIgnored()).origin).toBe(before.frame.origin)
    const after = await visitor.stats()
    expect(after?.state).toBe('running')
    expect(after?.contributing).toBe(true)
    expect(after?.paused).toEqual([])
    expect(after?.jobsDone).toBe(before.jobsDone)
    expect(await visitor.elementState()).toBe('running')
    expect((await visitor.hostEvents()).some(e => e.jobsDone === 999 || e.linked === 999)).toBe(false)

    // the host itself may pause and stop, never start or resume: a 'resume' command is malformed
    await page.evaluate((origin) => {
      document.querySelector('crosscheck-contributor')?.shadowRoot?.querySelector('iframe')?.contentWindow?.postMessage({ source: 'crosscheck', v: 1, type: 'command', command: 'resume' }, origin)
    }, site)
    await expect.poll(async () => (await visitor?.frameIgnored())?.shape).toBe(before.frame.shape + 1)
    await page.evaluate(() => { document.querySelector('crosscheck-contributor')?.pause() })
    await expect.poll(async () => (await visitor?.stats())?.paused).toEqual(['user'])
    await expect.poll(async () => await visitor?.elementState()).toBe('paused')
    await page.evaluate(() => { document.querySelector('crosscheck-contributor')?.stop() })
    await expect.poll(async () => await visitor?.elementState()).toBe('stopped')
    expect(await visitor.stats()).toBeUndefined()
  } finally {
    await visitor?.close()
    await requester?.close()
  }
})

test('a foreign page that embeds the frame claiming to be another host gets a frame that will not start', async ({ browser, baseURL }) => {
  const site = baseURL as string
  const context = await browser.newContext()
  try {
    const page = await context.newPage()
    await page.goto(forgedEmbedUrl(foreign.origin, site, relay.addr, host.origin))
    let frame = page.frames().find(f => f.url().startsWith(`${site}/frame.html`))
    await expect.poll(async () => {
      frame = page.frames().find(f => f.url().startsWith(`${site}/frame.html`))
      return await frame?.evaluate(() => 'crosscheck' in window).catch(() => false)
    }).toBe(true)
    // location.ancestorOrigins names the real parent: the claim is refused, nothing listens or posts
    const h = await frame?.evaluate(() => (window as unknown as { crosscheck: { host: () => { ok: boolean, reason?: string } } }).crosscheck.host())
    expect(h).toEqual({ ok: false, reason: `the embedding page (${foreign.origin}) claims to be ${host.origin}` })
    await expect(page.frameLocator('iframe').getByRole('button', { name: 'Start' })).toBeDisabled()
    await expect(page.frameLocator('iframe').locator('#error')).toContainText('claims to be')
  } finally {
    await context.close()
  }
})

test('on a cross-site host, where this browser blocks third-party storage, the widget runs with an identity for this visit only', async ({ browser, baseURL }) => {
  const site = baseURL as string
  // localhost vs 127.0.0.1: another site, not just another origin, so the frame is third-party
  // (Playwright's contexts block third-party storage, as incognito windows do)
  const crossSite = host.origin.replace('127.0.0.1', 'localhost')
  const visitor = await WidgetHost.open(browser, `${crossSite}/`, site)
  let requester: PeerPage | undefined
  try {
    await visitor.clickStart()
    const id = await visitor.waitContributing()
    expect(await visitor.persistent()).toBe(false)
    expect((await visitor.stats())?.runtime?.crossOriginIsolated).toBe(true)
    await expect.poll(async () => await visitor.elementState()).toBe('running')
    await expect(visitor.page.frameLocator('crosscheck-contributor iframe').locator('#storage')).toHaveText('this visit only (storage blocked)')

    // it serves jobs all the same (model fetched over HTTP into memory)
    requester = await PeerPage.open(browser, relay.addr, 'requester 2')
    await expect.poll(async () => await requester?.contributors(), { timeout: 60_000 }).toContain(id)
    const result = await requester.requestModel('mlp', INPUT, { replicas: 1, quorum: 1 })
    expect(result.agreeing).toEqual([id])
    expect((await verifyReceipt(result.receiptText)).ok).toBe(true)
  } finally {
    await visitor.close()
    await requester?.close()
  }
})
