import { describe, expect, it } from 'vitest'
import { DEFAULT_SESSION_OPTIONS, resolveSessionOptions, validateSessionOptions } from './session-options.js'

describe('session options', () => {
  it('keeps onnxruntime-web\'s unset behaviour as the default', () => {
    expect(resolveSessionOptions()).toEqual({ graphOptimizationLevel: 'all', enableCpuMemArena: false, enableMemPattern: false, executionMode: 'sequential' })
    expect(Object.isFrozen(DEFAULT_SESSION_OPTIONS)).toBe(true)
  })

  it('puts valid overrides over the defaults', () => {
    const o = resolveSessionOptions({ enableMemPattern: true, graphOptimizationLevel: 'extended', freeDimensionOverrides: { 'p2o.DynamicDimension.0': 1 } })
    expect(o).toEqual({ ...DEFAULT_SESSION_OPTIONS, enableMemPattern: true, graphOptimizationLevel: 'extended', freeDimensionOverrides: { 'p2o.DynamicDimension.0': 1 } })
  })

  it.each([
    ['not an object', 'all'],
    ['an unknown field', { enableProfiling: true }],
    ['a bad level', { graphOptimizationLevel: 'max' }],
    ['a non-boolean flag', { enableCpuMemArena: 1 }],
    ['a bad mode', { executionMode: 'async' }],
    ['overrides that are not an object', { freeDimensionOverrides: [1] }],
    ['a zero dim', { freeDimensionOverrides: { n: 0 } }],
    ['a fractional dim', { freeDimensionOverrides: { n: 1.5 } }],
    ['an empty dim name', { freeDimensionOverrides: { '': 1 } }]
  ])('refuses %s with InvalidArgumentError', (_what, v) => {
    expect(() => validateSessionOptions(v)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
  })

  it('does not keep fields it did not check', () => {
    expect(validateSessionOptions({ enableMemPattern: true })).toEqual({ enableMemPattern: true })
  })
})
