/**
 * The one place model references resolve, for every surface and both roles:
 * a catalog id (`mlp`), a sha256, or the bytes themselves become a verified
 * sha256; a sha256 becomes verified bytes from the local store first (re-hashed
 * on read), then the site catalog, then peers. Whatever arrives is hashed
 * before it is stored or returned; a mismatch stores nothing.
 */
import { AbortError, InvalidArgumentError, ModelNotFoundError, ModelTooLargeError, throwIfAborted } from '../errors.js'
import { TypedEventTarget } from '../events.js'
import { createLogger } from '../logger.js'
import type { ExtraEntry, ModelEntry, ModelManifest } from '../models/manifest.js'
import { isSha256Hex } from '../tensor/index.js'
import type { AbortOptions } from '../abort.js'
import type { ModelCatalog, NodeStore } from '../core/types.js'
import { MAX_MODEL_BYTES } from './constants.js'

const log = createLogger('inference:registry')

export type ModelSource = 'store' | 'http' | 'peer'

export interface ModelProgressDetail {
  sha256: string
  loaded: number
  /** Expected size in bytes; 0 when unknown. */
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

export interface FetchFromPeersOptions extends AbortOptions {
  /** Transfer progress; re-emitted as `model:progress` with `source: 'peer'`. */
  onProgress?: (loaded: number, total: number) => void
  /** A peer known to hold the model (e.g. the requester of a job), tried first. */
  hint?: string
}

/**
 * Gets a model from peers (the network plugs this in: every known holder at
 * once). `undefined` when no peer is known to hold it; throws a typed error
 * when holders were asked and none could serve it. The registry verifies the
 * bytes. A returned Uint8Array that spans its whole buffer is kept as it is
 * (not copied): the caller must not reuse it.
 */
export type FetchFromPeers = (sha256: string, options: FetchFromPeersOptions) => Promise<ArrayBuffer | Uint8Array | undefined>

export interface ModelRegistryInit {
  /** Largest model accepted from any source (bytes). @default MAX_MODEL_BYTES (512 MiB) */
  maxModelBytes?: number
}

export interface ModelRegistryComponents {
  store: Pick<NodeStore, 'getModel' | 'putModel'>
  /** The site's catalog; `null` when there is none (peers and the store only). */
  catalog: ModelCatalog | null
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

export interface ResolveOptions extends AbortOptions {
  /** A peer known to hold the model, asked first among peers. */
  hint?: string
}

/** A model named by catalog id, sha256, or given as bytes. */
export type ModelRef = string | Uint8Array | ArrayBuffer

/**
 * The bytes as an ArrayBuffer the caller owns: the view's own buffer when it
 * spans all of it (the peer fetch fills one buffer of the model's size),
 * a copy only of a view into a larger buffer. Models are large: one copy is
 * what the fetch may hold.
 */
function ownBuffer (got: ArrayBuffer | Uint8Array): ArrayBuffer {
  if (!(got instanceof Uint8Array)) return got
  if (got.byteOffset === 0 && got.byteLength === got.buffer.byteLength && got.buffer instanceof ArrayBuffer) return got.buffer
  return Uint8Array.prototype.slice.call(got).buffer as ArrayBuffer
}

function isAbort (err: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || (err instanceof Error && err.name === 'AbortError')
}

export class ModelRegistry extends TypedEventTarget<ModelRegistryEvents> {
  private readonly components: ModelRegistryComponents
  private readonly maxModelBytes: number

  constructor (components: ModelRegistryComponents, init: ModelRegistryInit = {}) {
    super()
    this.components = components
    this.maxModelBytes = init.maxModelBytes ?? MAX_MODEL_BYTES
  }

  get catalog (): ModelCatalog | null { return this.components.catalog }

  /** The validated catalog manifest (fetched once by the catalog). */
  async manifest (options: AbortOptions = {}): Promise<ModelManifest> {
    if (this.components.catalog == null) throw new ModelNotFoundError('no model catalog configured')
    return await this.components.catalog.manifest(options)
  }

  /**
   * Turns a model reference into a sha256 and the catalog entry when there is
   * one. Bytes are hashed and stored (so peers can fetch them from us); a
   * sha256 is taken as it is; anything else must be a catalog id.
   */
  async resolveRef (ref: ModelRef, options: AbortOptions = {}): Promise<{ sha256: string, entry?: ModelEntry }> {
    if (typeof ref !== 'string') {
      const bytes = ref instanceof Uint8Array ? ref : new Uint8Array(ref)
      if (bytes.byteLength > this.maxModelBytes) throw new ModelTooLargeError(`model is ${bytes.byteLength} bytes, over the ${this.maxModelBytes} limit`)
      const { sha256 } = await this.components.store.putModel(bytes)
      return { sha256, entry: await this.entryFor(sha256, options.signal) }
    }
    const key = ref.trim()
    if (isSha256Hex(key.toLowerCase())) {
      const sha256 = key.toLowerCase()
      return { sha256, entry: await this.entryFor(sha256, options.signal) }
    }
    if (key === '') throw new InvalidArgumentError('empty model id')
    if (this.components.catalog == null) throw new ModelNotFoundError(`model id ${key}: no catalog configured (pass a sha256 or the model bytes)`)
    const manifest = await this.manifest(options)
    const entry = manifest.models.find(m => m.id === key)
    if (entry == null) throw new ModelNotFoundError(`model ${key} is not in the catalog at ${this.components.catalog.where} (known: ${manifest.models.map(m => m.id).join(', ')})`)
    return { sha256: entry.sha256, entry }
  }

  /**
   * Model bytes for `sha256`, verified. Throws HashMismatchError when the only
   * bytes found did not match, ModelNotFoundError when none were found,
   * AbortError when aborted.
   */
  async resolve (sha256: string, options: ResolveOptions = {}): Promise<ResolvedModel> {
    const { signal } = options
    if (!isSha256Hex(sha256)) throw new InvalidArgumentError(`not a sha256: ${String(sha256)}`)
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

    // 2. The site's catalog (the cheapest source that is not the store).
    let entry: ModelEntry | ExtraEntry | undefined
    const catalog = this.components.catalog
    if (catalog != null) {
      try {
        const manifest = await catalog.manifest({ signal })
        entry = manifest.models.find((m) => m.sha256 === sha256) ?? manifest.extras.find((m) => m.sha256 === sha256)
        if (entry != null) {
          if (entry.bytes > this.maxModelBytes) throw new ModelTooLargeError(`${entry.id} is ${entry.bytes} bytes, over the ${this.maxModelBytes} limit`)
          const bytes = await catalog.download(entry, {
            signal,
            onProgress: (loaded, total) => { this.emit('model:progress', { sha256, loaded, total, source: 'http' }) }
          })
          return await this.keep(sha256, bytes, 'http', entry)
        }
      } catch (err) {
        if (isAbort(err, signal)) throw new AbortError('model fetch aborted', { cause: err })
        log('catalog fetch of %s failed: %s', sha256, (err as Error).message)
        failures.push(err as Error)
      }
    }

    // 3. Peers. Also after a catalog hash mismatch: a bad mirror should not make the model unobtainable.
    if (this.components.fetchFromPeers != null) {
      try {
        const got = await this.components.fetchFromPeers(sha256, {
          signal,
          hint: options.hint,
          onProgress: (loaded, total) => { this.emit('model:progress', { sha256, loaded, total, source: 'peer' }) }
        })
        throwIfAborted(signal)
        if (got != null) {
          if (got.byteLength > this.maxModelBytes) throw new ModelTooLargeError(`peer sent ${got.byteLength} bytes, more than the ${this.maxModelBytes} limit`)
          const bytes = ownBuffer(got)
          return await this.keep(sha256, bytes, 'peer', entry)
        }
      } catch (err) {
        if (isAbort(err, signal)) throw new AbortError('model fetch aborted', { cause: err })
        log('peer fetch of %s failed: %s', sha256, (err as Error).message)
        failures.push(err as Error)
      }
    }

    const named = failures.findLast((e) => e.name === 'HashMismatchError' || e.name === 'ModelTooLargeError')
    if (named != null) throw named
    throw new ModelNotFoundError(`model ${sha256} is not stored here, not in the catalog${catalog != null ? ` (${catalog.where})` : ''} and no peer could serve it`, { cause: failures.at(-1) })
  }

  private async entryFor (sha256: string, signal?: AbortSignal): Promise<ModelEntry | undefined> {
    // best effort: a stored model is usable without the manifest (offline start)
    if (this.components.catalog == null) return undefined
    try {
      return (await this.components.catalog.manifest({ signal })).models.find((m) => m.sha256 === sha256)
    } catch {
      return undefined
    }
  }

  /** Verifies (through the store, which hashes once) and stores; returns the bytes the caller may transfer away. */
  private async keep (sha256: string, bytes: ArrayBuffer, source: 'http' | 'peer', entry?: ModelEntry | ExtraEntry): Promise<ResolvedModel> {
    await this.components.store.putModel(bytes, { sha256, ...(entry != null ? { name: entry.id } : {}) })
    this.emit('model:resolved', { sha256, source, size: bytes.byteLength })
    return { sha256, bytes, source, ...(entry != null ? { entry } : {}) }
  }
}
