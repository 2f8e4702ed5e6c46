/**
 * User story: one browser profile, two tabs. The second tab does not join as
 * the same peer; it says who holds the identity, and can take it over, after
 * which the first tab stops and says so.
 */
import { test, expect } from '@playwright/test'
import type { Page } from '@playwright/test'
import { startTestRelay } from './fixtures/relay.js'

async function stats (page: Page): Promise<any> {
  return await page.evaluate(() => window.crosscheck?.stats())
}

test('a second tab of one profile never runs the same peer id; it can take the identity over', async ({ browser }) => {
  const relay = await startTestRelay()
  // one context = one browser profile: shared IndexedDB, Web Locks and BroadcastChannel
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] })
  try {
    const url = `/?autostart=1&pauseOnPressure=0&relay=${encodeURIComponent(relay.addr)}`
    const first = await context.newPage()
    await first.goto(url)
    await expect.poll(async () => (await stats(first))?.contributing, { timeout: 60_000, message: 'the first tab contributes' }).toBe(true)
    const peerId: string = (await stats(first)).peerId

    const second = await context.newPage()
    await second.goto(url)
    await expect(second.locator('#locked')).toBeVisible({ timeout: 30_000 })
    // the holder answered who it is: the page names its peer id
    await expect(second.locator('#locked-text')).toContainText(peerId.slice(0, 8))
    await expect(second.locator('#status')).toBeHidden()
    expect(await stats(second)).toBeUndefined()
    expect((await stats(first)).state).toBe('running')

    await second.getByRole('button', { name: 'Use it here instead' }).click()
    await expect.poll(async () => (await stats(second))?.contributing, { timeout: 60_000, message: 'the second tab contributes' }).toBe(true)
    expect((await stats(second)).peerId).toBe(peerId)
    // the first tab was told, stopped, and shows it
    await expect(first.locator('#locked')).toBeVisible()
    await expect(first.locator('#locked-text')).toContainText('took this identity over')
    expect((await stats(first)).state).toBe('locked')
  } finally {
    await context.close()
    await relay.stop()
  }
})
