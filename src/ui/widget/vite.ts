/**
 * The embeddable widget in the site's vite build and servers:
 *
 * - build: `frame.html` is a page of the site beside `index.html`, and the
 *   element (`element.ts`) is emitted as one self-contained `widget.js` at the
 *   site root, a stable name host pages can point a script tag at. It is
 *   bundled on its own (a second, tiny build after the site's) so it imports
 *   no hashed chunks: a host fetches one file, cross-origin.
 * - dev and preview: per-path headers (WIDGET_HEADERS) over the site-wide
 *   COOP/COEP ones; in dev `/widget.js` is served from `element.ts`.
 *
 * ```ts
 * plugins: [crosscheckWidget(), …]
 * ```
 */
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'
import type { Plugin, ResolvedConfig } from 'vite'
import type { IncomingMessage, ServerResponse } from 'node:http'

export const WIDGET_FILE = 'widget.js'
export const FRAME_FILE = 'frame.html'

const here = fileURLToPath(new URL('.', import.meta.url))
const ELEMENT_ENTRY = resolve(here, 'element.ts')

/**
 * Headers that replace or join the site-wide ones, by path under the base.
 *
 * - `frame.html` is embedded by pages that are usually not cross-origin
 *   isolated, where its COOP/COEP do nothing (they isolate top-level pages
 *   only). `Document-Isolation-Policy` isolates the frame document and its
 *   workers on their own (Chromium 137+), so onnxruntime-web gets
 *   SharedArrayBuffer and threads; its subresources are all same-origin, so
 *   `isolate-and-require-corp` costs nothing. `Cross-Origin-Resource-Policy:
 *   cross-origin` lets a host that is itself isolated (COEP) embed it.
 * - `widget.js` is loaded by other origins: a module script is a CORS fetch
 *   (`Access-Control-Allow-Origin`), a classic one under a host's COEP needs
 *   `Cross-Origin-Resource-Policy: cross-origin`.
 */
export const WIDGET_HEADERS: Record<string, Record<string, string>> = {
  [FRAME_FILE]: {
    'Document-Isolation-Policy': 'isolate-and-require-corp',
    'Cross-Origin-Resource-Policy': 'cross-origin'
  },
  [WIDGET_FILE]: {
    'Access-Control-Allow-Origin': '*',
    'Cross-Origin-Resource-Policy': 'cross-origin'
  }
}

/**
 * Adds `extra` to a response, winning over whatever sets the same header
 * later (vite's static servers set `server.headers` / `preview.headers` after
 * plugin middlewares run).
 */
function overrideHeaders (res: ServerResponse, extra: Record<string, string>): void {
  const lower = Object.fromEntries(Object.entries(extra).map(([k, v]) => [k.toLowerCase(), v]))
  const setHeader = res.setHeader.bind(res)
  res.setHeader = (name: string, value: number | string | readonly string[]) => setHeader(name, lower[name.toLowerCase()] ?? value)
  for (const [k, v] of Object.entries(extra)) setHeader(k, v)
}

function pathUnder (base: string, req: IncomingMessage): string {
  const pathname = new URL(req.url ?? '/', 'http://localhost').pathname
  return pathname.startsWith(base) ? pathname.slice(base.length) : pathname.replace(/^\//, '')
}

export interface WidgetPluginInit {
  /** Where `frame.html` is. @default `<vite root>/frame.html` */
  frame?: string
}

export function crosscheckWidget (init: WidgetPluginInit = {}): Plugin {
  let config: ResolvedConfig | undefined
  const headersFor = (base: string) => (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const extra = WIDGET_HEADERS[pathUnder(base, req)]
    if (extra != null) overrideHeaders(res, extra)
    next()
  }
  return {
    name: 'crosscheck-widget',
    config (user) {
      const root = resolve(user.root ?? process.cwd())
      // multi-page: keep index.html and add the frame (an explicit input replaces vite's index.html default)
      return { build: { rolldownOptions: { input: { index: resolve(root, 'index.html'), frame: init.frame ?? resolve(root, FRAME_FILE) } } } }
    },
    configResolved (c) { config = c },
    configureServer (server) {
      const base = server.config.base
      server.middlewares.use(headersFor(base))
      // dev: /widget.js is the element's source; import.meta.url stays /widget.js, so frame.html resolves beside it
      server.middlewares.use((req, _res, next) => {
        if (pathUnder(base, req) === WIDGET_FILE) req.url = `/@fs${ELEMENT_ENTRY}`
        next()
      })
    },
    configurePreviewServer (server) {
      server.middlewares.use(headersFor(server.config.base))
    },
    async closeBundle (error) {
      if (config?.command !== 'build' || error != null) return
      await build({
        configFile: false,
        root: config.root,
        base: config.base,
        logLevel: 'warn',
        publicDir: false,
        build: {
          target: 'es2022',
          outDir: config.build.outDir,
          emptyOutDir: false,
          copyPublicDir: false,
          lib: { entry: ELEMENT_ENTRY, formats: ['es'], fileName: () => WIDGET_FILE }
        }
      })
    }
  }
}
