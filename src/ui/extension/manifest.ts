/**
 * The extension's manifest (Manifest V3), written into the build as
 * `manifest.json` by `crosscheckExtension()` in ./vite.ts.
 *
 * Why each key:
 * - `background.service_worker` + `type: 'module'`: the service worker only
 *   routes messages and keeps the person's choices; it cannot host the node (no
 *   RTCPeerConnection, no `new Worker` in an extension service worker, and it
 *   is stopped after ~30 s idle).
 * - `offscreen`: the node lives in an offscreen document (reasons WEB_RTC and
 *   WORKERS), which stays open while the browser runs.
 * - `storage`: relay, Start/Stop choice and CPU share in chrome.storage.local
 *   (the offscreen document has no chrome.storage, only chrome.runtime).
 * - `unlimitedStorage`: identity and models live in the extension origin's
 *   IndexedDB; without it they may be evicted under storage pressure, and the
 *   peer would come back as someone else.
 * - `content_security_policy`: extension pages may not compile WebAssembly
 *   without 'wasm-unsafe-eval'; remote code is forbidden, so onnxruntime's
 *   wasm ships inside the extension ('self').
 * - `cross_origin_opener_policy` / `cross_origin_embedder_policy`: make
 *   extension pages cross-origin isolated, so onnxruntime-web gets
 *   SharedArrayBuffer and more than one thread.
 */

export interface ExtensionManifestInit {
  /** package.json version (Chrome wants 1–4 dot-separated integers). */
  version: string
  /** @default 'Crosscheck' */
  name?: string
  /** Base64 public key: gives the unpacked extension a fixed id wherever it is loaded from. @default none (id from the folder path) */
  key?: string
}

export const SERVICE_WORKER_FILE = 'background.js'
export const POPUP_FILE = 'popup.html'
export const OFFSCREEN_FILE = 'offscreen.html'

/** The manifest as a plain object (JSON-serialisable). */
export function extensionManifest (init: ExtensionManifestInit): Record<string, unknown> {
  const version = init.version.replace(/[^0-9.].*$/, '')
  if (!/^\d+(\.\d+){0,3}$/.test(version)) throw new Error(`extension version must be 1-4 dot-separated integers, got ${init.version}`)
  return {
    manifest_version: 3,
    name: init.name ?? 'Crosscheck',
    description: 'Contribute this browser\'s spare CPU to Crosscheck: small ONNX models, run on several peers and accepted only when a quorum agrees.',
    version,
    // chrome.runtime.getContexts (116) to find the offscreen document
    minimum_chrome_version: '116',
    ...(init.key != null ? { key: init.key } : {}),
    action: { default_title: 'Crosscheck', default_popup: POPUP_FILE },
    background: { service_worker: SERVICE_WORKER_FILE, type: 'module' },
    permissions: ['offscreen', 'storage', 'unlimitedStorage'],
    content_security_policy: { extension_pages: "script-src 'self' 'wasm-unsafe-eval'; object-src 'self'" },
    cross_origin_opener_policy: { value: 'same-origin' },
    cross_origin_embedder_policy: { value: 'require-corp' }
  }
}
