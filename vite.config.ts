/**
 * One vite config, two modes:
 * - `page` (default): the contributor site, `index.html` → `dist/`.
 * - `widget` (`vite build --mode widget`): the embeddable custom element as an
 *   ES library, `src/ui/widget.ts` → `dist/widget/`.
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

type Mode = 'page' | 'widget'

/** Headers for cross-origin isolation. A widget's files are loaded by other origins, so they must allow that. */
function isolationHeaders (mode: Mode): Record<string, string> {
  return {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    // A host page that is itself cross-origin isolated can only load our files if we say it may (CORP).
    'Cross-Origin-Resource-Policy': mode === 'widget' ? 'cross-origin' : 'same-origin'
  }
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

export default defineConfig(({ mode: rawMode }) => {
  const mode: Mode = rawMode === 'widget' ? 'widget' : 'page'
  const headers = isolationHeaders(mode)
  return {
    plugins: [crosscheckModels({ headers })],
    server: { host: '127.0.0.1', headers },
    preview: { host: '127.0.0.1', headers },
    // Workers are ES modules: onnxruntime-web is ESM and needs import.meta.url to find its wasm.
    worker: { format: 'es' },
    // Pre-bundling onnxruntime-web breaks its import.meta.url-relative wasm lookup in dev.
    optimizeDeps: { exclude: ['onnxruntime-web'] },
    build: {
      target: 'es2022',
      ...(mode === 'widget'
        ? {
            outDir: 'dist/widget',
            lib: { entry: 'src/ui/widget.ts', formats: ['es'], fileName: 'crosscheck-widget' }
          }
        : { outDir: 'dist' })
    }
  }
})
