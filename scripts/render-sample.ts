/**
 * Renders public/samples/hello.png: "Hello ONNX 2026", black on white, 480x120,
 * drawn on a canvas by headless Chromium (the same text engine the browser peers use).
 *
 * Run: npx tsx scripts/render-sample.ts [out.png]
 */
import { writeFile, mkdir } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { chromium } from 'playwright-core'

const TEXT = 'Hello ONNX 2026'
const WIDTH = 480
const HEIGHT = 120
const out = resolve(process.argv[2] ?? 'public/samples/hello.png')

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync']
})
try {
  const page = await browser.newPage()
  const dataUrl = await page.evaluate(({ text, width, height }) => {
    const canvas = document.createElement('canvas')
    canvas.width = width
    canvas.height = height
    const ctx = canvas.getContext('2d')
    if (ctx == null) throw new Error('no 2d context')
    ctx.fillStyle = '#ffffff'
    ctx.fillRect(0, 0, width, height)
    ctx.fillStyle = '#000000'
    ctx.font = '40px sans-serif'
    ctx.textAlign = 'center'
    ctx.textBaseline = 'middle'
    ctx.fillText(text, width / 2, height / 2)
    return canvas.toDataURL('image/png')
  }, { text: TEXT, width: WIDTH, height: HEIGHT })
  const png = Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64')
  await mkdir(dirname(out), { recursive: true })
  await writeFile(out, png)
  console.log(`wrote ${out} (${png.length} bytes, ${WIDTH}x${HEIGHT})`)
} finally {
  await browser.close()
}
