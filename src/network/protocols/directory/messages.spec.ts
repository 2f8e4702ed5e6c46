/**
 * Directory messages: every request and response survives a round trip, and
 * hostile bytes (another version, an unknown type, counts and lists out of
 * bounds, a bad model hash, oversized or non-map CBOR) are refused by name
 * before anything uses them.
 */
import { describe, it, expect } from 'vitest'
import { encode } from 'cborg'
import { decodeDirectoryRequest, decodeDirectoryResponse, encodeDirectoryMessage } from './messages.js'
import type { DirectoryRequest, DirectoryResponse } from './messages.js'
import { MAX_DIRECTORY_MESSAGE_BYTES, MAX_SAMPLE_EXCLUDE, MAX_SAMPLE_SIZE } from './constants.js'
import { MAX_LEASE_BYTES } from '../../constants.js'

const MODEL = 'ab'.repeat(32)
const signed = (n: number): { body: Uint8Array, sig: Uint8Array } => ({ body: Uint8Array.of(0xa1, n, n), sig: new Uint8Array(64).fill(n) })
const raw = (m: Record<string, unknown>): Uint8Array => encode({ v: 1, ...m })

function thrown (fn: () => unknown): Error {
  try {
    fn()
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a throw')
}

const requestError = (bytes: Uint8Array): string => thrown(() => decodeDirectoryRequest(bytes)).name
const responseError = (bytes: Uint8Array): string => thrown(() => decodeDirectoryResponse(bytes)).name

describe('directory requests', () => {
  it.each<[string, DirectoryRequest]>([
    ['lease', { type: 'lease', lease: signed(1) }],
    ['leave', { type: 'leave' }],
    ['sample with every field', { type: 'sample', count: 16, model: MODEL, numericClass: 'test/cpu/t1/node', exclude: ['peer-a', 'peer-b'], renew: ['peer-c'] }],
    ['sample with none of the optional ones', { type: 'sample', count: 1, exclude: [], renew: [] }]
  ])('round-trips a %s request', (_, req) => {
    expect(decodeDirectoryRequest(encodeDirectoryMessage(req))).toEqual(req)
  })

  it('leaves an undefined optional field off the wire, and it decodes absent', () => {
    const decoded = decodeDirectoryRequest(encodeDirectoryMessage({ type: 'sample', count: 2, model: undefined, exclude: [], renew: [] }))
    expect('model' in decoded).toBe(false)
  })

  it('reads absent exclude and renew lists as empty', () => {
    expect(decodeDirectoryRequest(raw({ type: 'sample', count: 3 }))).toEqual({ type: 'sample', count: 3, exclude: [], renew: [] })
  })

  it('refuses another version, or none', () => {
    expect(requestError(encode({ v: 2, type: 'leave' }))).toBe('InvalidMessageError')
    expect(requestError(encode({ type: 'leave' }))).toBe('InvalidMessageError')
  })

  it('refuses an unknown request type, or a response type sent as a request', () => {
    expect(requestError(raw({ type: 'sample-all' }))).toBe('InvalidMessageError')
    expect(requestError(raw({ type: 'ack', held: 1 }))).toBe('InvalidMessageError')
    expect(requestError(raw({}))).toBe('InvalidMessageError')
  })

  it(`refuses a count that is not an integer in 1..${MAX_SAMPLE_SIZE}`, () => {
    for (const count of [0, -1, MAX_SAMPLE_SIZE + 1, 1.5, '4', null]) {
      expect(requestError(raw({ type: 'sample', count, exclude: [], renew: [] }))).toBe('InvalidMessageError')
    }
    expect(decodeDirectoryRequest(raw({ type: 'sample', count: MAX_SAMPLE_SIZE }))).toMatchObject({ count: MAX_SAMPLE_SIZE })
  })

  it(`refuses exclude or renew lists longer than ${MAX_SAMPLE_EXCLUDE}, or with ids that are not short strings`, () => {
    const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `peer-${i}`)
    expect(decodeDirectoryRequest(raw({ type: 'sample', count: 1, exclude: ids(MAX_SAMPLE_EXCLUDE) }))).toMatchObject({ exclude: ids(MAX_SAMPLE_EXCLUDE) })
    for (const key of ['exclude', 'renew']) {
      expect(requestError(raw({ type: 'sample', count: 1, [key]: ids(MAX_SAMPLE_EXCLUDE + 1) }))).toBe('InvalidMessageError')
      expect(requestError(raw({ type: 'sample', count: 1, [key]: [''] }))).toBe('InvalidMessageError')
      expect(requestError(raw({ type: 'sample', count: 1, [key]: ['x'.repeat(129)] }))).toBe('InvalidMessageError')
      expect(requestError(raw({ type: 'sample', count: 1, [key]: [7] }))).toBe('InvalidMessageError')
      expect(requestError(raw({ type: 'sample', count: 1, [key]: 'peer-a' }))).toBe('InvalidMessageError')
    }
  })

  it('refuses a model that is not a lowercase sha256 hex string, and an overlong numeric class', () => {
    for (const model of ['AB'.repeat(32), 'ab'.repeat(31), 'zz'.repeat(32), 42, '']) {
      expect(requestError(raw({ type: 'sample', count: 1, model }))).toBe('InvalidMessageError')
    }
    expect(requestError(raw({ type: 'sample', count: 1, numericClass: 'c'.repeat(129) }))).toBe('InvalidMessageError')
    expect(requestError(raw({ type: 'sample', count: 1, numericClass: 3 }))).toBe('InvalidMessageError')
  })

  it('refuses a lease that is not { body, sig } bytes, and one over the lease limit', () => {
    expect(requestError(raw({ type: 'lease' }))).toBe('InvalidMessageError')
    expect(requestError(raw({ type: 'lease', lease: { body: 'x', sig: new Uint8Array(64) } }))).toBe('InvalidMessageError')
    expect(requestError(raw({ type: 'lease', lease: [new Uint8Array(1), new Uint8Array(1)] }))).toBe('InvalidMessageError')
    expect(requestError(raw({ type: 'lease', lease: { body: new Uint8Array(MAX_LEASE_BYTES), sig: new Uint8Array(1) } }))).toBe('MessageTooLargeError')
  })

  it('refuses a message over the size limit before decoding it', () => {
    const big = raw({ type: 'leave', pad: new Uint8Array(MAX_DIRECTORY_MESSAGE_BYTES) })
    expect(big.byteLength).toBeGreaterThan(MAX_DIRECTORY_MESSAGE_BYTES)
    expect(requestError(big)).toBe('MessageTooLargeError')
    expect(responseError(big)).toBe('MessageTooLargeError')
  })

  it('refuses CBOR that is not a map, and bytes that are not CBOR', () => {
    for (const value of [[1, 2], 5, 'leave', null, true, new Uint8Array(3)]) {
      expect(requestError(encode(value))).toBe('InvalidMessageError')
      expect(responseError(encode(value))).toBe('InvalidMessageError')
    }
    expect(requestError(Uint8Array.of(0xff))).toBe('InvalidMessageError')
    expect(requestError(new Uint8Array())).toBe('InvalidMessageError')
    // strict decoding: a duplicate key is not quietly resolved either way
    expect(requestError(Uint8Array.of(0xa2, 0x61, 0x76, 0x01, 0x61, 0x76, 0x01))).toBe('InvalidMessageError')
  })
})

describe('directory responses', () => {
  it.each<[string, DirectoryResponse]>([
    ['ack', { type: 'ack', held: 12 }],
    ['leases', { type: 'leases', leases: [signed(1), signed(2)], renewed: [signed(3)], total: 1000, held: 40 }],
    ['empty leases', { type: 'leases', leases: [], renewed: [], total: 0, held: 0 }],
    ['error', { type: 'error', error: { name: 'InvalidMessageError', message: 'lease describes another peer' } }]
  ])('round-trips %s', (_, res) => {
    expect(decodeDirectoryResponse(encodeDirectoryMessage(res))).toEqual(res)
  })

  it('reads a leases answer without renewed (older relays) as none renewed', () => {
    expect(decodeDirectoryResponse(raw({ type: 'leases', leases: [], total: 0, held: 0 }))).toEqual({ type: 'leases', leases: [], renewed: [], total: 0, held: 0 })
  })

  it('trims an error name to 64 characters and its message to 1024, and reads a missing message as empty', () => {
    const res = decodeDirectoryResponse(raw({ type: 'error', error: { name: 'E'.repeat(100), message: 'm'.repeat(2000) } }))
    expect(res).toEqual({ type: 'error', error: { name: 'E'.repeat(64), message: 'm'.repeat(1024) } })
    expect(decodeDirectoryResponse(raw({ type: 'error', error: { name: 'X' } }))).toEqual({ type: 'error', error: { name: 'X', message: '' } })
  })

  it('refuses another version, an unknown type, or a request sent as a response', () => {
    expect(responseError(encode({ v: 0, type: 'ack', held: 1 }))).toBe('InvalidMessageError')
    expect(responseError(raw({ type: 'nack' }))).toBe('InvalidMessageError')
    expect(responseError(raw({ type: 'leave' }))).toBe('InvalidMessageError')
  })

  it(`refuses more than ${MAX_SAMPLE_SIZE} leases, and leases that are not { body, sig }`, () => {
    const many = Array.from({ length: MAX_SAMPLE_SIZE + 1 }, (_, i) => signed(i))
    expect(responseError(raw({ type: 'leases', leases: many, renewed: [], total: 65, held: 65 }))).toBe('InvalidMessageError')
    expect(responseError(raw({ type: 'leases', leases: [], renewed: many, total: 65, held: 65 }))).toBe('InvalidMessageError')
    expect(responseError(raw({ type: 'leases', leases: [{ body: new Uint8Array(1) }], renewed: [], total: 1, held: 1 }))).toBe('InvalidMessageError')
    expect(responseError(raw({ type: 'leases', leases: [{ body: new Uint8Array(MAX_LEASE_BYTES), sig: new Uint8Array(64) }], renewed: [], total: 1, held: 1 }))).toBe('MessageTooLargeError')
  })

  it('refuses counts that are not non-negative integers, and an error without a name', () => {
    expect(responseError(raw({ type: 'ack', held: -1 }))).toBe('InvalidMessageError')
    expect(responseError(raw({ type: 'ack', held: 1.5 }))).toBe('InvalidMessageError')
    expect(responseError(raw({ type: 'ack' }))).toBe('InvalidMessageError')
    expect(responseError(raw({ type: 'leases', leases: [], renewed: [], total: '3', held: 0 }))).toBe('InvalidMessageError')
    expect(responseError(raw({ type: 'error', error: { message: 'no name' } }))).toBe('InvalidMessageError')
    expect(responseError(raw({ type: 'error', error: 'boom' }))).toBe('InvalidMessageError')
  })
})
