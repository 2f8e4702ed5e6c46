import { describe, expect, it } from 'vitest'
import { createTensor } from '../tensor/index.js'
import { ctcDecode, parseKeys, recPreprocess } from './rec.js'

/** [1,T,C] one-hot-ish rows: each step puts probability p on class c, the rest spread evenly. */
function steps (classes: number, seq: Array<[number, number]>): ReturnType<typeof createTensor> {
  const data = new Float32Array(seq.length * classes)
  seq.forEach(([c, p], t) => {
    for (let k = 0; k < classes; k++) data[t * classes + k] = (1 - p) / (classes - 1)
    data[t * classes + c] = p
  })
  return createTensor('float32', [1, seq.length, classes], data)
}

describe('parseKeys', () => {
  it('reads one key per line, tolerates CRLF and a final newline, and appends the space', () => {
    expect(parseKeys('a\nb\r\nc\n')).toEqual(['a', 'b', 'c', ' '])
    expect(parseKeys('a\nb')).toEqual(['a', 'b', ' '])
    expect(parseKeys('a\nb', { useSpaceChar: false })).toEqual(['a', 'b'])
  })
})

describe('ctcDecode', () => {
  const keys = parseKeys('H\ni\n!') // classes: 0 blank, 1 H, 2 i, 3 !, 4 space
  it('collapses repeats, drops blanks and maps class i to keys[i-1]', () => {
    const out = steps(5, [[0, 0.9], [1, 0.8], [1, 0.9], [0, 0.9], [2, 0.6], [4, 0.7], [3, 1], [3, 1], [0, 1], [3, 0.5]])
    const r = ctcDecode(out, keys)
    expect(r.text).toBe('Hi !!')
    expect(r.indices).toEqual([1, 2, 4, 3, 3])
    expect(r.confidence).toBeCloseTo((0.8 + 0.6 + 0.7 + 1 + 0.5) / 5, 6)
  })

  it('returns an empty text with confidence 0 for all blanks', () => {
    expect(ctcDecode(steps(5, [[0, 1], [0, 1]]), keys)).toEqual({ text: '', confidence: 0, indices: [] })
  })

  it('rejects classes without a key and malformed tensors', () => {
    expect(() => ctcDecode(steps(7, [[6, 1]]), keys)).toThrow(expect.objectContaining({ name: 'InvalidTensorError' }))
    expect(() => ctcDecode(createTensor('float32', [2, 1, 5], new Float32Array(10)), keys)).toThrow(expect.objectContaining({ name: 'InvalidTensorError' }))
    expect(() => ctcDecode(createTensor('int32', [1, 1, 5], new Int32Array(5)), keys)).toThrow(expect.objectContaining({ name: 'InvalidTensorError' }))
  })
})

describe('recPreprocess', () => {
  function solid (width: number, height: number, v: number): { width: number, height: number, data: Uint8ClampedArray } {
    return { width, height, data: new Uint8ClampedArray(width * height * 4).fill(v) }
  }

  it('scales to height 48, pads narrow crops to 320 and normalises to [-1, 1]', () => {
    const x = recPreprocess(solid(100, 24, 255)) // natural width 200
    expect(x.dims).toEqual([1, 3, 48, 320])
    const d = x.data as Float32Array
    expect(d[0]).toBe(1) // white
    expect(d[199]).toBe(1) // last resized column
    expect(d[200]).toBe(0) // padding
    expect(d[2 * 48 * 320 + 47 * 320 + 10]).toBe(1)
    expect((recPreprocess(solid(10, 10, 0)).data as Float32Array)[0]).toBe(-1)
  })

  it('keeps the aspect ratio of wide crops (width a multiple of 8) and caps it', () => {
    expect(recPreprocess(solid(300, 30, 128)).dims).toEqual([1, 3, 48, 480])
    expect(recPreprocess(solid(301, 30, 128)).dims).toEqual([1, 3, 48, 488])
    expect(recPreprocess(solid(5000, 10, 128)).dims).toEqual([1, 3, 48, 2048])
  })
})
