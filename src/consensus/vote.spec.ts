import { encode } from 'cborg'
import { beforeAll, describe, expect, it } from 'vitest'
import { identityFromSeed, libp2pVerifier, signerFromPrivateKey } from '../network/keys.js'
import { hashTensors } from '../tensor/index.js'
import { CBOR_ENCODE_OPTIONS } from './job.js'
import { CLASS_WEB, f32, out } from './test-fixtures.js'
import { signVote, validateSignedVote, validateVoteBody, verifyVote, voteSigningBytes } from './vote.js'
import type { ExpectedVote, VoteBodyFields } from './vote.js'
import type { SignatureVerifier, SignedVote, Signer } from './types.js'
import { rejection } from '../testing/async.js'

const OUTPUT = out(f32([0.25, 0.75]))
const JOB = '1'.repeat(64)
const OTHER_JOB = '9'.repeat(64)
const MODEL = '2'.repeat(64)
const INPUT = '3'.repeat(64)
const EXPIRES = 2_000_000

let alice: Signer
let mallory: Signer

function fields (over: Partial<VoteBodyFields> = {}): VoteBodyFields {
  return { jobId: JOB, modelHash: MODEL, inputHash: INPUT, outputHash: hashTensors(OUTPUT), numericClass: CLASS_WEB, signedAt: 1_000_000, ...over }
}
const expected = (over: Partial<ExpectedVote> = {}): ExpectedVote => ({ jobId: JOB, modelHash: MODEL, inputHash: INPUT, output: OUTPUT, expiresAt: EXPIRES, ...over })


beforeAll(async () => {
  alice = signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(1)))
  mallory = signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(2)))
})

describe('votes', () => {
  it('a signed vote verifies against the job it was cast for', async () => {
    const vote = await signVote(alice, fields())
    expect(vote.body).toEqual({ v: 1, ...fields(), peerId: alice.peerId })
    const checked = await verifyVote(vote, libp2pVerifier, expected({ now: 1_500_000 }))
    expect(checked.body).toEqual(vote.body)
  })

  it('signing bytes are the domain prefix plus canonical CBOR of the body', async () => {
    const vote = await signVote(alice, fields())
    const bytes = voteSigningBytes(vote.body)
    const prefix = new TextEncoder().encode('crosscheck/vote/1\n')
    expect(bytes.subarray(0, prefix.length)).toEqual(prefix)
    expect(bytes.subarray(prefix.length)).toEqual(encode(vote.body, CBOR_ENCODE_OPTIONS))
    const reordered = Object.fromEntries(Object.entries(vote.body).reverse()) as unknown as typeof vote.body
    expect(voteSigningBytes(reordered)).toEqual(bytes)
  })

  it('a signature over the body without the domain prefix does not verify', async () => {
    const vote = await signVote(alice, fields())
    const bare = await alice.sign(encode(vote.body, CBOR_ENCODE_OPTIONS))
    const err = await rejection(verifyVote({ ...vote, signature: bare }, libp2pVerifier, expected()))
    expect(err.name).toBe('InvalidVoteError')
    expect(err.message).toMatch(/^bad signature/)
  })

  it.each([
    ['outputHash', { outputHash: '4'.repeat(64) }],
    ['numericClass', { numericClass: 'ort-node/cpu/t1/node' }],
    ['signedAt', { signedAt: 1_000_001 }]
  ] as const)('changing the signed %s breaks the signature', async (_f, change) => {
    const vote = await signVote(alice, fields())
    const forged: SignedVote = { ...vote, body: { ...vote.body, ...change } }
    const err = await rejection(verifyVote(forged, libp2pVerifier, expected({ output: undefined })))
    expect(err.name).toBe('InvalidVoteError')
    expect(err.message).toMatch(/^bad signature/)
  })

  it('forgery: a vote in alice\'s name signed with mallory\'s key is refused', async () => {
    const mine = await signVote(mallory, fields())
    const claimed: SignedVote = { ...mine, body: { ...mine.body, peerId: alice.peerId } }
    const err = await rejection(verifyVote(claimed, libp2pVerifier, expected()))
    expect(err.name).toBe('InvalidVoteError')
    expect(err.message).toMatch(/^peerId does not match publicKey/)
    // ...and with alice's public key attached, the signature is wrong
    const withKey: SignedVote = { ...claimed, publicKey: alice.publicKey }
    const err2 = await rejection(verifyVote(withKey, libp2pVerifier, expected()))
    expect(err2.message).toMatch(/^bad signature/)
  })

  it('replay: a vote from another job is refused', async () => {
    const old = await signVote(alice, fields({ jobId: OTHER_JOB }))
    await expect(verifyVote(old, libp2pVerifier, expected({ jobId: OTHER_JOB }))).resolves.toBeDefined()
    const err = await rejection(verifyVote(old, libp2pVerifier, expected()))
    expect(err.name).toBe('InvalidVoteError')
    expect(err.message).toMatch(/^jobId mismatch/)
  })

  it.each([
    ['modelHash', { modelHash: '8'.repeat(64) }],
    ['inputHash', { inputHash: '8'.repeat(64) }],
    ['outputHash', { outputHash: '8'.repeat(64) }]
  ] as const)('refuses a %s mismatch', async (field, change) => {
    const vote = await signVote(alice, fields())
    const err = await rejection(verifyVote(vote, libp2pVerifier, expected(change)))
    expect(err.name).toBe('InvalidVoteError')
    expect(err.message).toMatch(new RegExp(`^${field} mismatch`))
  })

  it('refuses an output that does not hash to outputHash', async () => {
    const vote = await signVote(alice, fields())
    const err = await rejection(verifyVote(vote, libp2pVerifier, expected({ output: out(f32([0.25, 0.7500001])) })))
    expect(err.message).toMatch(/^output does not match outputHash/)
  })

  it('expiry: signed after expiresAt, or received after it, is expired; exactly at it is fine', async () => {
    const atEdge = await signVote(alice, fields({ signedAt: EXPIRES }))
    await expect(verifyVote(atEdge, libp2pVerifier, expected({ now: EXPIRES }))).resolves.toBeDefined()
    const late = await signVote(alice, fields({ signedAt: EXPIRES + 1 }))
    const err = await rejection(verifyVote(late, libp2pVerifier, expected()))
    expect(err.message).toMatch(/^expired/)
    const err2 = await rejection(verifyVote(atEdge, libp2pVerifier, expected({ now: EXPIRES + 1 })))
    expect(err2.message).toMatch(/^expired/)
  })

  it('a verifier that cannot parse the key gives "bad public key"; one that throws on verify gives "bad signature"', async () => {
    const vote = await signVote(alice, fields())
    const noKey: SignatureVerifier = { peerIdFromPublicKey: () => { throw new Error('nope') }, verify: () => true }
    expect((await rejection(verifyVote(vote, noKey, expected()))).message).toMatch(/^bad public key/)
    const throwing: SignatureVerifier = { peerIdFromPublicKey: () => alice.peerId, verify: () => { throw new Error('boom') } }
    expect((await rejection(verifyVote(vote, throwing, expected()))).message).toMatch(/^bad signature/)
  })

  it('malformed votes are InvalidVoteError from verifyVote and InvalidMessageError from validateSignedVote', async () => {
    const vote = await signVote(alice, fields())
    const bad = { ...vote, body: { ...vote.body, extra: 1 } }
    const err = await rejection(verifyVote(bad, libp2pVerifier, expected()))
    expect(err.name).toBe('InvalidVoteError')
    expect(err.message).toMatch(/^malformed/)
    expect(() => validateSignedVote(bad)).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
  })

  it('signVote refuses a body naming another peer', async () => {
    const err = await rejection(signVote(alice, fields({ peerId: mallory.peerId })))
    expect(err.name).toBe('InvalidVoteError')
  })

  it.each([
    ['body not an object', (v: SignedVote) => ({ ...v, body: 'x' })],
    ['signature not bytes', (v: SignedVote) => ({ ...v, signature: Array.from(v.signature) })],
    ['empty signature', (v: SignedVote) => ({ ...v, signature: new Uint8Array() })],
    ['huge public key', (v: SignedVote) => ({ ...v, publicKey: new Uint8Array(5000) })],
    ['missing publicKey', (v: SignedVote) => ({ body: v.body, signature: v.signature })],
    ['extra field', (v: SignedVote) => ({ ...v, output: {} })],
    ['version 2', (v: SignedVote) => ({ ...v, body: { ...v.body, v: 2 } })],
    ['uppercase jobId', (v: SignedVote) => ({ ...v, body: { ...v.body, jobId: 'A'.repeat(64) } })],
    ['numericClass with a space', (v: SignedVote) => ({ ...v, body: { ...v.body, numericClass: 'ort web' } })],
    ['empty numericClass', (v: SignedVote) => ({ ...v, body: { ...v.body, numericClass: '' } })],
    ['peerId with 0', (v: SignedVote) => ({ ...v, body: { ...v.body, peerId: '0abc' } })],
    ['fractional signedAt', (v: SignedVote) => ({ ...v, body: { ...v.body, signedAt: 1.5 } })],
    ['missing signedAt', (v: SignedVote) => { const { signedAt: _s, ...body } = v.body; return { ...v, body } }]
  ])('validateSignedVote rejects %s', async (_why, mutate) => {
    const vote = await signVote(alice, fields())
    expect(() => validateSignedVote(mutate(vote))).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
    expect(() => validateSignedVote(vote)).not.toThrow()
  })

  it('validateVoteBody returns a copy in a fixed key order', async () => {
    const vote = await signVote(alice, fields())
    const reordered = Object.fromEntries(Object.entries(vote.body).reverse())
    expect(Object.keys(validateVoteBody(reordered))).toEqual(['v', 'jobId', 'modelHash', 'inputHash', 'outputHash', 'numericClass', 'peerId', 'signedAt'])
  })
})
