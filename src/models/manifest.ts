/**
 * The model catalog manifest served at `models/manifest.json`: which models a
 * node offers, where their bytes live, their sha256 and how their outputs are
 * compared. Browser-safe; the manifest comes over the network, so it is
 * validated before use.
 *
 * @example
 * ```ts
 * const manifest = validateManifest(await (await fetch('models/manifest.json')).json())
 * const mlp = manifest.models.find((m) => m.id === 'mlp')
 * ```
 */
import type { ComparisonPolicy } from '../consensus/types.js'
import type { DType } from '../tensor/index.js'
import { isDType, isSha256Hex, MAX_TENSOR_RANK } from '../tensor/index.js'
import { InvalidMessageError } from '../errors.js'

/** Path of the manifest under the site root (and under `writeCatalog`'s dir). */
export const MANIFEST_PATH = 'models/manifest.json'
/** Manifest documents larger than this are refused before parsing. */
export const MAX_MANIFEST_BYTES = 256 * 1024
export const MAX_MODELS = 256
export const MAX_EXTRAS = 256
/** Largest model file the catalog accepts (bytes). */
export const MAX_MODEL_BYTES = 512 * 1024 * 1024
const MAX_STRING = 1024
const ID = /^[a-z0-9][a-z0-9._-]{0,63}$/
// Relative URL under the site root: no scheme, no leading slash, no '..' segment.
const RELATIVE_FILE = /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/-]{1,256}$/

/** An input's dtype and dims; -1 marks a dynamic dimension. */
export interface TensorSpec {
  dtype: DType
  dims: number[]
}

export interface ModelEntry {
  /** Short stable id, e.g. `mlp`, `ocr-det`. */
  id: string
  name: string
  /** Relative URL under the site root, e.g. `models/mlp.onnx`. */
  file: string
  /** sha256 of the file bytes, 64 lowercase hex chars: the model's identity on the network. */
  sha256: string
  bytes: number
  policy: ComparisonPolicy
  inputs: Record<string, TensorSpec>
  outputs: string[]
  description: string
}

/** A non-model file a model needs (e.g. the OCR keys). */
export interface ExtraEntry {
  id: string
  file: string
  sha256: string
  bytes: number
}

export interface ModelManifest {
  v: 1
  models: ModelEntry[]
  extras: ExtraEntry[]
}

function fail (where: string, what: string): never {
  throw new InvalidMessageError(`manifest ${where}: ${what}`)
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}

function str (v: unknown, where: string, max = MAX_STRING): string {
  if (typeof v !== 'string' || v.length > max) fail(where, `must be a string of at most ${max} chars`)
  return v
}

function finiteNonNeg (v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(where, 'must be a finite non-negative number')
  return v
}

function fraction (v: unknown, where: string): number {
  const n = finiteNonNeg(v, where)
  if (n > 1) fail(where, 'must be between 0 and 1')
  return n
}

function optionalOutput (v: unknown, where: string): { output?: string } {
  return v === undefined ? {} : { output: str(v, where, 256) }
}

/** Validates a ComparisonPolicy (exported for other wire messages that carry one). */
export function validatePolicy (v: unknown, where = 'policy'): ComparisonPolicy {
  if (!isRecord(v)) fail(where, 'must be an object')
  switch (v.kind) {
    case 'exact': {
      if (v.crossClass === undefined) return { kind: 'exact' }
      if (!isRecord(v.crossClass)) fail(`${where}.crossClass`, 'must be { atol, rtol }')
      return {
        kind: 'exact',
        crossClass: { atol: finiteNonNeg(v.crossClass.atol, `${where}.crossClass.atol`), rtol: finiteNonNeg(v.crossClass.rtol, `${where}.crossClass.rtol`) }
      }
    }
    case 'tolerance':
      return { kind: 'tolerance', atol: finiteNonNeg(v.atol, `${where}.atol`), rtol: finiteNonNeg(v.rtol, `${where}.rtol`) }
    case 'topk': {
      if (typeof v.k !== 'number' || !Number.isSafeInteger(v.k) || v.k < 1) fail(`${where}.k`, 'must be a positive integer')
      return { kind: 'topk', k: v.k, ...optionalOutput(v.output, `${where}.output`) }
    }
    case 'ctc-text': {
      const out: ComparisonPolicy = { kind: 'ctc-text', ...optionalOutput(v.output, `${where}.output`) }
      if (v.blank !== undefined) {
        if (typeof v.blank !== 'number' || !Number.isSafeInteger(v.blank) || v.blank < 0) fail(`${where}.blank`, 'must be a non-negative integer')
        out.blank = v.blank
      }
      return out
    }
    case 'mask':
      return {
        kind: 'mask',
        threshold: finiteNonNeg(v.threshold, `${where}.threshold`),
        maxMismatch: fraction(v.maxMismatch, `${where}.maxMismatch`),
        ...optionalOutput(v.output, `${where}.output`)
      }
    default:
      // String() would throw on a kind like {"toString": 1}: name only what is printable
      fail(`${where}.kind`, `unknown policy kind ${typeof v.kind === 'string' ? JSON.stringify(v.kind) : typeof v.kind}`)
  }
}

function fileFields (v: Record<string, unknown>, where: string): { id: string, file: string, sha256: string, bytes: number } {
  const id = str(v.id, `${where}.id`, 64)
  if (!ID.test(id)) fail(`${where}.id`, 'must match [a-z0-9][a-z0-9._-]*')
  const file = str(v.file, `${where}.file`, 256)
  if (!RELATIVE_FILE.test(file)) fail(`${where}.file`, 'must be a relative path under the site root')
  if (!isSha256Hex(v.sha256)) fail(`${where}.sha256`, 'must be 64 lowercase hex chars')
  const bytes = v.bytes
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0 || bytes > MAX_MODEL_BYTES) {
    fail(`${where}.bytes`, `must be an integer between 0 and ${MAX_MODEL_BYTES}`)
  }
  return { id, file, sha256: v.sha256, bytes }
}

function validateInputs (v: unknown, where: string): Record<string, TensorSpec> {
  if (!isRecord(v)) fail(where, 'must be an object of name to { dtype, dims }')
  const entries = Object.entries(v)
  if (entries.length === 0 || entries.length > 64) fail(where, 'must name 1 to 64 inputs')
  const out: Record<string, TensorSpec> = {}
  for (const [name, spec] of entries) {
    str(name, `${where} name`, 256)
    if (!isRecord(spec)) fail(`${where}.${name}`, 'must be { dtype, dims }')
    if (!isDType(spec.dtype)) fail(`${where}.${name}.dtype`, 'unknown dtype')
    const dims = spec.dims
    if (!Array.isArray(dims) || dims.length > MAX_TENSOR_RANK) fail(`${where}.${name}.dims`, `must be an array of at most ${MAX_TENSOR_RANK} dims`)
    for (const d of dims) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < -1) fail(`${where}.${name}.dims`, 'must be integers >= 0, or -1 for dynamic')
    }
    out[name] = { dtype: spec.dtype, dims: [...(dims as number[])] }
  }
  return out
}

function validateModel (v: unknown, where: string): ModelEntry {
  if (!isRecord(v)) fail(where, 'must be an object')
  const outputs = v.outputs
  if (!Array.isArray(outputs) || outputs.length === 0 || outputs.length > 64) fail(`${where}.outputs`, 'must be an array of 1 to 64 names')
  return {
    ...fileFields(v, where),
    name: str(v.name, `${where}.name`, 256),
    policy: validatePolicy(v.policy, `${where}.policy`),
    inputs: validateInputs(v.inputs, `${where}.inputs`),
    outputs: outputs.map((o, i) => str(o, `${where}.outputs[${i}]`, 256)),
    description: str(v.description, `${where}.description`, 4096)
  }
}

/**
 * Checks an untrusted manifest document and returns a clean copy (unknown
 * fields dropped). Throws InvalidMessageError naming the offending field.
 */
export function validateManifest (doc: unknown): ModelManifest {
  if (!isRecord(doc)) fail('', 'must be an object')
  if (doc.v !== 1) fail('v', `unsupported version ${typeof doc.v === 'number' ? doc.v : typeof doc.v}`)
  if (!Array.isArray(doc.models) || doc.models.length > MAX_MODELS) fail('models', `must be an array of at most ${MAX_MODELS}`)
  const extrasRaw = doc.extras ?? []
  if (!Array.isArray(extrasRaw) || extrasRaw.length > MAX_EXTRAS) fail('extras', `must be an array of at most ${MAX_EXTRAS}`)
  const models = doc.models.map((m, i) => validateModel(m, `models[${i}]`))
  const extras = extrasRaw.map((e, i) => {
    if (!isRecord(e)) fail(`extras[${i}]`, 'must be an object')
    return fileFields(e, `extras[${i}]`)
  })
  const ids = new Set<string>()
  for (const { id } of [...models, ...extras]) {
    if (ids.has(id)) fail('', `duplicate id ${id}`)
    ids.add(id)
  }
  return { v: 1, models, extras }
}

/** Parses manifest JSON text (size-limited) and validates it. */
export function parseManifest (text: string): ModelManifest {
  if (text.length > MAX_MANIFEST_BYTES) throw new InvalidMessageError(`manifest larger than ${MAX_MANIFEST_BYTES} bytes`)
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new InvalidMessageError('manifest is not valid JSON', { cause: err })
  }
  return validateManifest(doc)
}
