/**
 * Model bytes by sha256: the local store first (re-verified on read), then the
 * site's catalog (`models/manifest.json`), then peers. Whatever arrives is
 * hashed before it is stored or returned; a mismatch stores nothing.
 */
import { AbortError, HashMismatchError, ModelNotFoundError, throwIfAborted } from '../errors.js'
import { createLogger } from '../logger.js'
import { parseManifest } from '../models/manifest.js'
import type { ExtraEntry, ModelEntry, ModelManifest } from '../models/manifest.js'
import type { Store } from '../storage/index.js'
import { isSha256Hex } from '../tensor/index.js'
import { DEFAULT_MANIFEST_PATH, MAX_MODEL_BYTES, PROGRESS_STEP_BYTES } from './constants.js'

const log = createLogger('inference:registry')

export type ModelSource = 'store' | 'http' | 'peer'

export interface ModelProgressDetail {
  sha256: string
  loaded: number
  /** Expected size in bytes; 0 when unknown (a peer that did not say). */
  total: number
  source: Exclude<ModelSource, 'store'>
}

export interface ModelResolvedDetail {
  sha256: string
  source: ModelSource
  size: number
}

export interface ModelRegistryEvents {
  'model:progress': CustomEvent<ModelProgressDetail>
  'model:resolved': CustomEvent<ModelResolvedDetail>
}

export interface FetchFromPeersOptions {
  signal?: AbortSignal
  /** Report transfer progress; the registry re-emits it as `model:progress` with `source: 'peer'`. */
  onProgress?: (loaded: number, total: number) => void
}

/**
 * Gets a model from peers (the network layer plugs this in). Resolves
 * `undefined` when no peer has it. The registry verifies the bytes.
 */
export type FetchFromPeers = (sha256: string, options: FetchFromPeersOptions) => Promise<ArrayBuffer | Uint8Array | undefined>

export interface ModelRegistryInit {
  /**
   * The catalog manifest. `null` disables HTTP fetching.
   * @default new URL('models/manifest.json', location.href) in a page, null elsewhere
   */
  manifestUrl?: string | URL | null
  /** Largest model accepted from any source (bytes). @default 512 MiB */
  maxModelBytes?: number
}

export interface ModelRegistryComponents {
  store: Pick<Store, 'getModel' | 'putModel'>
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch
  fetchFromPeers?: FetchFromPeers
}

export interface ResolvedModel {
  sha256: string
  /** A fresh buffer the caller owns (safe to transfer to a worker). */
  bytes: ArrayBuffer
  source: ModelSource
  /** The catalog entry (a model or an extra file such as OCR keys), when the manifest lists this hash. */
  entry?: ModelEntry | ExtraEntry
}

export interface ResolveOptions {
  signal?: AbortSignal
}

function isAbort (err: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || (err instanceof Error && err.name === 'AbortError')
}

function defaultManifestUrl (): URL | null {
  const href = (globalThis as { location?: { href?: string } }).location?.href
  return href != null ? new URL(DEFAULT_MANIFEST_PATH, href) : null
}

export class ModelRegistry extends EventTarget {
  private readonly components: ModelRegistryComponents
  private readonly manifestUrl: URL | null
  private readonly maxModelBytes: number
  private fetchFromPeers: FetchFromPeers | undefined
  private manifestPromise: Promise<ModelManifest> | undefined

  constructor (components: ModelRegistryComponents, init: ModelRegistryInit = {}) {
    super()
    this.components = components
    this.fetchFromPeers = components.fetchFromPeers
    this.manifestUrl = init.manifestUrl === undefined ? defaultManifestUrl() : init.manifestUrl === null ? null : new URL(init.manifestUrl)
    this.maxModelBytes = init.maxModelBytes ?? MAX_MODEL_BYTES
  }

  override addEventListener<K extends keyof ModelRegistryEvents> (type: K, listener: ((ev: ModelRegistryEvents[K]) => void) | null, options?: boolean | AddEventListenerOptions): void
  override addEventListener (type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void
  override addEventListener (type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void {
    super.addEventListener(type, listener, options)
  }

  override removeEventListener<K extends keyof ModelRegistryEvents> (type: K, listener: ((ev: ModelRegistryEvents[K]) => void) | null, options?: boolean | EventListenerOptions): void
  override removeEventListener (type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void
  override removeEventListener (type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void {
    super.removeEventListener(type, listener, options)
  }

  private emit<K extends keyof ModelRegistryEvents> (type: K, detail: ModelRegistryEvents[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }

  /** Plugs in (or replaces) the peer fallback once the network is up. */
  setFetchFromPeers (fn: FetchFromPeers | undefined): void {
    this.fetchFromPeers = fn
  }

  /** The validated catalog manifest, fetched once (a failure is not cached). */
  async manifest (options: ResolveOptions = {}): Promise<ModelManifest> {
    if (this.manifestUrl == null) throw new ModelNotFoundError('no manifest URL configured')
    if (this.manifestPromise == null) {
      const url = this.manifestUrl
      const p = (async () => {
        const res = await this.fetchImpl(url, { signal: options.signal })
        if (!res.ok) throw new ModelNotFoundError(`GET ${url.href}: HTTP ${res.status}`)
        return parseManifest(await res.text())
      })()
      this.manifestPromise = p
      p.catch(() => { if (this.manifestPromise === p) this.manifestPromise = undefined })
    }
    return await this.manifestPromise
  }

  private get fetchImpl (): typeof globalThis.fetch {
    return this.components.fetch ?? globalThis.fetch.bind(globalThis)
  }

  /**
   * Model bytes for `sha256`, verified. Throws HashMismatchError when the only
   * bytes found did not match, ModelNotFoundError when none were found,
   * AbortError when aborted.
   */
  async resolve (sha256: string, options: ResolveOptions = {}): Promise<ResolvedModel> {
    const { signal } = options
    if (!isSha256Hex(sha256)) throw new TypeError(`not a sha256: ${String(sha256)}`)
    throwIfAborted(signal)
    const failures: Error[] = []

    // 1. Local store (getModel re-hashes; a corrupted record is purged and we fall through).
    try {
      const rec = await this.components.store.getModel(sha256)
      if (rec != null) {
        this.emit('model:resolved', { sha256, source: 'store', size: rec.size })
        return { sha256, bytes: rec.bytes, source: 'store', entry: await this.entryFor(sha256, signal) }
      }
    } catch (err) {
      log('store copy of %s unusable: %s', sha256, (err as Error).message)
      failures.push(err as Error)
    }

    // 2. The site's catalog.
    let entry: ModelEntry | ExtraEntry | undefined
    try {
      if (this.manifestUrl != null) {
        const manifest = await this.manifest({ signal })
        entry = manifest.models.find((m) => m.sha256 === sha256) ?? manifest.extras.find((m) => m.sha256 === sha256)
      }
      if (entry != null) {
        const bytes = await this.download(entry, signal)
        return await this.keep(sha256, bytes, 'http', entry)
      }
    } catch (err) {
      if (isAbort(err, signal)) throw new AbortError('model fetch aborted', { cause: err })
      log('catalog fetch of %s failed: %s', sha256, (err as Error).message)
      failures.push(err as Error)
    }

    // 3. Peers. Also after a catalog hash mismatch: a bad mirror should not make the model unobtainable.
    if (this.fetchFromPeers != null) {
      try {
        const got = await this.fetchFromPeers(sha256, {
          signal,
          onProgress: (loaded, total) => { this.emit('model:progress', { sha256, loaded, total, source: 'peer' }) }
        })
        throwIfAborted(signal)
        if (got != null) {
          if (got.byteLength > this.maxModelBytes) throw new HashMismatchError(`peer sent ${got.byteLength} bytes, more than the ${this.maxModelBytes} limit`)
          const bytes = got instanceof Uint8Array ? got.slice().buffer as ArrayBuffer : got
          return await this.keep(sha256, bytes, 'peer', entry)
        }
      } catch (err) {
        if (isAbort(err, signal)) throw new AbortError('model fetch aborted', { cause: err })
        log('peer fetch of %s failed: %s', sha256, (err as Error).message)
        failures.push(err as Error)
      }
    }

    const mismatch = failures.findLast((e) => e.name === 'HashMismatchError')
    if (mismatch != null) throw mismatch
    throw new ModelNotFoundError(`model ${sha256} is not stored, not in the catalog and not offered by peers`, { cause: failures.at(-1) })
  }

  private async entryFor (sha256: string, signal?: AbortSignal): Promise<ModelEntry | ExtraEntry | undefined> {
    // Best effort: the manifest is not needed to use a stored model (offline start).
    if (this.manifestUrl == null || this.manifestPromise == null) return undefined
    try {
      return (await this.manifest({ signal })).models.find((m) => m.sha256 === sha256)
    } catch {
      return undefined
    }
  }

  /** Verifies (through the store, which hashes once) and stores; returns a copy the caller may transfer away. */
  private async keep (sha256: string, bytes: ArrayBuffer, source: 'http' | 'peer', entry?: ModelEntry | ExtraEntry): Promise<ResolvedModel> {
    await this.components.store.putModel(bytes, { sha256, ...(entry != null ? { name: entry.id } : {}) })
    this.emit('model:resolved', { sha256, source, size: bytes.byteLength })
    return { sha256, bytes, source, ...(entry != null ? { entry } : {}) }
  }

  /** Streams `entry.file` with progress; the byte count must equal the manifest's. */
  private async download (entry: ModelEntry | ExtraEntry, signal?: AbortSignal): Promise<ArrayBuffer> {
    if (this.manifestUrl == null) throw new ModelNotFoundError('no manifest URL configured')
    const total = entry.bytes
    if (total > this.maxModelBytes) throw new ModelNotFoundError(`${entry.id} is ${total} bytes, over the ${this.maxModelBytes} limit`)
    // Entry paths are relative to the site root, which is the manifest's grandparent (models/manifest.json).
    const url = new URL(entry.file, new URL('..', this.manifestUrl))
    const res = await this.fetchImpl(url, { signal })
    if (!res.ok) throw new ModelNotFoundError(`GET ${url.href}: HTTP ${res.status}`)
    const out = new Uint8Array(total)
    let loaded = 0
    let reported = 0
    this.emit('model:progress', { sha256: entry.sha256, loaded: 0, total, source: 'http' })
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
          if (loaded + value.byteLength > total) {
            throw new HashMismatchError(`${url.href}: more than the ${total} bytes the manifest says`)
          }
          out.set(value, loaded)
          loaded += value.byteLength
          if (loaded - reported >= PROGRESS_STEP_BYTES) {
            reported = loaded
            this.emit('model:progress', { sha256: entry.sha256, loaded, total, source: 'http' })
          }
        }
      } finally {
        // Stops the download when we bail out early; a no-op after `done`.
        reader.cancel().catch(() => {})
      }
      if (loaded !== total) throw new HashMismatchError(`${url.href}: got ${loaded} bytes, manifest says ${total}`)
    }
    if (reported !== loaded || total === 0) this.emit('model:progress', { sha256: entry.sha256, loaded, total, source: 'http' })
    return out.buffer
  }
}
