import { describe, expect, it } from 'vitest'
import { createTensor } from '../tensor/index.js'
import { argmaxRows, closeEnough, decodeCtc, explainDisagreement, isTransitive, outputsAgree, topkIndices, validatePolicy } from './compare.js'
import { CLASS_NODE, CLASS_WEB, f32, f64, i32, out } from './test-fixtures.js'
import type { ComparisonPolicy } from './types.js'
import type { NamedTensors } from '../tensor/index.js'

const W = CLASS_WEB
const N = CLASS_NODE

const ALL_POLICIES: ComparisonPolicy[] = [
  { kind: 'exact' },
  { kind: 'tolerance', atol: 1, rtol: 1 },
  { kind: 'topk', k: 1 },
  { kind: 'ctc-text' },
  { kind: 'mask', threshold: 0.5, maxMismatch: 1 }
]

function agree (a: NamedTensors, b: NamedTensors, p: ComparisonPolicy, ca = W, cb = W): boolean {
  const ab = outputsAgree(a, b, p, ca, cb)
  // Every policy is symmetric; check it on every call.
  expect(outputsAgree(b, a, p, cb, ca)).toBe(ab)
  return ab
}

describe('structure', () => {
  const base = out(f32([1, 2, 3, 4, 5, 6], [1, 2, 3]))
  it.each(ALL_POLICIES)('identical outputs agree under $kind', (p) => {
    expect(agree(base, out(f32([1, 2, 3, 4, 5, 6], [1, 2, 3])), p)).toBe(true)
  })
  it.each(ALL_POLICIES)('different names disagree under $kind', (p) => {
    expect(agree(base, { z: f32([1, 2, 3, 4, 5, 6], [1, 2, 3]) }, p)).toBe(false)
    expect(agree(base, { ...base, extra: f32([1]) }, p)).toBe(false)
  })
  it.each(ALL_POLICIES)('different dtypes disagree under $kind', (p) => {
    expect(agree(base, out(f64([1, 2, 3, 4, 5, 6], [1, 2, 3])), p)).toBe(false)
  })
  it.each(ALL_POLICIES)('different dims with the same element count disagree under $kind', (p) => {
    expect(agree(base, out(f32([1, 2, 3, 4, 5, 6], [1, 3, 2])), p)).toBe(false)
    expect(agree(base, out(f32([1, 2, 3, 4, 5, 6], [2, 3])), p)).toBe(false)
  })
  it('explains a structural mismatch', () => {
    expect(explainDisagreement(base, out(f64([1, 2, 3, 4, 5, 6], [1, 2, 3])), { kind: 'exact' }, W, W)).toMatch(/dtype/)
    expect(explainDisagreement(base, base, { kind: 'exact' }, W, W)).toBeUndefined()
  })
})

describe('exact', () => {
  const p: ComparisonPolicy = { kind: 'exact' }
  it('same class: one ulp apart disagrees', () => {
    const x = new Float32Array([1])
    const y = new Float32Array([1 + 2 ** -23])
    expect(y[0]).not.toBe(x[0])
    expect(agree(out(createTensor('float32', [1], x)), out(createTensor('float32', [1], y)), p)).toBe(false)
  })
  it('same class: -0 and +0 differ in bytes, so disagree', () => {
    expect(agree(out(f32([-0])), out(f32([0])), p)).toBe(false)
  })
  it('same class: identical NaN bytes agree', () => {
    expect(agree(out(f32([NaN, 1])), out(f32([NaN, 1])), p)).toBe(true)
  })
  it('across classes falls back to the default 1e-4/1e-4 tolerance', () => {
    expect(agree(out(f64([1])), out(f64([1 + 1.5e-4])), p, W, N)).toBe(true) // 1.5e-4 <= 1e-4 + 1e-4*1.00015
    expect(agree(out(f64([1])), out(f64([1 + 2.5e-4])), p, W, N)).toBe(false)
    expect(agree(out(f64([1])), out(f64([1 + 1.5e-4])), p, W, W)).toBe(false)
  })
  it('across classes uses policy.crossClass when given', () => {
    const loose: ComparisonPolicy = { kind: 'exact', crossClass: { atol: 0.5, rtol: 0 } }
    expect(agree(out(f64([1])), out(f64([1.5])), loose, W, N)).toBe(true)
    expect(agree(out(f64([1])), out(f64([1.5000001])), loose, W, N)).toBe(false)
    expect(explainDisagreement(out(f64([1])), out(f64([2])), loose, W, N)).toMatch(/cross-class/)
  })
  it('across classes still compares integers exactly', () => {
    expect(agree(out(i32([1])), out(i32([2])), { kind: 'exact', crossClass: { atol: 10, rtol: 10 } }, W, N)).toBe(false)
  })
})

describe('tolerance', () => {
  it('atol edge: just inside agrees, just outside disagrees (float64, exact dyadic values)', () => {
    const p: ComparisonPolicy = { kind: 'tolerance', atol: 0.25, rtol: 0 }
    expect(agree(out(f64([1])), out(f64([1.25])), p)).toBe(true)
    expect(agree(out(f64([1])), out(f64([1.25 + 2 ** -40])), p)).toBe(false)
    expect(agree(out(f64([1])), out(f64([0.75])), p)).toBe(true)
    expect(agree(out(f64([1])), out(f64([0.75 - 2 ** -40])), p)).toBe(false)
  })
  it('rtol edge uses max(|a|,|b|) so the comparison is symmetric', () => {
    const p: ComparisonPolicy = { kind: 'tolerance', atol: 0, rtol: 0.5 }
    expect(agree(out(f64([2])), out(f64([1])), p)).toBe(true) // |1| <= 0.5 * 2
    expect(agree(out(f64([2])), out(f64([1 - 2 ** -40])), p)).toBe(false)
    expect(agree(out(f64([-2])), out(f64([-1])), p)).toBe(true)
    expect(agree(out(f64([-2])), out(f64([1])), p)).toBe(false)
  })
  it('atol and rtol add up', () => {
    const p: ComparisonPolicy = { kind: 'tolerance', atol: 0.25, rtol: 0.25 }
    // bound = 0.25 + 0.25 * 2 = 0.75
    expect(agree(out(f64([2])), out(f64([1.25])), p)).toBe(true)
    expect(agree(out(f64([2])), out(f64([1.25 - 2 ** -40])), p)).toBe(false)
  })
  it('float32 outputs at the NOTES.md cross-runtime error level agree under 1e-5/1e-4, a flipped logit does not', () => {
    const p: ComparisonPolicy = { kind: 'tolerance', atol: 1e-5, rtol: 1e-4 }
    const a = out(f32([0.123456, -3.5, 12.25, 0]))
    const b = out(f32([0.123456 + 3e-6, -3.5 - 3.4e-5 * 3.5 / 1000, 12.25 + 1e-4, 6e-8]))
    expect(agree(a, b, p)).toBe(true)
    expect(agree(a, out(f32([0.123456, -3.5, 12.25, 2e-5])), p)).toBe(false)
  })
  it('zero tolerance means bit-equal values (but -0 equals +0)', () => {
    const p: ComparisonPolicy = { kind: 'tolerance', atol: 0, rtol: 0 }
    expect(agree(out(f32([1, -0])), out(f32([1, 0])), p)).toBe(true)
    expect(agree(out(f32([1])), out(f32([1 + 2 ** -23])), p)).toBe(false)
  })
  it('NaN agrees only with NaN', () => {
    const p: ComparisonPolicy = { kind: 'tolerance', atol: 1e9, rtol: 1e9 }
    expect(agree(out(f32([NaN])), out(f32([NaN])), p)).toBe(true)
    expect(agree(out(f32([NaN])), out(f32([0])), p)).toBe(false)
    expect(agree(out(f32([NaN])), out(f32([Infinity])), p)).toBe(false)
  })
  it('an infinity agrees only with the same infinity, whatever the tolerance', () => {
    const p: ComparisonPolicy = { kind: 'tolerance', atol: 1e300, rtol: 1e300 }
    expect(agree(out(f64([Infinity])), out(f64([Infinity])), p)).toBe(true)
    expect(agree(out(f64([-Infinity])), out(f64([-Infinity])), p)).toBe(true)
    expect(agree(out(f64([Infinity])), out(f64([-Infinity])), p)).toBe(false)
    expect(agree(out(f64([Infinity])), out(f64([1e308])), p)).toBe(false)
    expect(agree(out(f64([-Infinity])), out(f64([-1e308])), p)).toBe(false)
  })
  it('integer dtypes compare exactly whatever the tolerance', () => {
    const p: ComparisonPolicy = { kind: 'tolerance', atol: 100, rtol: 100 }
    expect(agree(out(i32([1, 2])), out(i32([1, 2])), p)).toBe(true)
    expect(agree(out(i32([1, 2])), out(i32([1, 3])), p)).toBe(false)
    const big = (v: bigint): NamedTensors => out(createTensor('int64', [1], BigInt64Array.from([v])))
    expect(agree(big(2n ** 60n), big(2n ** 60n), p)).toBe(true)
    expect(agree(big(2n ** 60n), big(2n ** 60n + 1n), p)).toBe(false) // equal as doubles, different as int64
    const bool = (v: number): NamedTensors => out(createTensor('bool', [1], Uint8Array.from([v])))
    expect(agree(bool(1), bool(0), p)).toBe(false)
  })
  it('checks every output, not just the first', () => {
    const p: ComparisonPolicy = { kind: 'tolerance', atol: 0.1, rtol: 0 }
    expect(agree({ a: f32([1]), b: f32([1]) }, { a: f32([1]), b: f32([1.5]) }, p)).toBe(false)
  })
  it('closeEnough matches the documented formula', () => {
    expect(closeEnough(100, 101, 0, 0.01)).toBe(true)
    expect(closeEnough(100, 101.1, 0, 0.01)).toBe(false)
  })
})

describe('topk', () => {
  it('k=1: same argmax with different scores agrees; a flipped argmax disagrees', () => {
    const p: ComparisonPolicy = { kind: 'topk', k: 1 }
    expect(agree(out(f32([0.1, 0.7, 0.2])), out(f32([0.3, 0.4, 0.3])), p)).toBe(true)
    expect(agree(out(f32([0.1, 0.45, 0.46])), out(f32([0.1, 0.46, 0.45])), p)).toBe(false)
  })
  it('k=2 compares sets: the order inside the top k does not matter', () => {
    const p: ComparisonPolicy = { kind: 'topk', k: 2 }
    expect(agree(out(f32([5, 4, 0, 1])), out(f32([4, 5, 1, 0])), p)).toBe(true)
    expect(agree(out(f32([5, 4, 0, 1])), out(f32([5, 0, 4.5, 1])), p)).toBe(false)
  })
  it('compares every row along the last axis', () => {
    const p: ComparisonPolicy = { kind: 'topk', k: 1 }
    const a = out(f32([1, 0, 0, 1], [2, 2]))
    expect(agree(a, out(f32([1, 0, 0, 1], [2, 2])), p)).toBe(true)
    expect(agree(a, out(f32([1, 0, 1, 0], [2, 2])), p)).toBe(false)
    expect(explainDisagreement(a, out(f32([1, 0, 1, 0], [2, 2])), p, W, W)).toMatch(/row 1/)
  })
  it('ties go to the lower index, deterministically', () => {
    expect(topkIndices(f32([3, 7, 7, 7, 1]), 2)).toEqual([[1, 2]])
    expect(argmaxRows(f32([2, 2, 2]))).toEqual([0])
    // a tie in one output and a clear winner at the lower index in the other agree
    expect(agree(out(f32([1, 1, 0])), out(f32([1, 0.5, 0])), { kind: 'topk', k: 1 })).toBe(true)
    expect(agree(out(f32([1, 1, 0])), out(f32([0.5, 1, 0])), { kind: 'topk', k: 1 })).toBe(false)
  })
  it('NaN ranks above +Inf, and NaN ties go to the lower index', () => {
    expect(topkIndices(f32([1, NaN, Infinity, NaN]), 3)).toEqual([[1, 3, 2]])
    expect(agree(out(f32([0.9, NaN])), out(f32([0.9, 0.1])), { kind: 'topk', k: 1 })).toBe(false)
    expect(agree(out(f32([0.9, NaN])), out(f32([0.1, NaN])), { kind: 'topk', k: 1 })).toBe(true)
  })
  it('ranks -Inf last and int64 without precision loss', () => {
    expect(topkIndices(f64([-Infinity, -1e308, 0]), 3)).toEqual([[2, 1, 0]])
    const big = createTensor('int64', [3], BigInt64Array.from([2n ** 60n, 2n ** 60n + 1n, 0n]))
    expect(topkIndices(big, 1)).toEqual([[1]])
  })
  it('topkIndices returns best first for larger k (insertion path)', () => {
    const data = [9, 3, 8, 1, 7, 2, 6, 0, 5, 4]
    expect(topkIndices(f32(data), 10)).toEqual([[0, 2, 4, 6, 8, 9, 1, 5, 3, 7]])
  })
  it('only the named output is compared by value', () => {
    const p: ComparisonPolicy = { kind: 'topk', k: 1, output: 'logits' }
    const a = { logits: f32([0, 1]), aux: f32([5, 5]) }
    expect(agree(a, { logits: f32([0.2, 0.9]), aux: f32([0, 0]) }, p)).toBe(true)
    expect(agree(a, { logits: f32([0.9, 0.2]), aux: f32([5, 5]) }, p)).toBe(false)
  })
  it('without `output`, every output is compared', () => {
    const p: ComparisonPolicy = { kind: 'topk', k: 1 }
    expect(agree({ a: f32([0, 1]), b: f32([1, 0]) }, { a: f32([0, 1]), b: f32([0, 1]) }, p)).toBe(false)
  })
  it('a missing named output, a scalar, or k beyond the axis disagrees (even with itself)', () => {
    const x = out(f32([0, 1]))
    expect(explainDisagreement(x, x, { kind: 'topk', k: 1, output: 'nope' }, W, W)).toMatch(/no output named/)
    expect(explainDisagreement(x, x, { kind: 'topk', k: 3 }, W, W)).toMatch(/exceeds last axis/)
    const s = out(f32([1], []))
    expect(outputsAgree(s, s, { kind: 'topk', k: 1 }, W, W)).toBe(false)
    expect(() => topkIndices(f32([1, 2]), 0)).toThrow(expect.objectContaining({ name: 'InvalidTensorError' }))
  })
})

describe('ctc-text', () => {
  // 6 time steps over classes {0: blank, 1: 'a', 2: 'b'}
  const steps = (cls: number[], c = 3): number[] => cls.flatMap((k) => Array.from({ length: c }, (_, j) => (j === k ? 0.9 : 0.05)))
  it('decodes greedily: argmax, collapse repeats, drop blanks', () => {
    const t = f32(steps([1, 1, 0, 1, 2, 2]), [1, 6, 3])
    expect(decodeCtc(t)).toEqual([[1, 1, 2]])
    expect(decodeCtc(t, 2)).toEqual([[1, 0, 1]])
    expect(decodeCtc(f32(steps([0, 0, 0]), [3, 3]))).toEqual([[]])
    expect(decodeCtc(f32([...steps([1, 2]), ...steps([2, 2])], [2, 2, 3]))).toEqual([[1, 2], [2]])
  })
  it('agrees when the decoded text matches despite different alignments and scores', () => {
    const p: ComparisonPolicy = { kind: 'ctc-text' }
    const a = out(f32(steps([1, 1, 0, 2, 0, 0]), [1, 6, 3]))
    const b = out(f32(steps([0, 1, 0, 0, 2, 2]), [1, 6, 3]))
    expect(agree(a, b, p)).toBe(true)
  })
  it('disagrees on a different character, a missing repeat separator, or another batch item', () => {
    const p: ComparisonPolicy = { kind: 'ctc-text' }
    const a = out(f32(steps([1, 0, 1]), [1, 3, 3])) // "aa"
    expect(agree(a, out(f32(steps([1, 1, 1]), [1, 3, 3])), p)).toBe(false) // "a"
    expect(agree(a, out(f32(steps([1, 0, 2]), [1, 3, 3])), p)).toBe(false) // "ab"
    const two = out(f32([...steps([1, 0, 1]), ...steps([2, 0, 2])], [2, 3, 3]))
    expect(agree(two, out(f32([...steps([1, 0, 1]), ...steps([2, 2, 2])], [2, 3, 3])), p)).toBe(false)
  })
  it('uses a custom blank', () => {
    const a = out(f32(steps([1, 2, 1]), [1, 3, 3])) // blank 2: "aa"; blank 0: "aba"
    const b = out(f32(steps([1, 1, 1]), [1, 3, 3])) // blank 2: "a"
    expect(agree(a, b, { kind: 'ctc-text', blank: 2 })).toBe(false)
    const x = out(f32(steps([2, 1, 2]), [1, 3, 3])) // blank 2: "a"; blank 0: "bab"
    const y = out(f32(steps([1, 1, 1]), [1, 3, 3])) // "a" either way
    expect(agree(x, y, { kind: 'ctc-text', blank: 2 })).toBe(true)
    expect(agree(x, y, { kind: 'ctc-text', blank: 0 })).toBe(false)
  })
  it('rejects a rank below 2 or a blank outside the class axis', () => {
    expect(() => decodeCtc(f32([1, 2, 3]))).toThrow(expect.objectContaining({ name: 'InvalidTensorError' }))
    expect(() => decodeCtc(f32(steps([1]), [1, 3]), 3)).toThrow(expect.objectContaining({ name: 'InvalidTensorError' }))
    const x = out(f32(steps([1]), [1, 1, 3]))
    expect(outputsAgree(x, x, { kind: 'ctc-text', blank: 5 }, W, W)).toBe(false)
  })
})

describe('mask', () => {
  it('agrees while the differing fraction is at most maxMismatch', () => {
    const a = out(f32([0.9, 0.1, 0.8, 0.2]))
    const b = out(f32([0.9, 0.1, 0.8, 0.7])) // 1 of 4 differs
    expect(agree(a, b, { kind: 'mask', threshold: 0.5, maxMismatch: 0.25 })).toBe(true)
    expect(agree(a, b, { kind: 'mask', threshold: 0.5, maxMismatch: 0.24 })).toBe(false)
    expect(agree(a, b, { kind: 'mask', threshold: 0.5, maxMismatch: 0 })).toBe(false)
    expect(agree(a, out(f32([0.6, 0.4, 0.51, 0.49])), { kind: 'mask', threshold: 0.5, maxMismatch: 0 })).toBe(true)
  })
  it('is strictly greater-than: an element equal to the threshold is off', () => {
    expect(agree(out(f32([0.5])), out(f32([0.4])), { kind: 'mask', threshold: 0.5, maxMismatch: 0 })).toBe(true)
    expect(agree(out(f32([0.5])), out(f32([0.6])), { kind: 'mask', threshold: 0.5, maxMismatch: 0 })).toBe(false)
  })
  it('treats NaN as off', () => {
    expect(agree(out(f32([NaN])), out(f32([0])), { kind: 'mask', threshold: 0.5, maxMismatch: 0 })).toBe(true)
    expect(agree(out(f32([NaN])), out(f32([1])), { kind: 'mask', threshold: 0.5, maxMismatch: 0 })).toBe(false)
  })
  it('counts per output, and empty outputs agree', () => {
    const p: ComparisonPolicy = { kind: 'mask', threshold: 0, maxMismatch: 0.5 }
    expect(agree({ a: f32([1, 1]), b: f32([1, 1]) }, { a: f32([1, 1]), b: f32([-1, -1]) }, p)).toBe(false)
    expect(agree(out(f32([], [0, 4])), out(f32([], [0, 4])), p)).toBe(true)
  })
})

describe('validatePolicy', () => {
  it('accepts and normalises valid policies', () => {
    expect(validatePolicy({ kind: 'exact' })).toEqual({ kind: 'exact' })
    expect(validatePolicy({ kind: 'exact', crossClass: { atol: 1e-3, rtol: 0 } })).toEqual({ kind: 'exact', crossClass: { atol: 1e-3, rtol: 0 } })
    expect(validatePolicy({ kind: 'tolerance', atol: 1e-5, rtol: 1e-4 })).toEqual({ kind: 'tolerance', atol: 1e-5, rtol: 1e-4 })
    expect(validatePolicy({ kind: 'topk', k: 5, output: 'logits' })).toEqual({ kind: 'topk', k: 5, output: 'logits' })
    expect(validatePolicy({ kind: 'ctc-text', blank: 0 })).toEqual({ kind: 'ctc-text', blank: 0 })
    expect(validatePolicy({ kind: 'mask', threshold: -1.5, maxMismatch: 1 })).toEqual({ kind: 'mask', threshold: -1.5, maxMismatch: 1 })
    // -0 becomes 0 so encodings stay canonical; the input is not mutated
    const input = { kind: 'tolerance', atol: -0, rtol: 0 }
    expect(Object.is(validatePolicy(input).kind === 'tolerance' && (validatePolicy(input) as { atol: number }).atol, 0)).toBe(true)
    expect(Object.is(input.atol, -0)).toBe(true)
    // absent optional fields are left out, not set to undefined
    expect(Object.keys(validatePolicy({ kind: 'topk', k: 1, output: undefined }))).toEqual(['kind', 'k'])
  })
  it.each([
    ['not an object', null],
    ['an array', [{ kind: 'exact' }]],
    ['unknown kind', { kind: 'fuzzy' }],
    ['missing kind', { atol: 1, rtol: 1 }],
    ['unknown field', { kind: 'exact', atol: 1 }],
    ['negative atol', { kind: 'tolerance', atol: -1e-5, rtol: 0 }],
    ['NaN rtol', { kind: 'tolerance', atol: 0, rtol: NaN }],
    ['infinite atol', { kind: 'tolerance', atol: Infinity, rtol: 0 }],
    ['string atol', { kind: 'tolerance', atol: '0.1', rtol: 0 }],
    ['missing rtol', { kind: 'tolerance', atol: 0 }],
    ['bad crossClass', { kind: 'exact', crossClass: { atol: -1, rtol: 0 } }],
    ['crossClass with extra field', { kind: 'exact', crossClass: { atol: 1, rtol: 0, k: 1 } }],
    ['k = 0', { kind: 'topk', k: 0 }],
    ['fractional k', { kind: 'topk', k: 1.5 }],
    ['huge k', { kind: 'topk', k: 2 ** 40 }],
    ['empty output name', { kind: 'topk', k: 1, output: '' }],
    ['numeric output name', { kind: 'ctc-text', output: 3 }],
    ['negative blank', { kind: 'ctc-text', blank: -1 }],
    ['fractional blank', { kind: 'ctc-text', blank: 0.5 }],
    ['NaN threshold', { kind: 'mask', threshold: NaN, maxMismatch: 0 }],
    ['maxMismatch above 1', { kind: 'mask', threshold: 0, maxMismatch: 1.01 }],
    ['negative maxMismatch', { kind: 'mask', threshold: 0, maxMismatch: -0.1 }]
  ])('rejects %s with InvalidMessageError', (_why, policy) => {
    expect(() => validatePolicy(policy)).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
  })
  it('isTransitive is true only for decoded-equality policies', () => {
    expect(isTransitive({ kind: 'topk', k: 1 })).toBe(true)
    expect(isTransitive({ kind: 'ctc-text' })).toBe(true)
    expect(isTransitive({ kind: 'mask', threshold: 0, maxMismatch: 0 })).toBe(true)
    expect(isTransitive({ kind: 'mask', threshold: 0, maxMismatch: 0.1 })).toBe(false)
    expect(isTransitive({ kind: 'tolerance', atol: 0, rtol: 0 })).toBe(false)
    expect(isTransitive({ kind: 'exact' })).toBe(false)
  })
})
