/**
 * Hostile catalog manifests (they come over HTTP from whatever serves the
 * site): mangled text, mutated documents, random JSON. `parseManifest` must
 * return a clean manifest or throw InvalidMessageError.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { expectNamed, hostileValue, mutatedText, mutatedValue } from '../testing/fuzz.js'
import { MAX_MODEL_BYTES, parseManifest, validateManifest } from './manifest.js'

const NAMES = ['InvalidMessageError']

const good = {
  v: 1,
  models: [
    {
      id: 'mlp', name: 'Tiny MLP', file: 'models/mlp.onnx', sha256: 'a'.repeat(64), bytes: 3802,
      policy: { kind: 'tolerance', atol: 1e-5, rtol: 1e-4 }, inputs: { x: { dtype: 'float32', dims: [1, 16] } }, outputs: ['y'], description: 'test'
    },
    {
      id: 'ocr-rec', name: 'OCR rec', file: 'models/ocr/rec.onnx', sha256: 'c'.repeat(64), bytes: 10_000_000,
      policy: { kind: 'ctc-text', blank: 0, output: 'softmax' }, inputs: { x: { dtype: 'float32', dims: [-1, 3, 48, -1] } }, outputs: ['softmax'], description: ''
    },
    {
      id: 'det', name: 'det', file: 'models/det.onnx', sha256: 'd'.repeat(64), bytes: 1,
      policy: { kind: 'mask', threshold: 0.3, maxMismatch: 0.01 }, inputs: { x: { dtype: 'float32', dims: [1, 3, -1, -1] } }, outputs: ['m'], description: ''
    }
  ],
  extras: [{ id: 'ocr-keys', file: 'models/ocr/keys.txt', sha256: 'b'.repeat(64), bytes: 10 }]
}

/** What a validated manifest promises its users. */
function clean (m: ReturnType<typeof validateManifest>): void {
  const ids = [...m.models, ...m.extras].map((e) => e.id)
  expect(new Set(ids).size).toBe(ids.length)
  for (const e of [...m.models, ...m.extras]) {
    expect(e.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(Number.isSafeInteger(e.bytes) && e.bytes >= 0 && e.bytes <= MAX_MODEL_BYTES).toBe(true)
    expect(e.file.startsWith('/') || e.file.split('/').includes('..') || /^[a-z]+:/i.test(e.file)).toBe(false)
  }
}

describe('parseManifest under hostile input', () => {
  it('mutated manifests parse clean or throw InvalidMessageError', () => {
    fc.assert(fc.property(mutatedValue([good], { bytes: false }), (doc) => {
      const text = JSON.stringify(doc) ?? ''
      const r = expectNamed(() => parseManifest(text), NAMES)
      if (r.ok) clean(r.value)
      const direct = expectNamed(() => validateManifest(doc), NAMES)
      if (direct.ok) clean(direct.value)
    }), { numRuns: 500 })
  })

  it('mangled manifest text and random JSON never crash it', () => {
    fc.assert(fc.property(fc.oneof(mutatedText([JSON.stringify(good, null, 2)]), fc.jsonValue().map((j) => JSON.stringify(j) ?? ''), hostileValue({ bytes: false }).map((v) => JSON.stringify(v) ?? '')), (text) => {
      const r = expectNamed(() => parseManifest(text), NAMES)
      if (r.ok) clean(r.value)
    }), { numRuns: 400 })
  })
})

describe('regressions found by these properties', () => {
  it('a policy kind whose toString is not a function is InvalidMessageError, not a TypeError', () => {
    const text = JSON.stringify({ ...good, models: [{ ...good.models[0], policy: { kind: { toString: 1 } } }] })
    expect(() => parseManifest(text)).toThrow(expect.objectContaining({ name: 'InvalidMessageError', message: expect.stringContaining('unknown policy kind object') }))
  })
})
