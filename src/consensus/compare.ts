/**
 * Output comparison under a job's ComparisonPolicy, and policy validation.
 *
 * Every comparison is symmetric (`agree(a, b) === agree(b, a)`) but NOT
 * transitive for `tolerance`, cross-class `exact` and `mask` with
 * `maxMismatch > 0`; tally.ts is written with that in mind.
 *
 * Structure always has to match first: the same tensor names, and for each
 * name the same dtype and dims. A mismatch is a disagreement, never an error.
 */
import { InvalidMessageError, InvalidTensorError, showValue } from '../errors.js'
import { elementCount, hashTensors } from '../tensor/index.js'
import { checkKeys, isPlainObject } from './util.js'
import type { ComparisonPolicy, NumericClass } from './types.js'
import type { NamedTensors, Tensor } from '../tensor/index.js'

/** Cross-class tolerance used by `exact` when the policy names none (NOTES.md "Determinism": max seen 3.6e-5). */
export const DEFAULT_CROSS_CLASS_TOLERANCE: Readonly<{ atol: number, rtol: number }> = Object.freeze({ atol: 1e-4, rtol: 1e-4 })
/** Largest `k` a topk policy may ask for. */
export const MAX_TOPK = 1_000_000
/** Longest output name a policy may name. */
export const MAX_OUTPUT_NAME_LENGTH = 256

const FLOAT_DTYPES = new Set(['float32', 'float64'])

/** True when the two outputs agree under `policy` (see explainDisagreement for why not). */
export function outputsAgree (a: NamedTensors, b: NamedTensors, policy: ComparisonPolicy, classA: NumericClass, classB: NumericClass): boolean {
  return explainDisagreement(a, b, policy, classA, classB) === undefined
}

/**
 * Why two outputs disagree under `policy`, or `undefined` when they agree.
 * The reason is for logs and receipts' check details, not for branching.
 */
export function explainDisagreement (a: NamedTensors, b: NamedTensors, policy: ComparisonPolicy, classA: NumericClass, classB: NumericClass): string | undefined {
  const structural = structureMismatch(a, b)
  if (structural !== undefined) return structural
  // Byte-identical outputs (one sha256, remembered per tensor set, so
  // comparing hashes costs nothing after the first) agree under every policy
  // and every pair of classes, as long as the policy fits the output at all.
  if (a === b || hashTensors(a) === hashTensors(b)) return policyMisfit(a, policy)
  switch (policy.kind) {
    case 'exact': {
      if (classA === classB) return 'canonical bytes differ (same numeric class)'
      const tol = policy.crossClass ?? DEFAULT_CROSS_CLASS_TOLERANCE
      const why = toleranceMismatch(a, b, tol.atol, tol.rtol)
      return why === undefined ? undefined : `${why} (cross-class ${classA} vs ${classB})`
    }
    case 'tolerance':
      return toleranceMismatch(a, b, policy.atol, policy.rtol)
    case 'topk':
      return forOutputs(a, policy.output, (name) => {
        const ia = cachedTopk(a[name], policy.k)
        const ib = cachedTopk(b[name], policy.k)
        for (let r = 0; r < ia.length; r++) {
          if (!sameSet(ia[r], ib[r])) return `${name}: top-${policy.k} indices differ at row ${r}`
        }
        return undefined
      })
    case 'ctc-text': {
      const blank = policy.blank ?? 0
      return forOutputs(a, policy.output, (name) => {
        const sa = cachedCtc(a[name], blank)
        const sb = cachedCtc(b[name], blank)
        for (let r = 0; r < sa.length; r++) {
          if (!sameSequence(sa[r], sb[r])) return `${name}: decoded sequence ${r} differs`
        }
        return undefined
      })
    }
    case 'mask':
      return forOutputs(a, policy.output, (name) => {
        const ta = a[name]
        const tb = b[name]
        const n = ta.data.length
        if (n === 0) return undefined
        let differing = 0
        for (let i = 0; i < n; i++) {
          // NaN > threshold is false: NaN counts as "off" on both sides.
          if ((numberAt(ta, i) > policy.threshold) !== (numberAt(tb, i) > policy.threshold)) differing++
        }
        const fraction = differing / n
        return fraction <= policy.maxMismatch ? undefined : `${name}: ${differing}/${n} mask elements differ (max fraction ${policy.maxMismatch})`
      })
  }
}

/**
 * Why `policy` cannot compare output `a` even with itself (a missing output
 * name, k beyond the axis, a blank outside the classes), or undefined.
 */
function policyMisfit (a: NamedTensors, policy: ComparisonPolicy): string | undefined {
  switch (policy.kind) {
    case 'exact': case 'tolerance': return undefined
    case 'topk': return forOutputs(a, policy.output, (name) => { cachedTopk(a[name], policy.k); return undefined })
    case 'ctc-text': return forOutputs(a, policy.output, (name) => { cachedCtc(a[name], policy.blank ?? 0); return undefined })
    case 'mask': return forOutputs(a, policy.output, () => undefined)
  }
}

// Decoded forms by tensor: a tally compares every ballot with every centre,
// and a receipt re-checks the same pairs; each output is decoded once.
const decoded = new WeakMap<Tensor, Map<string, number[][]>>()

function cached (t: Tensor, key: string, decode: () => number[][]): number[][] {
  let forT = decoded.get(t)
  if (forT === undefined) { forT = new Map(); decoded.set(t, forT) }
  let out = forT.get(key)
  if (out === undefined) { out = decode(); forT.set(key, out) }
  return out
}

function cachedTopk (t: Tensor, k: number): number[][] {
  return cached(t, `topk/${k}`, () => topkIndices(t, k))
}

function cachedCtc (t: Tensor, blank: number): number[][] {
  return cached(t, `ctc/${blank}`, () => decodeCtc(t, blank))
}

function structureMismatch (a: NamedTensors, b: NamedTensors): string | undefined {
  const na = Object.keys(a).sort()
  const nb = Object.keys(b).sort()
  if (na.length !== nb.length || na.some((n, i) => n !== nb[i])) {
    return `output names differ: [${na.join(', ')}] vs [${nb.join(', ')}]`
  }
  for (const name of na) {
    const ta = a[name]
    const tb = b[name]
    if (ta.dtype !== tb.dtype) return `${name}: dtype ${ta.dtype} vs ${tb.dtype}`
    if (ta.dims.length !== tb.dims.length || ta.dims.some((d, i) => d !== tb.dims[i])) {
      return `${name}: dims ${JSON.stringify(ta.dims)} vs ${JSON.stringify(tb.dims)}`
    }
    if (ta.data.length !== tb.data.length || ta.data.length !== elementCount(ta.dims)) return `${name}: data length does not match dims`
  }
  return undefined
}

/** Runs `fn` on the named output, or on every output (sorted) when none is named. */
function forOutputs (a: NamedTensors, output: string | undefined, fn: (name: string) => string | undefined): string | undefined {
  const names = output === undefined ? Object.keys(a).sort() : [output]
  for (const name of names) {
    if (!Object.hasOwn(a, name)) return `no output named ${JSON.stringify(name)}`
    try {
      const why = fn(name)
      if (why !== undefined) return why
    } catch (err) {
      // A policy that does not fit the tensor (k larger than the axis, rank too
      // low, blank out of range) makes every pair disagree, so a misconfigured
      // job ends inconclusive instead of accepting anything.
      if (err instanceof InvalidTensorError) return `${name}: ${err.message}`
      throw err
    }
  }
  return undefined
}

function toleranceMismatch (a: NamedTensors, b: NamedTensors, atol: number, rtol: number): string | undefined {
  for (const name of Object.keys(a).sort()) {
    const ta = a[name]
    const tb = b[name]
    if (!FLOAT_DTYPES.has(ta.dtype)) {
      // Integer and bool outputs have no rounding error to tolerate.
      const da = ta.data
      const db = tb.data
      for (let i = 0; i < da.length; i++) {
        if (da[i] !== db[i]) return `${name}[${i}]: ${String(da[i])} != ${String(db[i])} (integer dtype compares exactly)`
      }
      continue
    }
    const da = ta.data as Float32Array | Float64Array
    const db = tb.data as Float32Array | Float64Array
    for (let i = 0; i < da.length; i++) {
      const x = da[i]
      const y = db[i]
      if (!closeEnough(x, y, atol, rtol)) return `${name}[${i}]: ${x} vs ${y} outside atol=${atol} rtol=${rtol}`
    }
  }
  return undefined
}

/**
 * |x-y| <= atol + rtol*max(|x|,|y|). NaN agrees only with NaN, and an infinity
 * only with the same infinity (a finite tolerance never bridges to Inf).
 */
export function closeEnough (x: number, y: number, atol: number, rtol: number): boolean {
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y)
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y
  return Math.abs(x - y) <= atol + rtol * Math.max(Math.abs(x), Math.abs(y))
}

function numberAt (t: Tensor, i: number): number {
  const v = t.data[i]
  return typeof v === 'bigint' ? Number(v) : v
}

/**
 * Ranking used by topk and argmax: larger first; NaN ranks above +Inf (as in
 * numpy.argmax and torch.topk) so a peer that produced NaN never silently
 * agrees with one that did not; ties go to the lower index. int64 compares as
 * bigint, so no precision is lost.
 */
function outranks (data: Tensor['data'], i: number, j: number): boolean {
  const x = data[i]
  const y = data[j]
  if (typeof x === 'number' && typeof y === 'number') {
    const xn = Number.isNaN(x)
    const yn = Number.isNaN(y)
    if (xn || yn) return xn && (!yn || i < j)
  }
  if (x > y) return true
  if (x < y) return false
  return i < j
}

function lastAxis (t: Tensor): number {
  if (t.dims.length === 0) throw new InvalidTensorError('a scalar has no last axis')
  return t.dims[t.dims.length - 1]
}

/**
 * Indices of the `k` largest elements of every row along the last axis, best
 * first (see the ranking above). Rows are the tensor flattened over all but
 * the last axis. Throws InvalidTensorError for a scalar or k > last axis.
 */
export function topkIndices (t: Tensor, k: number): number[][] {
  if (!Number.isSafeInteger(k) || k < 1) throw new InvalidTensorError(`k must be an integer >= 1, got ${k}`)
  const c = lastAxis(t)
  if (k > c) throw new InvalidTensorError(`k=${k} exceeds last axis of ${c}`)
  const rows = t.data.length / c
  const out: number[][] = []
  for (let r = 0; r < rows; r++) {
    const base = r * c
    const best: number[] = []
    for (let j = 0; j < c; j++) {
      const idx = base + j
      if (best.length === k && !outranks(t.data, idx, best[k - 1])) continue
      // Insertion keeps `best` sorted; k is small in practice (argmax, top-5).
      let p = best.length === k ? k - 1 : best.length
      best[p] = idx
      while (p > 0 && outranks(t.data, best[p], best[p - 1])) {
        const tmp = best[p - 1]; best[p - 1] = best[p]; best[p] = tmp
        p--
      }
    }
    out.push(best.map((idx) => idx - base))
  }
  return out
}

/** argmax along the last axis of every row (ties: lower index; NaN wins). */
export function argmaxRows (t: Tensor): number[] {
  return topkIndices(t, 1).map((row) => row[0])
}

/**
 * Greedy CTC decoding: argmax over the last axis per time step, collapse
 * repeats, then drop `blank`. Shape `[T, C]` gives one sequence, `[N, T, C]`
 * (or more leading axes, flattened) gives N. Throws InvalidTensorError for a
 * rank below 2 or a blank outside the class axis.
 */
export function decodeCtc (t: Tensor, blank = 0): number[][] {
  if (t.dims.length < 2) throw new InvalidTensorError(`ctc needs [T, C] or [N, T, C], got dims ${JSON.stringify(t.dims)}`)
  const c = t.dims[t.dims.length - 1]
  const steps = t.dims[t.dims.length - 2]
  if (!Number.isSafeInteger(blank) || blank < 0 || blank >= c) throw new InvalidTensorError(`blank ${blank} outside class axis of ${c}`)
  const best = argmaxRows(t)
  const n = steps === 0 ? elementCount(t.dims.slice(0, -2)) : best.length / steps
  const out: number[][] = []
  for (let s = 0; s < n; s++) {
    const seq: number[] = []
    let prev = -1
    for (let i = 0; i < steps; i++) {
      const cls = best[s * steps + i]
      if (cls !== prev && cls !== blank) seq.push(cls)
      prev = cls
    }
    out.push(seq)
  }
  return out
}

function sameSet (a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false
  const sa = [...a].sort((x, y) => x - y)
  const sb = [...b].sort((x, y) => x - y)
  return sa.every((v, i) => v === sb[i])
}

function sameSequence (a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

// -0 and 0 are one value to a comparison; normalising keeps encodings canonical.
function nonNegative (v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidMessageError(`${where} must be a finite number >= 0, got ${showValue(v)}`)
  return v === 0 ? 0 : v
}

function outputName (v: unknown, where: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_OUTPUT_NAME_LENGTH) {
    throw new InvalidMessageError(`${where} must be a non-empty string of at most ${MAX_OUTPUT_NAME_LENGTH} characters`)
  }
  return v
}

/**
 * Validates a policy from the wire (or a user) and returns a fresh, normalised
 * copy with absent optional fields left out (so CBOR and JSON encodings of it
 * are canonical). Unknown fields are rejected. Throws InvalidMessageError.
 */
export function validatePolicy (p: unknown): ComparisonPolicy {
  if (!isPlainObject(p)) throw new InvalidMessageError('policy must be an object')
  switch (p.kind) {
    case 'exact': {
      checkKeys(p, ['kind', 'crossClass'], 'policy')
      if (p.crossClass === undefined) return { kind: 'exact' }
      if (!isPlainObject(p.crossClass)) throw new InvalidMessageError('policy.crossClass must be { atol, rtol }')
      checkKeys(p.crossClass, ['atol', 'rtol'], 'policy.crossClass')
      return { kind: 'exact', crossClass: { atol: nonNegative(p.crossClass.atol, 'policy.crossClass.atol'), rtol: nonNegative(p.crossClass.rtol, 'policy.crossClass.rtol') } }
    }
    case 'tolerance':
      checkKeys(p, ['kind', 'atol', 'rtol'], 'policy')
      return { kind: 'tolerance', atol: nonNegative(p.atol, 'policy.atol'), rtol: nonNegative(p.rtol, 'policy.rtol') }
    case 'topk': {
      checkKeys(p, ['kind', 'k', 'output'], 'policy')
      if (typeof p.k !== 'number' || !Number.isSafeInteger(p.k) || p.k < 1 || p.k > MAX_TOPK) {
        throw new InvalidMessageError(`policy.k must be an integer from 1 to ${MAX_TOPK}, got ${showValue(p.k)}`)
      }
      return p.output === undefined ? { kind: 'topk', k: p.k } : { kind: 'topk', k: p.k, output: outputName(p.output, 'policy.output') }
    }
    case 'ctc-text': {
      checkKeys(p, ['kind', 'blank', 'output'], 'policy')
      const out: ComparisonPolicy = { kind: 'ctc-text' }
      if (p.blank !== undefined) {
        if (typeof p.blank !== 'number' || !Number.isSafeInteger(p.blank) || p.blank < 0) {
          throw new InvalidMessageError(`policy.blank must be an integer >= 0, got ${showValue(p.blank)}`)
        }
        out.blank = p.blank === 0 ? 0 : p.blank
      }
      if (p.output !== undefined) out.output = outputName(p.output, 'policy.output')
      return out
    }
    case 'mask': {
      checkKeys(p, ['kind', 'threshold', 'maxMismatch', 'output'], 'policy')
      if (typeof p.threshold !== 'number' || !Number.isFinite(p.threshold)) {
        throw new InvalidMessageError(`policy.threshold must be a finite number, got ${showValue(p.threshold)}`)
      }
      const maxMismatch = nonNegative(p.maxMismatch, 'policy.maxMismatch')
      if (maxMismatch > 1) throw new InvalidMessageError(`policy.maxMismatch is a fraction from 0 to 1, got ${maxMismatch}`)
      const out: ComparisonPolicy = { kind: 'mask', threshold: p.threshold === 0 ? 0 : p.threshold, maxMismatch }
      if (p.output !== undefined) out.output = outputName(p.output, 'policy.output')
      return out
    }
    default:
      throw new InvalidMessageError(`unknown policy kind ${showValue(p.kind)}`)
  }
}

/**
 * Whether agreement under `policy` is an equivalence relation (decoded values
 * compared for equality). tally.ts uses it to bound how large a cluster can
 * still grow; when false, a later output may bridge two existing ones.
 */
export function isTransitive (policy: ComparisonPolicy): boolean {
  return policy.kind === 'topk' || policy.kind === 'ctc-text' || (policy.kind === 'mask' && policy.maxMismatch === 0)
}
