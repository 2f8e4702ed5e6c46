/**
 * User story: someone was given a receipt (and its outputs file) and opens
 * the site's receipt page with no network: it verifies in the page, shows
 * each voter's check, names what a tampered receipt breaks, and opens `#r=`
 * links.
 */
import { test, expect } from '@playwright/test'
import { receiptLink } from '../src/ui/receipt-link.js'
import { tolerantReceipt } from '../src/testing/receipts.js'

test('the receipt page verifies a receipt offline, names what a tampered one breaks, and opens #r= links', async ({ browser }) => {
  // as `crosscheck run --out` writes it: two votes, one agreeing within the tolerance with other bytes
  const { text, outputsText, voters: signers } = await tolerantReceipt(70)
  const voters = signers.map(v => v.peerId)
  const context = await browser.newContext()
  try {
    const page = await context.newPage()
    await page.goto('/receipt.html')
    await expect(page.locator('#verify')).toBeVisible()
    // from here on nothing can be fetched: the check runs in the page
    await context.setOffline(true)

    await page.locator('#receipt-text').fill(text)
    await page.locator('#verify').click()
    // bob agreed with other bytes: without the outputs that cannot be re-checked, and the page says so
    await expect(page.locator('#verdict')).toHaveText('invalid: failed agreement')
    await expect(page.locator('#checks')).toContainText("needs the receipt's outputs")

    await page.locator('#outputs-text').fill(outputsText)
    await page.locator('#verify').click()
    await expect(page.locator('#verdict')).toHaveText('valid')
    await expect(page.locator('#status-text')).toContainText('final')
    await expect(page.locator('#voters li')).toHaveCount(2)
    for (const peer of voters) await expect(page.locator('#voters')).toContainText(`${peer} agreed`)
    await expect(page.locator('#voters li.ok')).toHaveCount(2)
    await expect(page.locator('dd[data-field="job"]')).toHaveText(JSON.parse(text).jobId)

    // one character of the spec changed: the job id no longer matches, and the requester's signature fails
    const tampered = text.replace(/"nonce": "(.)/, (_m, c: string) => `"nonce": "${c === '0' ? '1' : '0'}`)
    expect(tampered).not.toBe(text)
    await page.locator('#receipt-text').fill(tampered)
    await page.locator('#verify').click()
    await expect(page.locator('#verdict')).toHaveText(/^invalid: failed .*jobId/)
    await expect(page.locator('#verdict')).toContainText('requester')
    // outputs that do not hash to what the receipt commits to are refused by name
    await page.locator('#receipt-text').fill(text)
    const forged = outputsText.replace(/"data": "(.)/, (_m, c: string) => `"data": "${c === 'A' ? 'B' : 'A'}`)
    expect(forged).not.toBe(outputsText)
    await page.locator('#outputs-text').fill(forged)
    await page.locator('#verify').click()
    await expect(page.locator('#verdict')).toContainText('outputs')

    // a link carries the receipt and its outputs in the fragment (never sent to a server)
    const link = receiptLink(text, outputsText)
    await page.evaluate((hash) => { location.hash = hash }, link.slice(link.indexOf('#')))
    await expect(page.locator('#verdict')).toHaveText('valid')
    await expect(page.locator('#receipt-text')).toHaveValue(text)
  } finally {
    await context.close()
  }
})
