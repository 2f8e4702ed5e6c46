/**
 * User story (issue 14, "a crowd, not a mesh"): visitors come and go while
 * verified jobs run. Two relays form a lease backbone; contributor pages and
 * Node workers lease themselves to their home relays; the CLI submits
 * verified jobs (k=3, q=2). Pages leave and late pages arrive mid-run.
 * Every job ends accepted or with a named error; no page holds more links
 * than its bound (the requesting page runs with `?maxLinks=4`, so its pool
 * must cycle links, not grow them); contributors never link to one another;
 * and a page that arrived late still gets work.
 */
import './fixtures/polyfill.js'
import { test, expect } from '@playwright/test'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRelay } from '../src/network/relay.js'
import type { Relay } from '../src/network/relay.js'
import { NAMED_ERRORS, spawnWorker } from '../src/reliability/harness.js'
import type { WorkerProcess } from '../src/reliability/harness.js'
import { PeerPage } from './fixtures/peer.js'
import { runCli } from './fixtures/cli.js'

const MLP_INPUT = { x: { dtype: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => Math.round(Math.cos(i + 2) * 1000) / 1000) } }
const FIRST_PAGES = 5
const LATE_PAGES = 2
const MAX_LINKS = 4

test('a crowd comes and goes over two relays: every job ends by name, links stay bounded, a late page gets work', async ({ browser }) => {
  test.setTimeout(300_000)
  const relays: Relay[] = []
  const pages: PeerPage[] = []
  const workers: WorkerProcess[] = []
  try {
    relays.push(await startRelay({ host: '127.0.0.1', port: 0 }))
    relays.push(await startRelay({ host: '127.0.0.1', port: 0, peers: [relays[0].multiaddrs[0]] }))
    await expect.poll(() => relays.every(r => r.stats().backbone === 1), { message: 'the relays form a backbone' }).toBe(true)
    const addrs = relays.map(r => r.multiaddrs[0])
    const relayParam = addrs.join(',')

    const requester = await PeerPage.open(browser, relayParam, 'requester', `&maxLinks=${MAX_LINKS}`)
    await requester.page.evaluate(async () => { await window.crosscheck.configureRequester({ canaryRate: 0 }) })
    pages.push(requester)
    const joinMs: number[] = []
    const arrive = async (name: string): Promise<PeerPage> => {
      const p = await PeerPage.open(browser, relayParam, name)
      joinMs.push(await p.page.evaluate(() => performance.now()))
      pages.push(p)
      return p
    }
    for (let i = 0; i < FIRST_PAGES; i++) await arrive(`visitor-${i}`)
    for (let i = 0; i < 2; i++) workers.push(await spawnWorker(addrs))
    const everyone = async (): Promise<string[]> => [...await Promise.all(pages.slice(1).map(async p => await p.peerId())), ...workers.map(w => w.peerId)]
    await expect.poll(async () => (await requester.contributors()).length, { timeout: 60_000, message: 'the requester samples the crowd' }).toBe(FIRST_PAGES + 2)

    const dir = await mkdtemp(join(tmpdir(), 'crosscheck-crowd-'))
    const inputPath = join(dir, 'input.json')
    await writeFile(inputPath, JSON.stringify(MLP_INPUT))
    const outcomes: string[] = []
    const bounded = async (): Promise<void> => {
      for (const p of pages) {
        const s = await p.stats()
        expect(s?.links.links ?? 0, `${p.name} holds no more links than its bound`).toBeLessThanOrEqual(s?.links.maxLinks ?? 16)
      }
    }

    // two verified CLI jobs (k=3, q=2) against the first crowd
    for (let i = 0; i < 2; i++) {
      const submit = await runCli(['submit', ...addrs.flatMap(a => ['--relay', a]), '--model', 'mlp', '--input', inputPath, '--replicas', '3', '--quorum', '2', '--out', join(dir, `r${i}.json`)], { timeoutMs: 150_000 })
      outcomes.push(submit.code === 0 ? JSON.parse(submit.stdout).status : /crosscheck: (\w+Error)/.exec(submit.stderr)?.[1] ?? `unnamed: ${submit.stderr}`)
    }

    // visitors leave, late ones arrive
    const leaving = pages.splice(2, 2)
    await Promise.all(leaving.map(async p => { await p.close() }))
    const late: PeerPage[] = []
    for (let i = 0; i < LATE_PAGES; i++) late.push(await arrive(`late-${i}`))
    const lateIds = await Promise.all(late.map(async p => await p.peerId()))

    // the requesting page keeps drawing from its rotating pool until a late page has served (bounded)
    const served = async (): Promise<number> => (await Promise.all(late.map(async p => (await p.stats())?.jobsDone ?? 0))).reduce((a, b) => a + b, 0)
    for (let i = 0; i < 30 && await served() === 0; i++) {
      try {
        const r = await requester.requestModel('mlp', MLP_INPUT, { replicas: 3, quorum: 2 })
        outcomes.push(r.agreeing.length >= 2 ? 'accepted' : 'short')
      } catch (err) {
        outcomes.push(/(\w+Error)/.exec(String((err as Error).message))?.[1] ?? `unnamed: ${String(err)}`)
      }
      await bounded()
    }
    expect(await served(), 'a page that arrived late got work').toBeGreaterThan(0)

    // every job ended accepted or with a named error; on a healthy crowd, all accepted
    for (const o of outcomes) expect(o === 'accepted' || NAMED_ERRORS.has(o), `outcome ${o}`).toBe(true)
    expect(outcomes.filter(o => o === 'accepted').length, outcomes.join(', ')).toBe(outcomes.length)

    // links on demand: the requester cycled its few links instead of growing them, and no contributor linked to another
    const rs = await requester.stats()
    expect(rs?.links.maxLinks).toBe(MAX_LINKS)
    expect(rs?.links.links ?? 99).toBeLessThanOrEqual(MAX_LINKS)
    const requesterId = await requester.peerId()
    const ids = await everyone()
    for (const p of pages.slice(1)) expect((await p.directPeers()).filter(id => id !== requesterId && ids.includes(id)), `${p.name} links to no other contributor`).toEqual([])
    for (const p of pages) expect((await p.stats())?.contributing, `${p.name} still says contributing`).toBe(true)
    expect(lateIds.length).toBe(LATE_PAGES)
    console.log('crowd: contributing after page load (ms, includes the poll interval):', joinMs.map(Math.round).join(', '), '; outcomes:', outcomes.join(','), '; requester links created:', rs?.links.created)
  } finally {
    await Promise.all(pages.map(async p => { await p.close() }))
    await Promise.all(workers.map(async w => { await w.kill() }))
    for (const r of relays) await r.stop().catch(() => {})
  }
})
