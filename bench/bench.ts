/**
 * `npm run bench`: side-by-side latencies in one run, on this machine.
 *  1. per-inference latency: the browser worker (onnxruntime-web, WASM) vs
 *     onnxruntime-node, same model bytes, same input;
 *  2. a verified job on k=3 browser peers (quorum 2) vs one local inference in
 *     the requester's own worker.
 * Prints a table and writes bench/results.json. No assertions: numbers only.
 */
import '../e2e/fixtures/polyfill.js'
import { parseArgs } from 'node:util'
import { readFile, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { chromium } from 'playwright-core'
import { PNG } from 'pngjs'
import { startLocalNetwork } from '../src/cli/local-network.js'
import { NodeRunner } from '../src/cli/ort-node.js'
import { resolveModel } from '../src/models/catalog.js'
import { tensorsFromJSON, tensorsToJSON } from '../src/tensor/index.js'
import type { NamedTensors } from '../src/tensor/index.js'
import { detPreprocess } from '../src/ocr/index.js'
import { chromiumLaunchOptions } from '../e2e/fixtures/chromium.js'

interface Series { median: number, p90: number, mean: number, n: number }

function summarize (xs: number[]): Series {
  const s = [...xs].sort((a, b) => a - b)
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]
  return { median: q(0.5), p90: q(0.9), mean: xs.reduce((a, b) => a + b, 0) / xs.length, n: xs.length }
}

async function sampleOcrInput (): Promise<NamedTensors> {
  const png = PNG.sync.read(await readFile('public/samples/hello.png'))
  const { x } = detPreprocess({ width: png.width, height: png.height, data: new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.byteLength) })
  return { x }
}

export async function runBench (args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string', default: 'bench/results.json' }, runs: { type: 'string', default: '30' }, jobs: { type: 'string', default: '10' } } })
  const runs = Number(values.runs)
  const jobRuns = Number(values.jobs)
  const inputs: Record<string, NamedTensors> = {
    mlp: tensorsFromJSON({ x: { dtype: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => Math.sin(i + 1)) } }),
    cnn: tensorsFromJSON({ x: { dtype: 'float32', dims: [1, 1, 8, 8], data: Array.from({ length: 64 }, (_, i) => Math.cos(i)) } }),
    'ocr-det': await sampleOcrInput()
  }

  const net = await startLocalNetwork({ host: '127.0.0.1', relayPort: 0, webPort: 0 })
  const browser = await chromium.launch(chromiumLaunchOptions())
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, chromium: browser.version() },
    runs,
    jobRuns
  }
  try {
    const pages = []
    for (let i = 0; i < 4; i++) {
      const ctx = await browser.newContext({ permissions: ['camera', 'microphone'] })
      const page = await ctx.newPage()
      await page.goto(`${net.url}?autostart=1&pauseOnPressure=0&relay=${encodeURIComponent(net.relay)}`)
      await page.waitForFunction(() => window.crosscheck?.stats()?.contributing === true && window.crosscheck.stats()?.runtime != null, undefined, { timeout: 60_000 })
      pages.push(page)
    }
    const requester = pages[3]
    await requester.waitForFunction(() => (window.crosscheck.stats()?.peers ?? []).filter(p => p.announcement != null).length >= 3, undefined, { timeout: 60_000 })
    const caps = await requester.evaluate(() => window.crosscheck.stats()?.runtime)
    results.browser = caps

    const perInference: Record<string, unknown> = {}
    for (const [id, input] of Object.entries(inputs)) {
      const json = tensorsToJSON(input)
      // warm-up run loads the session; not counted
      await requester.evaluate(async ([id, json]) => await window.crosscheck.runLocal(id, json, 1), [id, json] as const)
      const web = await requester.evaluate(async ([id, json, n]) => await window.crosscheck.runLocal(id, json, n), [id, json, runs] as const)
      const model = await resolveModel(id)
      const runner = new NodeRunner()
      await runner.load(model.sha256, model.bytes)
      await runner.run(model.sha256, input)
      const node: number[] = []
      for (let i = 0; i < runs; i++) node.push((await runner.run(model.sha256, input)).ms)
      await runner.close()
      const w = summarize(web.worker)
      const n = summarize(node)
      perInference[id] = { browserWasm: w, browserWasmWall: summarize(web.wall), onnxruntimeNode: n, ratio: w.median / n.median, numericClass: web.numericClass }
    }
    results.perInference = perInference

    // verified k=3 job (quorum 2) vs one local inference in the requester's worker
    const json = tensorsToJSON(inputs.mlp)
    await requester.evaluate(async ([json]) => await window.crosscheck.requestModel('mlp', json, { replicas: 3, quorum: 2 }), [json] as const)
    const jobMs: number[] = []
    for (let i = 0; i < jobRuns; i++) {
      jobMs.push(await requester.evaluate(async ([json]) => {
        const t0 = performance.now()
        await window.crosscheck.requestModel('mlp', json, { replicas: 3, quorum: 2 })
        return performance.now() - t0
      }, [json] as const))
    }
    const local = await requester.evaluate(async ([json, n]) => await window.crosscheck.runLocal('mlp', json, n), [json, jobRuns] as const)
    const job = summarize(jobMs)
    const single = summarize(local.wall)
    results.verifiedJob = { model: 'mlp', replicas: 3, quorum: 2, verified: job, localSingle: single, ratio: job.median / single.median }
  } finally {
    await browser.close()
    await net.stop()
  }

  const f = (x: number): string => x.toFixed(2).padStart(9)
  const lines = ['', 'per-inference latency, median ms (same model bytes, same input)', 'model        browser-wasm  onnxruntime-node   ratio']
  for (const [id, r] of Object.entries(results.perInference as Record<string, any>)) {
    lines.push(`${id.padEnd(12)} ${f(r.browserWasm.median)}     ${f(r.onnxruntimeNode.median)}      ${r.ratio.toFixed(2)}×`)
  }
  const v = results.verifiedJob as any
  lines.push('', `verified job (mlp, k=3, quorum 2) vs one local inference, median ms over ${jobRuns}`)
  lines.push(`verified ${f(v.verified.median)}   local ${f(v.localSingle.median)}   ratio ${v.ratio.toFixed(1)}×`, '')
  process.stdout.write(lines.join('\n'))
  await writeFile(values.out, JSON.stringify(results, null, 2) + '\n')
  process.stdout.write(`results written to ${values.out}\n`)
  return 0
}
