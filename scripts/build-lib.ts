/**
 * Library build (`npm run build:lib`): JS + .d.ts for the package entries
 * (`crosscheck` browser/node, `crosscheck/verify`) into `dist-lib/`.
 *
 * 1. `tsc -p tsconfig.lib.json` emits `dist-lib/src/**` and `dist-lib/workers/**`
 *    (rootDir `.`, so every relative path between the two stays as in the source).
 * 2. tsc leaves string literals alone, so the inference worker URL in
 *    `src/inference/worker-client.ts`,
 *    `new Worker(new URL('../../workers/inference.worker.ts', import.meta.url))`,
 *    would still name the `.ts` source. Every `new URL('./….ts', import.meta.url)`
 *    in the emitted JS is rewritten to the emitted `.js` file (which must exist).
 *    A consumer's bundler (vite, webpack 5, rollup) then finds the worker through
 *    that standard pattern and bundles it together with onnxruntime-web and its wasm.
 * 3. The static import graph of `crosscheck/verify` is walked and the build
 *    fails if it reaches libp2p, onnxruntime or idb: that entry must stay light.
 *
 * `--size` also bundles `crosscheck/verify` for browsers (vite, minified) and
 * prints its raw and gzipped size (the number the README quotes).
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import ts from 'typescript'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const OUT = join(ROOT, 'dist-lib')
/** Where the worker URL must have been rewritten: the browser entry cannot run without it. */
const WORKER_CLIENT = join(OUT, 'src/inference/worker-client.js')
const VERIFY_ENTRY = join(OUT, 'src/verify.js')
/** Bare imports `crosscheck/verify` must never reach. */
const HEAVY = /^(libp2p|@libp2p\/|@chainsafe\/|@multiformats\/|onnxruntime-|idb$|comlink$)/
const WORKER_URL = /new URL\((['"])(\.{1,2}\/[^'"]+)\.ts\1,\s*import\.meta\.url\)/g

async function jsFiles (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...await jsFiles(path))
    else if (entry.name.endsWith('.js')) out.push(path)
  }
  return out
}

function compile (): void {
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc')
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.lib.json')], { stdio: 'inherit' })
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.lib.json failed (exit ${r.status})`)
}

/** Step 2: `new URL('x.ts', import.meta.url)` → `new URL('x.js', import.meta.url)`; returns the files changed. */
async function rewriteWorkerUrls (): Promise<string[]> {
  const changed: string[] = []
  for (const file of await jsFiles(OUT)) {
    const text = await readFile(file, 'utf8')
    let missing: string | undefined
    const next = text.replace(WORKER_URL, (_match, quote: string, path: string) => {
      if (!existsSync(resolve(dirname(file), `${path}.js`))) missing ??= `${path}.js`
      return `new URL(${quote}${path}.js${quote}, import.meta.url)`
    })
    if (missing !== undefined) throw new Error(`${relative(ROOT, file)}: ${missing} was not emitted (add it to tsconfig.lib.json "files")`)
    if (next !== text) {
      await writeFile(file, next)
      changed.push(file)
    }
  }
  if (!changed.includes(WORKER_CLIENT)) throw new Error(`${relative(ROOT, WORKER_CLIENT)}: no inference worker URL to rewrite (did worker-client.ts change how it starts the worker?)`)
  return changed
}

/** Step 3: every bare specifier reachable from `entry` through relative imports. */
async function bareImportsOf (entry: string): Promise<Map<string, string>> {
  const seen = new Set<string>()
  const bare = new Map<string, string>()
  const queue = [entry]
  while (queue.length > 0) {
    const file = queue.pop() as string
    if (seen.has(file)) continue
    seen.add(file)
    const text = await readFile(file, 'utf8')
    // TypeScript's own scanner: static imports, re-exports and import('…'), not comments
    for (const { fileName: spec } of ts.preProcessFile(text, true, true).importedFiles) {
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec))
      else if (!bare.has(spec)) bare.set(spec, relative(OUT, file))
    }
  }
  return bare
}

async function verifySize (): Promise<{ raw: number, gzip: number, modules: number }> {
  const { build } = await import('vite')
  const result = await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      write: false,
      target: 'es2022',
      minify: true,
      lib: { entry: VERIFY_ENTRY, formats: ['es'], fileName: 'verify' }
    }
  })
  const outputs = (Array.isArray(result) ? result : [result]) as Array<{ output: Array<{ type: string, code?: string, moduleIds?: string[] }> }>
  const chunks = outputs.flatMap((o) => o.output).filter((o) => o.type === 'chunk')
  const code = chunks.map((c) => c.code ?? '').join('\n')
  const modules = chunks.flatMap((c) => c.moduleIds ?? [])
  const heavy = modules.filter((id) => /node_modules\/(libp2p|@libp2p|onnxruntime-|idb)\//.test(id))
  if (heavy.length > 0) throw new Error(`crosscheck/verify bundles ${heavy.join(', ')}`)
  return { raw: Buffer.byteLength(code), gzip: gzipSync(code, { level: 9 }).byteLength, modules: modules.length }
}

async function main (): Promise<void> {
  await rm(OUT, { recursive: true, force: true })
  compile()
  const changed = await rewriteWorkerUrls()
  const bare = await bareImportsOf(VERIFY_ENTRY)
  const heavy = [...bare].filter(([spec]) => HEAVY.test(spec))
  if (heavy.length > 0) throw new Error(`crosscheck/verify imports ${heavy.map(([s, f]) => `${s} (from ${f})`).join(', ')}`)
  console.log(`dist-lib: worker URL rewritten in ${changed.map((f) => relative(ROOT, f)).join(', ')}`)
  console.log(`dist-lib: crosscheck/verify imports only ${[...bare.keys()].sort().join(', ')}`)
  if (process.argv.includes('--size')) {
    const { raw, gzip, modules } = await verifySize()
    console.log(`crosscheck/verify browser bundle: ${(raw / 1024).toFixed(1)} KiB minified, ${(gzip / 1024).toFixed(1)} KiB gzipped (${modules} modules)`)
  }
}

main().catch((err: unknown) => {
  console.error(`build:lib failed: ${(err as Error).message}`)
  process.exit(1)
})
