/**
 * Drives the harness in Chromium through vite dev and through build + preview:
 *   npx tsx e2e/worker-harness/run.ts [dev|preview|both]
 */
import { chromium } from 'playwright-core'
import { build, createServer, preview } from 'vite'

const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync']
const PAGE = '/e2e/worker-harness/index.html'
const INITS = [
  { label: 'wasm (default threads)', init: { preferredBackend: 'wasm' }, gpu: false },
  { label: 'wasm 1 thread', init: { preferredBackend: 'wasm', numThreads: 1 }, gpu: false },
  { label: 'auto, no gpu flag', init: {}, gpu: false },
  { label: 'auto, SwiftShader', init: {}, gpu: true },
  { label: 'webgpu, SwiftShader', init: { preferredBackend: 'webgpu' }, gpu: true }
]

async function drive (origin: string, which: string): Promise<void> {
  for (const gpu of [false, true]) {
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: gpu ? [...ARGS, '--enable-unsafe-webgpu'] : ARGS })
    try {
      for (const c of INITS.filter((i) => i.gpu === gpu)) {
        const page = await browser.newPage()
        page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`  [console.${m.type()}] ${m.text().slice(0, 200)}`) })
        page.on('response', (r) => { if (r.status() >= 400) console.log(`  [http ${r.status()}] ${r.url()}`) })
        page.on('pageerror', (e) => { console.log(`  [pageerror] ${e.message}`) })
        const t0 = Date.now()
        await page.goto(origin + PAGE)
        await page.waitForFunction(() => 'harness' in globalThis)
        const result = await page.evaluate(async (init) => await (globalThis as any).harness.run(init), c.init)
        console.log(`\n=== ${which}: ${c.label} (${Date.now() - t0} ms total) ===\n${JSON.stringify(result, null, 1)}`)
        await page.close()
      }
    } finally {
      await browser.close()
    }
  }
}

const mode = process.argv[2] ?? 'both'
if (mode === 'dev' || mode === 'both') {
  const server = await createServer({ configFile: 'vite.config.ts', server: { port: 5199, strictPort: true } })
  await server.listen()
  try { await drive('http://127.0.0.1:5199', 'dev') } finally { await server.close() }
}
if (mode === 'preview' || mode === 'both') {
  const outDir = '/tmp/crosscheck-harness-dist'
  await build({ configFile: 'vite.config.ts', logLevel: 'warn', build: { outDir, emptyOutDir: true, rollupOptions: { input: 'e2e/worker-harness/index.html' } } })
  const server = await preview({ configFile: 'vite.config.ts', build: { outDir }, preview: { port: 5198, strictPort: true } })
  try { await drive('http://127.0.0.1:5198', 'preview') } finally { server.httpServer.close() }
}
