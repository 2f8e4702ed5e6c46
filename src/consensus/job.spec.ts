import { encode } from 'cborg'
import { describe, expect, it } from 'vitest'
import { createJobSpec, decodeJobSpec, encodeJobSpec, jobIdOf, validateJobSpec } from './job.js'
import type { JobSpecFields } from './job.js'

const FIELDS: JobSpecFields = {
  modelHash: '1'.repeat(64),
  inputHash: '2'.repeat(64),
  policy: { kind: 'tolerance', atol: 1e-5, rtol: 1e-4 },
  replicas: 3,
  quorum: 2,
  requester: '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf',
  nonce: '00112233445566778899aabbccddeeff',
  createdAt: 1_700_000_000_000,
  expiresAt: 1_700_000_060_000
}

describe('job spec', () => {
  it('createJobSpec adds the version and returns a validated copy', () => {
    const spec = createJobSpec(FIELDS)
    expect(spec).toEqual({ v: 1, ...FIELDS })
    expect(spec.policy).not.toBe(FIELDS.policy)
  })

  it('jobIdOf is 64 lowercase hex and does not depend on key order', () => {
    const spec = createJobSpec(FIELDS)
    const reordered = Object.fromEntries(Object.entries(spec).reverse()) as unknown as typeof spec
    reordered.policy = { rtol: 1e-4, atol: 1e-5, kind: 'tolerance' } as unknown as typeof spec.policy
    expect(jobIdOf(spec)).toMatch(/^[0-9a-f]{64}$/)
    expect(jobIdOf(reordered)).toBe(jobIdOf(spec))
    expect(encodeJobSpec(reordered)).toEqual(encodeJobSpec(spec))
  })

  it('every field changes the job id', () => {
    const base = jobIdOf(createJobSpec(FIELDS))
    const variants: Array<Partial<JobSpecFields>> = [
      { modelHash: '3'.repeat(64) }, { inputHash: '3'.repeat(64) }, { policy: { kind: 'tolerance', atol: 1e-5, rtol: 2e-4 } },
      { replicas: 4 }, { quorum: 3 }, { requester: '12D3KooWAbc' }, { nonce: '00112233445566778899aabbccddeefe' },
      { createdAt: FIELDS.createdAt + 1 }, { expiresAt: FIELDS.expiresAt + 1 }
    ]
    const ids = variants.map((v) => jobIdOf(createJobSpec({ ...FIELDS, ...v })))
    expect(new Set([base, ...ids]).size).toBe(variants.length + 1)
  })

  it('encodes non-integers as CBOR float64 and integers as CBOR integers', () => {
    const half = encodeJobSpec(createJobSpec({ ...FIELDS, policy: { kind: 'tolerance', atol: 0.5, rtol: 0 } }))
    // 0xfb = float64 head; 0.5 = 0x3fe0000000000000. cborg would otherwise shrink it to float16 (0xf9 3800).
    expect(Buffer.from(half).toString('hex')).toContain('fb3fe0000000000000')
    expect(Buffer.from(half).toString('hex')).not.toContain('f93800')
    // "replicas" (text(8)) followed by the integer 3 in one byte
    expect(Buffer.from(half).toString('hex')).toContain('687265706c696361730' + '3')
  })

  it('decodeJobSpec round-trips and rejects non-canonical CBOR', () => {
    const spec = createJobSpec({ ...FIELDS, policy: { kind: 'mask', threshold: 0.5, maxMismatch: 0.01 } })
    expect(decodeJobSpec(encodeJobSpec(spec))).toEqual(spec)
    // the same values with cborg's default float shrinking are another byte string
    expect(() => decodeJobSpec(encode(spec))).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
    expect(() => decodeJobSpec(new Uint8Array([0xff]))).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
  })

  it('normalises -0 so equal specs hash equally', () => {
    const a = createJobSpec({ ...FIELDS, policy: { kind: 'tolerance', atol: -0, rtol: 0 } })
    const b = createJobSpec({ ...FIELDS, policy: { kind: 'tolerance', atol: 0, rtol: 0 } })
    expect(jobIdOf(a)).toBe(jobIdOf(b))
  })

  it.each([
    ['uppercase modelHash', { modelHash: 'A'.repeat(64) }],
    ['short inputHash', { inputHash: '2'.repeat(63) }],
    ['bad policy', { policy: { kind: 'tolerance', atol: -1, rtol: 0 } }],
    ['replicas 0', { replicas: 0 }],
    ['replicas too many', { replicas: 65 }],
    ['fractional replicas', { replicas: 2.5 }],
    ['quorum above replicas', { quorum: 4 }],
    ['quorum 0', { quorum: 0 }],
    ['requester with non-base58 characters', { requester: '12D3KooW0OIl' }],
    ['empty requester', { requester: '' }],
    ['odd-length nonce', { nonce: '0011223344556677889' }],
    ['short nonce', { nonce: '00112233' }],
    ['uppercase nonce', { nonce: '00112233445566778899AABBCCDDEEFF' }],
    ['fractional createdAt', { createdAt: 1.5 }],
    ['negative createdAt', { createdAt: -1 }],
    ['expiresAt not after createdAt', { expiresAt: FIELDS.createdAt }],
    ['unsafe integer expiresAt', { expiresAt: 2 ** 60 }]
  ])('rejects %s with InvalidMessageError', (_why, change) => {
    expect(() => createJobSpec({ ...FIELDS, ...change } as JobSpecFields)).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
  })

  it('validateJobSpec rejects a wrong version, unknown and missing fields', () => {
    const spec = createJobSpec(FIELDS)
    expect(() => validateJobSpec({ ...spec, v: 2 })).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
    expect(() => validateJobSpec({ ...spec, extra: 1 })).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
    const { nonce: _n, ...missing } = spec
    expect(() => validateJobSpec(missing)).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
    expect(() => validateJobSpec('spec')).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
    expect(() => encodeJobSpec({ ...spec, quorum: 9 })).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
  })
})
