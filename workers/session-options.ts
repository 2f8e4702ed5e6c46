/**
 * Session options for onnxruntime-web: the worker's defaults and the checks
 * an options object passes before it reaches onnxruntime. No onnxruntime
 * import: the bench and tests use this file too.
 *
 * @example
 * ```ts
 * const options = resolveSessionOptions({ enableMemPattern: true })
 * // { ...DEFAULT_SESSION_OPTIONS, enableMemPattern: true }
 * ```
 */
import { InvalidArgumentError } from '../src/errors.js'
import type { SessionOptions } from './contract.js'

/**
 * What every session gets unless told otherwise: onnxruntime-web's own
 * behaviour with every option unset, written out so that the numeric class
 * does not hang on a library default that may move. The bench's options
 * sweep (bench/results.md, "onnxruntime-web session options") found no
 * option faster beyond machine noise on any catalog model, and two that
 * change output bytes on ocr-rec (graphOptimizationLevel 'basic' and
 * freeDimensionOverrides), so none of them is on by default:
 * - `graphOptimizationLevel: 'all'` (onnxruntime's default);
 * - `enableCpuMemArena: false`, `enableMemPattern: false`: what
 *   onnxruntime-web passes when they are unset (native turns both on);
 *   turning them on kept the bytes but not a measurable speed-up;
 * - `executionMode: 'sequential'`: 'parallel' only adds inter-op scheduling
 *   to these chain-shaped graphs.
 */
export const DEFAULT_SESSION_OPTIONS: Readonly<Required<Omit<SessionOptions, 'freeDimensionOverrides'>>> = Object.freeze({
  graphOptimizationLevel: 'all',
  enableCpuMemArena: false,
  enableMemPattern: false,
  executionMode: 'sequential'
})

const LEVELS = ['disabled', 'basic', 'extended', 'all'] as const
const MODES = ['sequential', 'parallel'] as const
const KEYS = new Set(['graphOptimizationLevel', 'enableCpuMemArena', 'enableMemPattern', 'executionMode', 'freeDimensionOverrides'])
/** More overrides than any model has symbolic dims. */
const MAX_OVERRIDES = 64
/** Larger than any real dim, small enough for wasm32 sizes. */
const MAX_DIM = 2 ** 24

function fail (what: string): never {
  throw new InvalidArgumentError(`session options: ${what}`)
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}

/** Checks `v` field by field (it crosses the worker boundary); unknown fields are refused, not dropped. */
export function validateSessionOptions (v: unknown): SessionOptions {
  if (v === undefined) return {}
  if (!isRecord(v)) fail('must be an object')
  for (const key of Object.keys(v)) if (!KEYS.has(key)) fail(`unknown option ${key}`)
  const out: SessionOptions = {}
  if (v.graphOptimizationLevel !== undefined) {
    if (!(LEVELS as readonly unknown[]).includes(v.graphOptimizationLevel)) fail(`graphOptimizationLevel must be one of ${LEVELS.join(', ')}`)
    out.graphOptimizationLevel = v.graphOptimizationLevel as SessionOptions['graphOptimizationLevel']
  }
  for (const key of ['enableCpuMemArena', 'enableMemPattern'] as const) {
    if (v[key] === undefined) continue
    if (typeof v[key] !== 'boolean') fail(`${key} must be a boolean`)
    out[key] = v[key]
  }
  if (v.executionMode !== undefined) {
    if (!(MODES as readonly unknown[]).includes(v.executionMode)) fail(`executionMode must be one of ${MODES.join(', ')}`)
    out.executionMode = v.executionMode as SessionOptions['executionMode']
  }
  if (v.freeDimensionOverrides !== undefined) {
    const o = v.freeDimensionOverrides
    if (!isRecord(o)) fail('freeDimensionOverrides must be an object of dim name → size')
    const entries = Object.entries(o)
    if (entries.length > MAX_OVERRIDES) fail(`freeDimensionOverrides has more than ${MAX_OVERRIDES} entries`)
    const overrides: Record<string, number> = {}
    for (const [name, size] of entries) {
      if (name.length === 0 || name.length > 256) fail('freeDimensionOverrides: a dim name must be 1 to 256 chars')
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1 || size > MAX_DIM) fail(`freeDimensionOverrides.${name} must be an integer from 1 to ${MAX_DIM}`)
      overrides[name] = size
    }
    out.freeDimensionOverrides = overrides
  }
  return out
}

/** The defaults with `options` (validated) on top: what the worker hands onnxruntime. */
export function resolveSessionOptions (options?: unknown): SessionOptions {
  return { ...DEFAULT_SESSION_OPTIONS, ...validateSessionOptions(options) }
}
