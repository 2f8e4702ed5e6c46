/**
 * The vite config of the contributor site (`index.html` → `dist/`).
 *
 * Both serve COOP/COEP so the page is cross-origin isolated: without it
 * onnxruntime-web has no SharedArrayBuffer and silently runs on 1 thread (and a
 * pthread script served without COEP hangs a 2-thread session forever).
 *
 * The model catalog (`src/models/catalog.ts`) is not checked in: the
 * `crosscheckModels()` plugin builds it in memory and emits its files into the
 * build (`models/manifest.json`, `models/*.onnx`, …) or serves them in dev.
 */
import { defineConfig } from 'vite'
import type { Plugin, ResolvedConfig } from 'vite'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { resolve } from 'node:path'
import { extensionConfig } from './src/ui/extension/vite.js'
import { crosscheckWidget } from './src/ui/widget/vite.js'

/** Headers for cross-origin isolation (SharedArrayBuffer → multi-threaded WASM). */
const ISOLATION_HEADERS: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin'
}

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json; charset=utf-8',
  onnx: 'application/octet-stream',
  txt: 'text/plain; charset=utf-8'
}

/**
 * Serves (dev) or emits (build) the model catalog: every file from
 * `buildCatalog()` plus `models/manifest.json`. The catalog is built once per
 * process (it hashes and reads a few MB of models, ~1 s).
 */
export function crosscheckModels (options: { headers?: Record<string, string> } = {}): Plugin {
  let files: Promise<Map<string, Uint8Array>> | undefined
  let config: ResolvedConfig | undefined

  function catalog (): Promise<Map<string, Uint8Array>> {
    files ??= (async () => {
      // Imported lazily: it pulls onnxruntime-node and onnx-proto, which only the build needs.
      const { buildCatalog } = await import('./src/models/catalog.js')
      const { MANIFEST_PATH } = await import('./src/models/manifest.js')
      const { manifest, files: list } = await buildCatalog()
      const out = new Map<string, Uint8Array>()
      for (const f of list) out.set(f.path, f.bytes)
      // Same serialisation as writeCatalog(), so a written and a served catalog are byte-identical.
      out.set(MANIFEST_PATH, new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'))
      return out
    })()
    files.catch(() => { files = undefined })
    return files
  }

  return {
    name: 'crosscheck-models',
    configResolved (c) { config = c },
    async buildStart () {
      if (config?.command !== 'build') return
      for (const [fileName, source] of await catalog()) {
        this.emitFile({ type: 'asset', fileName, source })
      }
    },
    configureServer (server) {
      const base = server.config.base
      server.middlewares.use((req, res, next) => {
        const pathname = new URL(req.url ?? '/', 'http://localhost').pathname
        const path = pathname.startsWith(base) ? pathname.slice(base.length) : pathname.replace(/^\//, '')
        if (!path.startsWith('models/')) { next(); return }
        catalog().then((map) => {
          const bytes = map.get(path)
          if (bytes == null) { next(); return }
          res.statusCode = 200
          // Custom middleware responses do not get server.headers: repeat them.
          for (const [k, v] of Object.entries(options.headers ?? {})) res.setHeader(k, v)
          res.setHeader('Content-Type', CONTENT_TYPES[path.split('.').pop() ?? ''] ?? 'application/octet-stream')
          res.setHeader('Content-Length', String(bytes.byteLength))
          res.setHeader('Cache-Control', 'no-cache')
          res.end(bytes)
        }, (err: unknown) => { next(err) })
      })
    }
  }
}

/**
 * Serves `/relay.json` = `{ relay: process.env.CROSSCHECK_RELAY }` so the page
 * finds the relay `npm start` launched (404 when unset: the page then asks for
 * `?relay=<multiaddr>`).
 */
export function crosscheckRelayInfo (headers: Record<string, string>): Plugin {
  const handler = (req: { url?: string }, res: { statusCode: number, setHeader: (k: string, v: string) => void, end: (b?: string) => void }, next: () => void): void => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/relay.json') { next(); return }
    const relay = process.env.CROSSCHECK_RELAY
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v)
    res.setHeader('Cache-Control', 'no-store')
    res.setHeader('Content-Type', 'application/json; charset=utf-8')
    if (relay == null || relay === '') {
      res.statusCode = 404
      res.end(JSON.stringify({ error: 'no relay configured (set CROSSCHECK_RELAY or open the page with ?relay=<multiaddr>)' }))
      return
    }
    res.statusCode = 200
    res.end(JSON.stringify({ relay }))
  }
  return {
    name: 'crosscheck-relay-info',
    configureServer (server) { server.middlewares.use(handler) },
    configurePreviewServer (server) { server.middlewares.use(handler) }
  }
}

/**
 * The model catalog is public: pages on other sites that use the `crosscheck`
 * library (examples/library) fetch `models/manifest.json` and the model files
 * cross-origin. Under `models/` the site-wide `Cross-Origin-Resource-Policy:
 * same-origin` becomes `cross-origin` and `Access-Control-Allow-Origin: *` is
 * added. Vite's static server and crosscheckModels set the site headers after
 * this middleware runs, so these two names are overridden at setHeader time.
 */
export function crosscheckCatalogCors (): Plugin {
  const OVERRIDE: Record<string, string> = { 'access-control-allow-origin': '*', 'cross-origin-resource-policy': 'cross-origin' }
  const handler = (base: string) => (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    if (!new URL(req.url ?? '/', 'http://localhost').pathname.startsWith(`${base}models/`)) { next(); return }
    const setHeader = res.setHeader.bind(res)
    res.setHeader = (name: string, value: number | string | readonly string[]) => setHeader(name, OVERRIDE[name.toLowerCase()] ?? value)
    for (const [k, v] of Object.entries(OVERRIDE)) setHeader(k, v)
    next()
  }
  return {
    name: 'crosscheck-catalog-cors',
    configureServer (server) { server.middlewares.use(handler(server.config.base)) },
    configurePreviewServer (server) { server.middlewares.use(handler(server.config.base)) }
  }
}

/** The receipt page (`receipt.html`): a page of the site beside `index.html` and `frame.html`, verifying receipts offline. */
function crosscheckReceiptPage (): Plugin {
  return {
    name: 'crosscheck-receipt-page',
    config (c) { return { build: { rolldownOptions: { input: { receipt: resolve(c.root ?? process.cwd(), 'receipt.html') } } } } }
  }
}

export default defineConfig(({ mode }) => {
  // the browser extension (npm run build:extension → dist-extension/) is a build of its own
  if (mode === 'extension') return extensionConfig({ plugins: [crosscheckModels()] })
  const headers = ISOLATION_HEADERS
  return {
    // crosscheckWidget: frame.html as a second page, widget.js at the root, per-path widget headers
    plugins: [crosscheckCatalogCors(), crosscheckWidget(), crosscheckReceiptPage(), crosscheckModels({ headers }), crosscheckRelayInfo(headers)],
    server: { host: '127.0.0.1', headers },
    preview: { host: '127.0.0.1', headers },
    // Workers are ES modules: onnxruntime-web is ESM and needs import.meta.url to find its wasm.
    worker: { format: 'es' as const },
    // Pre-bundling onnxruntime-web breaks its import.meta.url-relative wasm lookup in dev.
    optimizeDeps: { exclude: ['onnxruntime-web'] },
    // CROSSCHECK_OUT_DIR lets parallel builds (tests, benches) keep apart
    // the libp2p stack (noise, yamux, WebRTC, gossipsub) is one ~760 kB chunk shared by the page and the widget frame,
    // loaded once and cached: warn only if it grows well past that
    // bundlerTimings: rolldown warns when plugins take seconds, which on a busy 2-core machine is every build: noise, not news
    build: { target: 'es2022', outDir: process.env.CROSSCHECK_OUT_DIR ?? 'dist', chunkSizeWarningLimit: 1024, rolldownOptions: { checks: { bundlerTimings: false } } }
  }
})
