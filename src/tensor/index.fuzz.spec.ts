/**
 * Hostile input for the tensor decoders: the documented JSON input format
 * (`tensorsFromJSON`) and the CBOR wire form (`tensorsFromWire`). Each must
 * return tensors whose data matches their dims, or throw InvalidTensorError.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { expectNamed, hostileValue, mutatedText, mutatedValue } from '../testing/fuzz.js'
import {
  DTYPES, bytesPerElement, canonicalBytes, createTensor, elementCount, tensorsFromJSON, tensorsFromWire, tensorsToJSON, tensorsToWire
} from './index.js'
import type { DType, NamedTensors, TypedArray } from './index.js'

const NAMES = ['InvalidTensorError']

const validDocs: unknown[] = [
  { x: { dtype: 'float32', dims: [1, 4], data: [1, 2, 3, 4] } },
  { ids: { dtype: 'int64', dims: [2], data: ['9007199254740993', -5] }, mask: { dtype: 'bool', dims: [2, 1], data: [[true], [0]] } },
  { a: { dtype: 'uint8', dims: [3], data: [0, 128, 255] }, b: { dtype: 'int8', dims: [], data: [-128] }, c: { dtype: 'float64', dims: [0, 3], data: [] } },
  { sr: { dtype: 'int32', dims: [1], data: [16000] } }
]

/** Every dims/data combination decoded must agree (and the canonical bytes be computable). */
function wellFormed (t: NamedTensors): void {
  for (const [name, v] of Object.entries(t)) {
    expect(v.data.length, name).toBe(elementCount(v.dims))
    expect(v.data.byteLength).toBe(v.data.length * bytesPerElement(v.dtype))
  }
  canonicalBytes(t)
}

const arrayOf: Record<DType, (n: number[]) => TypedArray> = {
  float32: (n) => Float32Array.from(n),
  float64: (n) => Float64Array.from(n),
  int32: (n) => Int32Array.from(n),
  int64: (n) => BigInt64Array.from(n, (x) => BigInt(Math.trunc(x))),
  uint8: (n) => Uint8Array.from(n),
  int8: (n) => Int8Array.from(n),
  bool: (n) => Uint8Array.from(n, (x) => (x !== 0 ? 1 : 0))
}

/** Valid tensors of every dtype, rank 0-3, up to 24 elements. */
const namedTensors: fc.Arbitrary<NamedTensors> = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 6 }),
  fc.record({ dtype: fc.constantFrom(...DTYPES), dims: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }) }).chain(({ dtype, dims }) =>
    fc.array(fc.integer({ min: -128, max: 127 }), { minLength: elementCount(dims), maxLength: elementCount(dims) })
      .map((data) => createTensor(dtype, dims, arrayOf[dtype](dtype === 'uint8' ? data.map((x) => x & 255) : data)))),
  { minKeys: 1, maxKeys: 4 }
)

describe('tensorsFromJSON under hostile input', () => {
  it('mutated documents decode consistently or throw InvalidTensorError', () => {
    fc.assert(fc.property(mutatedValue(validDocs, { bytes: false }), (doc) => {
      for (const input of [doc, JSON.parse(JSON.stringify(doc) ?? 'null')]) {
        const r = expectNamed(() => tensorsFromJSON(input), NAMES)
        if (r.ok) wellFormed(r.value)
      }
    }), { numRuns: 500 })
  })

  it('arbitrary JSON values and mangled JSON text never crash it', () => {
    const text = mutatedText(validDocs.map((d) => JSON.stringify(d)))
    fc.assert(fc.property(fc.oneof(fc.jsonValue(), text.map((s) => { try { return JSON.parse(s) } catch { return s } }), hostileValue({ bytes: false })), (doc) => {
      const r = expectNamed(() => tensorsFromJSON(doc), NAMES)
      if (r.ok) wellFormed(r.value)
    }), { numRuns: 400 })
  })

  it('integer values outside their dtype are refused, never wrapped', () => {
    const intDType = fc.constantFrom<DType>('int8', 'uint8', 'int32', 'int64')
    const value = fc.oneof(
      fc.integer({ min: -300, max: 300 }), fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 31 - 1, -(2 ** 31)),
      fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n }).map((b) => b.toString())
    )
    fc.assert(fc.property(intDType, fc.array(value, { minLength: 1, maxLength: 4 }), (dtype, data) => {
      const r = expectNamed(() => tensorsFromJSON({ x: { dtype, dims: [data.length], data } }), NAMES)
      if (!r.ok) return
      // whatever was accepted reads back as exactly the value that was sent
      expect(tensorsToJSON(r.value).x.data.map(String)).toEqual(data.map(String))
    }), { numRuns: 300 })
  })

  it('valid tensors round-trip through JSON text bit for bit (finite floats)', () => {
    fc.assert(fc.property(namedTensors, (t) => {
      const back = tensorsFromJSON(JSON.parse(JSON.stringify(tensorsToJSON(t))))
      expect(canonicalBytes(back)).toEqual(canonicalBytes(t))
    }), { numRuns: 200 })
  })
})

describe('tensorsFromWire under hostile input', () => {
  const validWire = [
    tensorsToWire(tensorsFromJSON(validDocs[0])),
    tensorsToWire(tensorsFromJSON(validDocs[1])),
    tensorsToWire(tensorsFromJSON(validDocs[2]))
  ]

  it('mutated wire tensors decode consistently or throw InvalidTensorError', () => {
    fc.assert(fc.property(mutatedValue(validWire), (wire) => {
      const r = expectNamed(() => tensorsFromWire(wire), NAMES)
      if (r.ok) wellFormed(r.value)
    }), { numRuns: 500 })
  })

  it('random wire values, absurd dims and short data never crash it', () => {
    const entry = fc.record({
      dtype: fc.oneof(fc.constantFrom(...DTYPES), hostileValue()),
      dims: fc.oneof(fc.array(fc.oneof(fc.nat(4), fc.constantFrom(0, 2 ** 31, 2 ** 53, 2 ** 53 + 2, -1, 0.5)), { maxLength: 10 }), hostileValue()),
      data: fc.oneof(fc.uint8Array({ maxLength: 64 }), hostileValue())
    })
    fc.assert(fc.property(fc.oneof(fc.dictionary(fc.string({ maxLength: 4 }), entry, { maxKeys: 3 }), hostileValue()), (wire) => {
      const r = expectNamed(() => tensorsFromWire(wire), NAMES)
      if (r.ok) wellFormed(r.value)
    }), { numRuns: 400 })
  })

  it('valid tensors round-trip through the wire form', () => {
    fc.assert(fc.property(namedTensors, (t) => {
      expect(canonicalBytes(tensorsFromWire(tensorsToWire(t)))).toEqual(canonicalBytes(t))
    }), { numRuns: 200 })
  })
})

describe('regressions found by these properties', () => {
  const named = (fn: () => unknown): string | undefined => { try { fn(); return undefined } catch (e) { return (e as Error).name } }

  it('a dim or dtype whose toString is not a function is InvalidTensorError, not a TypeError', () => {
    expect(named(() => tensorsFromJSON({ x: { dtype: 'float32', dims: [{ toString: 1 }], data: [] } }))).toBe('InvalidTensorError')
    expect(named(() => tensorsFromWire({ x: { dtype: Object.create(null), dims: [], data: new Uint8Array(4) } }))).toBe('InvalidTensorError')
    expect(named(() => tensorsFromJSON({ x: { dtype: 10n, dims: [], data: [1] } }))).toBe('InvalidTensorError')
  })

  it('integers outside their dtype are refused instead of wrapping', () => {
    for (const [dtype, v] of [['int32', 2 ** 31], ['int32', -(2 ** 31) - 1], ['uint8', 256], ['uint8', -1], ['int8', 128], ['int64', '9223372036854775808'], ['int64', '-9223372036854775809']] as const) {
      expect(named(() => tensorsFromJSON({ x: { dtype, dims: [1], data: [v] } })), `${dtype} ${v}`).toBe('InvalidTensorError')
    }
    expect(tensorsFromJSON({ x: { dtype: 'int64', dims: [2], data: ['9223372036854775807', '-9223372036854775808'] } }).x.data).toEqual(BigInt64Array.of(2n ** 63n - 1n, -(2n ** 63n)))
  })

  it('a -0 dim is stored as 0', () => {
    expect(Object.is(tensorsFromJSON(JSON.parse('{"x":{"dtype":"float32","dims":[-0,3],"data":[]}}')).x.dims[0], 0)).toBe(true)
    expect(Object.is(tensorsFromWire({ x: { dtype: 'uint8', dims: [-0], data: new Uint8Array(0) } }).x.dims[0], 0)).toBe(true)
  })
})
