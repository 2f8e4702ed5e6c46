import { describe, expect, it } from 'vitest'
import { parseManifest, validateManifest, validatePolicy } from './manifest.js'
import type { ModelManifest } from './manifest.js'

const HASH = 'a'.repeat(64)

function good (): ModelManifest {
  return {
    v: 1,
    models: [{
      id: 'mlp',
      name: 'Tiny MLP',
      file: 'models/mlp.onnx',
      sha256: HASH,
      bytes: 3802,
      policy: { kind: 'tolerance', atol: 1e-5, rtol: 1e-4 },
      inputs: { x: { dtype: 'float32', dims: [1, 16] } },
      outputs: ['y'],
      description: 'test'
    }],
    extras: [{ id: 'ocr-keys', file: 'models/ocr/keys.txt', sha256: 'b'.repeat(64), bytes: 10 }]
  }
}

function rejects (mutate: (m: any) => void): void {
  const doc = good() as any
  mutate(doc)
  let err: unknown
  try { validateManifest(doc) } catch (e) { err = e }
  expect(err).toBeInstanceOf(Error)
  expect((err as Error).name).toBe('InvalidMessageError')
}

describe('validateManifest', () => {
  it('accepts a good manifest and drops unknown fields', () => {
    const doc = { ...good(), extra: 1 }
    expect(validateManifest(doc)).toEqual(good())
    expect(parseManifest(JSON.stringify(good()))).toEqual(good())
  })

  it('accepts dynamic dims (-1) and every policy kind', () => {
    const m = good()
    m.models[0].inputs = { x: { dtype: 'float32', dims: [-1, 3, -1, -1] } }
    expect(validateManifest(m).models[0].inputs.x.dims).toEqual([-1, 3, -1, -1])
    for (const p of [
      { kind: 'exact' }, { kind: 'exact', crossClass: { atol: 1e-4, rtol: 1e-4 } }, { kind: 'topk', k: 1 },
      { kind: 'ctc-text', blank: 0, output: 'o' }, { kind: 'mask', threshold: 0.3, maxMismatch: 0.001 }
    ]) expect(validatePolicy(p)).toEqual(p)
  })

  it.each([
    ['not an object', (m: any) => { m.v = undefined; m.models = 'x' }],
    ['wrong version', (m: any) => { m.v = 2 }],
    ['bad sha256', (m: any) => { m.models[0].sha256 = 'XYZ' }],
    ['uppercase sha256', (m: any) => { m.models[0].sha256 = 'A'.repeat(64) }],
    ['absolute file', (m: any) => { m.models[0].file = '/etc/passwd' }],
    ['file escaping the root', (m: any) => { m.models[0].file = 'models/../../x.onnx' }],
    ['file with a scheme', (m: any) => { m.models[0].file = 'https://evil.example/x.onnx' }],
    ['negative bytes', (m: any) => { m.models[0].bytes = -1 }],
    ['unknown policy', (m: any) => { m.models[0].policy = { kind: 'vibes' } }],
    ['NaN tolerance', (m: any) => { m.models[0].policy = { kind: 'tolerance', atol: Number.NaN, rtol: 0 } }],
    ['mask mismatch > 1', (m: any) => { m.models[0].policy = { kind: 'mask', threshold: 0.3, maxMismatch: 2 } }],
    ['unknown dtype', (m: any) => { m.models[0].inputs.x.dtype = 'float16' }],
    ['fractional dim', (m: any) => { m.models[0].inputs.x.dims = [1.5] }],
    ['no outputs', (m: any) => { m.models[0].outputs = [] }],
    ['bad id', (m: any) => { m.models[0].id = 'Has Space' }],
    ['duplicate id', (m: any) => { m.extras[0].id = 'mlp' }],
    ['bad extra', (m: any) => { m.extras[0] = 5 }]
  ])('rejects %s', (_label, mutate) => { rejects(mutate) })

  it('rejects non-JSON and oversized documents', () => {
    expect(() => parseManifest('{')).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
    expect(() => parseManifest(' '.repeat(300 * 1024))).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
    expect(() => validateManifest(null)).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
  })
})
