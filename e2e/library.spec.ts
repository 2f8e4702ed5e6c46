/**
 * User story: a third-party site uses the `crosscheck` package. Its page (on
 * another origin than the Crosscheck site) creates a node with the relay and
 * the site's catalog, runs `mlp` on two contributors that must agree, and gets
 * `{ outputs, receipt }`; the receipt verifies with `crosscheck/verify` in the
 * page and again here in Node. A plain Node 20 program using the package's
 * Node entry does the same.
 */
import { test, expect } from '@playwright/test'
import { startTestRelay } from './fixtures/relay.js'
import { PeerPage } from './fixtures/peer.js'
import { buildExample, buildLibrary, ExamplePage, runNodeLibrary, serveExample } from './fixtures/library.js'
import type { ExampleServer } from './fixtures/library.js'
import { libp2pVerifier } from '../src/network/keys.js'
import { hashTensors, tensorsFromJSON } from '../src/tensor/index.js'

const SITE_PORT = Number(process.env.CROSSCHECK_E2E_PORT ?? 4173)
const EXAMPLE_PORT = SITE_PORT + 1

type Relay = Awaited<ReturnType<typeof startTestRelay>>
/** `crosscheck/verify` as the package ships it (dist-lib, built in beforeAll): the module a dependent would load. */
type VerifyModule = typeof import('../src/verify.js')

let example: ExampleServer
let relay: Relay
let contributors: PeerPage[] = []
let verify: VerifyModule

test.beforeAll(async ({ browser }) => {
  test.setTimeout(300_000)
  buildLibrary()
  buildExample()
  example = await serveExample(EXAMPLE_PORT)
  verify = await import(new URL('../dist-lib/src/verify.js', import.meta.url).href) as VerifyModule
  relay = await startTestRelay()
  for (const name of ['alice', 'bob']) contributors.push(await PeerPage.open(browser, relay.addr, name))
})

test.afterAll(async () => {
  // each one even if another fails: a leftover server would hold the port for the next run
  const quietly = async (what: string, fn: () => Promise<void>): Promise<void> => { await fn().catch((err: Error) => { console.error(`closing ${what}: ${err.message}`) }) }
  for (const p of contributors) await quietly(p.name, async () => { await p.close() })
  contributors = []
  await quietly('relay', async () => { await relay?.stop() })
  await quietly('example server', async () => { await example?.close() })
})

test('a page on another origin gets { outputs, receipt } through the library and the receipt verifies', async ({ browser, baseURL }) => {
  const site = `${baseURL}/`
  expect(new URL(example.origin).origin).not.toBe(new URL(site).origin)
  const ids = await Promise.all(contributors.map(async p => await p.peerId()))

  const page = await ExamplePage.open(browser, `${example.origin}/?site=${encodeURIComponent(site)}&relay=${encodeURIComponent(relay.addr)}`)
  try {
    await expect.poll(async () => await page.text('status'), { message: 'the example page gets a verified result', timeout: 150_000 })
      .toMatch(/^accepted|Error/)
    expect(await page.text('status')).toBe('accepted: 2 peers agree')
    // the catalog came cross-origin from the Crosscheck site, allowed by its CORS headers
    const manifest = page.responses.find(r => r.url === `${site}models/manifest.json`)
    expect(manifest?.status).toBe(200)
    expect(manifest?.headers['access-control-allow-origin']).toBe('*')
    expect(manifest?.headers['cross-origin-resource-policy']).toBe('cross-origin')

    // the package's worker (and onnxruntime-web) were bundled by the example's own vite build and started
    expect(await page.text('runtime')).toMatch(/^ort-web\/wasm\//)

    // verified in the page with crosscheck/verify
    expect(await page.text('verified')).toBe('verifies')

    // ... and here, in Node, with the shipped crosscheck/verify (no libp2p) and with the libp2p verifier
    const receipt = await page.text('receipt')
    const mine = await verify.verifyReceipt(receipt)
    expect(mine.checks.filter(c => !c.ok)).toEqual([])
    expect(mine.ok).toBe(true)
    expect(await verify.verifyReceipt(receipt, libp2pVerifier)).toEqual(mine)
    const r = verify.parseReceipt(receipt)
    expect(r.spec.replicas).toBe(2)
    expect(r.spec.quorum).toBe(2)
    expect(r.votes.filter(v => v.agrees).map(v => v.body.peerId).sort()).toEqual([...ids].sort())
    // the outputs the page showed are the ones the receipt commits to (v2: by hash)
    expect(r.v).toBe(2)
    expect(hashTensors(tensorsFromJSON(JSON.parse(await page.text('outputs'))))).toBe(r.accepted.outputHash)

    // one flipped character and it no longer verifies
    const i = receipt.indexOf('"outputHash": "') + 20
    const tampered = receipt.slice(0, i) + (receipt[i] === '0' ? '1' : '0') + receipt.slice(i + 1)
    expect((await verify.verifyReceipt(tampered)).ok).toBe(false)
  } finally {
    await page.close()
  }
})

test('a plain Node 20 program runs a job with createNode from the package\'s Node entry', async ({ baseURL }) => {
  const ids = await Promise.all(contributors.map(async p => await p.peerId()))
  const inputs = { x: { dtype: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => (i % 5) / 5) } }
  const result = await runNodeLibrary({ relay: relay.addr, site: `${baseURL}/`, model: 'mlp', inputs, replicas: 2, quorum: 2 })
  expect(result.error).toBeUndefined()
  expect(result.ok).toBe(true)
  expect([...result.agreeing ?? []].sort()).toEqual([...ids].sort())
  const v = await verify.verifyReceipt(result.receipt ?? '')
  expect(v.checks.filter(c => !c.ok)).toEqual([])
  expect(verify.parseReceipt(result.receipt ?? '').spec.requester).toBe(result.peerId)
})
