/**
 * A Crosscheck site's model catalog over HTTP: `models/manifest.json` and the
 * files it lists, streamed with progress. Works in browsers and in Node (fetch).
 * Bytes are size-checked here and hash-checked by the registry.
 *
 * @example
 * ```ts
 * const catalog = new HttpCatalog('https://crosscheck.example/models/manifest.json')
 * const { models } = await catalog.manifest()
 * ```
 */
import { HashMismatchError, ModelNotFoundError, ModelTooLargeError } from '../errors.js'
import { parseManifest } from '../models/manifest.js'
import type { ExtraEntry, ModelEntry, ModelManifest } from '../models/manifest.js'
import type { AbortOptions } from '../abort.js'
import type { CatalogDownloadOptions, ModelCatalog } from '../core/types.js'
import { DEFAULT_MANIFEST_PATH, MAX_MODEL_BYTES, PROGRESS_STEP_BYTES } from './constants.js'

export interface HttpCatalogInit {
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch
  /** Largest file downloaded (bytes). @default MAX_MODEL_BYTES (512 MiB) */
  maxModelBytes?: number
}

/** `models/manifest.json` under a site's base URL. */
export function manifestUrlOf (siteBase: string | URL): URL {
  return new URL(DEFAULT_MANIFEST_PATH, siteBase)
}

export class HttpCatalog implements ModelCatalog {
  readonly where: string
  private readonly url: URL
  private readonly fetchImpl: typeof globalThis.fetch
  private readonly maxModelBytes: number
  private manifestPromise?: Promise<ModelManifest>

  constructor (manifestUrl: string | URL, init: HttpCatalogInit = {}) {
    this.url = new URL(manifestUrl)
    this.where = this.url.href
    this.fetchImpl = init.fetch ?? globalThis.fetch.bind(globalThis)
    this.maxModelBytes = init.maxModelBytes ?? MAX_MODEL_BYTES
  }

  /** The validated manifest, fetched once (a failure is not cached). */
  async manifest (options: AbortOptions = {}): Promise<ModelManifest> {
    if (this.manifestPromise == null) {
      const p = (async () => {
        const res = await this.fetchImpl(this.url, { signal: options.signal })
        if (!res.ok) throw new ModelNotFoundError(`GET ${this.url.href}: HTTP ${res.status}`)
        return parseManifest(await res.text())
      })()
      this.manifestPromise = p
      p.catch(() => { if (this.manifestPromise === p) this.manifestPromise = undefined })
    }
    return await this.manifestPromise
  }

  /** Streams `entry.file` (relative to the site root, the manifest's grandparent); the byte count must equal the manifest's. */
  async download (entry: ModelEntry | ExtraEntry, options: CatalogDownloadOptions = {}): Promise<ArrayBuffer> {
    const total = entry.bytes
    if (total > this.maxModelBytes) throw new ModelTooLargeError(`${entry.id} is ${total} bytes, over the ${this.maxModelBytes} limit`)
    const url = new URL(entry.file, new URL('..', this.url))
    const res = await this.fetchImpl(url, { signal: options.signal })
    if (!res.ok) throw new ModelNotFoundError(`GET ${url.href}: HTTP ${res.status}`)
    const out = new Uint8Array(total)
    let loaded = 0
    let reported = 0
    options.onProgress?.(0, total)
    if (res.body == null) {
      const buf = new Uint8Array(await res.arrayBuffer())
      if (buf.byteLength !== total) throw new HashMismatchError(`${url.href}: got ${buf.byteLength} bytes, manifest says ${total}`)
      out.set(buf)
      loaded = total
    } else {
      const reader = res.body.getReader()
      try {
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          if (loaded + value.byteLength > total) throw new HashMismatchError(`${url.href}: more than the ${total} bytes the manifest says`)
          out.set(value, loaded)
          loaded += value.byteLength
          if (loaded - reported >= PROGRESS_STEP_BYTES) {
            reported = loaded
            options.onProgress?.(loaded, total)
          }
        }
      } finally {
        // stops the download when we bail out early; a no-op after `done`
        reader.cancel().catch(() => {})
      }
      if (loaded !== total) throw new HashMismatchError(`${url.href}: got ${loaded} bytes, manifest says ${total}`)
    }
    if (reported !== loaded || total === 0) options.onProgress?.(loaded, total)
    return out.buffer
  }
}
