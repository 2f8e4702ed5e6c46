/**
 * The vite build of the browser extension (`npm run build:extension` →
 * `dist-extension/`, an unpacked Manifest V3 extension): the popup and the
 * offscreen document as HTML entries, the service worker as `background.js`,
 * the inference worker with onnxruntime-web's wasm (no remote code), the model
 * catalog (`models/`, from the `crosscheckModels()` plugin the caller passes)
 * and `manifest.json`.
 *
 * vite.config.ts uses it for `--mode extension`:
 * ```ts
 * if (mode === 'extension') return extensionConfig({ plugins: [crosscheckModels()] })
 * ```
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Plugin, PluginOption, UserConfig } from 'vite'
import { OFFSCREEN_FILE, POPUP_FILE, SERVICE_WORKER_FILE, extensionManifest } from './manifest.js'
import type { ExtensionManifestInit } from './manifest.js'

export interface ExtensionBuildInit {
  /** Plugins that add files to the build (the model catalog). */
  plugins?: PluginOption[]
  /** @default env CROSSCHECK_EXTENSION_OUT_DIR, else 'dist-extension' (relative to the working directory) */
  outDir?: string
  /** Relay the popup offers until the person enters another. @default env CROSSCHECK_RELAY, else none */
  relay?: string
  /** Manifest `key` for a fixed extension id. @default env CROSSCHECK_EXTENSION_KEY, else none */
  key?: string
}

export const EXTENSION_OUT_DIR = 'dist-extension'

const here = fileURLToPath(new URL('.', import.meta.url))

/** Writes manifest.json into the build. */
export function crosscheckExtensionManifest (init: ExtensionManifestInit): Plugin {
  return {
    name: 'crosscheck-extension-manifest',
    apply: 'build',
    generateBundle () {
      this.emitFile({ type: 'asset', fileName: 'manifest.json', source: JSON.stringify(extensionManifest(init), null, 2) + '\n' })
    }
  }
}

export function extensionConfig (init: ExtensionBuildInit = {}): UserConfig {
  const pkg = JSON.parse(readFileSync(resolve(here, '../../../package.json'), 'utf8')) as { version: string }
  const key = init.key ?? process.env.CROSSCHECK_EXTENSION_KEY
  const relay = init.relay ?? process.env.CROSSCHECK_RELAY ?? ''
  return {
    // the extension's pages sit at its root: chrome-extension://<id>/popup.html
    root: here,
    base: '/',
    // public/ holds the site's files (samples, favicon), not the extension's
    publicDir: false,
    plugins: [...(init.plugins ?? []), crosscheckExtensionManifest({ version: pkg.version, ...(key != null && key !== '' ? { key } : {}) })],
    define: { __CROSSCHECK_DEFAULT_RELAY__: JSON.stringify(relay) },
    // Workers are ES modules: onnxruntime-web is ESM and finds its wasm through import.meta.url.
    worker: { format: 'es' as const },
    build: {
      target: 'es2022',
      outDir: resolve(init.outDir ?? process.env.CROSSCHECK_EXTENSION_OUT_DIR ?? EXTENSION_OUT_DIR),
      emptyOutDir: true,
      // no <link rel=modulepreload> polyfill: extension pages load their own files, and the service worker has no document
      modulePreload: false,
      // the libp2p stack is one ~760 kB chunk (see vite.config.ts)
      chunkSizeWarningLimit: 1024,
      rolldownOptions: {
        checks: { bundlerTimings: false },
        input: {
          popup: resolve(here, POPUP_FILE),
          offscreen: resolve(here, OFFSCREEN_FILE),
          background: resolve(here, 'background.ts')
        },
        output: {
          // the manifest names the service worker by a fixed file name
          entryFileNames: (chunk) => chunk.name === 'background' ? SERVICE_WORKER_FILE : 'assets/[name]-[hash].js'
        }
      }
    }
  }
}
