import { beforeAll, describe, expect, it } from 'vitest'
import { generateIdentity, identityFromSeed, libp2pVerifier, signerFromPrivateKey } from './network/keys.js'
import { createJobSpec, jobIdOf } from './consensus/job.js'
import { buildReceipt, receiptSigningBytes, serializeReceipt } from './consensus/receipt.js'
import { tally } from './consensus/tally.js'
import { signVote, voteSigningBytes } from './consensus/vote.js'
import { toBase64 } from './consensus/util.js'
import { createTensor, hashTensors } from './tensor/index.js'
import { signSettlement } from './consensus/settlement.js'
import { base58btc, ed25519Verifier, parseRecord, peerIdFromEd25519PublicKey, receiptHashOf, serializeRecord, verifyReceipt } from './verify.js'
import type { Receipt, ReceiptVerification } from './verify.js'
import type { Ballot, JobSpec, Signer } from './consensus/types.js'
import type { NamedTensors } from './tensor/index.js'

const T0 = 1_700_000_000_000
const CLASS = 'ort-web/wasm/t1/chromium'
const data = new TextEncoder().encode('crosscheck/vote/1\nhello')
/** Order of the Ed25519 group: S + L is the same signature spelt non-canonically. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n

const key = async (n: number): Promise<Signer> => signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(n)))
const failed = (v: ReceiptVerification): string[] => v.checks.filter((c) => !c.ok).map((c) => c.name)
/** Both verifiers must give the same answer; returns it. */
async function bothVerify (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const ours = await ed25519Verifier.verify(publicKey, message, signature)
  const theirs = await libp2pVerifier.verify(publicKey, message, signature)
  expect(ours).toBe(theirs)
  return ours
}

describe('base58btc', () => {
  it('matches known vectors, leading zeros included', () => {
    expect(base58btc(new Uint8Array([]))).toBe('')
    expect(base58btc(new Uint8Array([0]))).toBe('1')
    expect(base58btc(new Uint8Array([0, 0, 1]))).toBe('112')
    expect(base58btc(new TextEncoder().encode('hello world'))).toBe('StV1DL6CwTryKyV')
    expect(base58btc(new Uint8Array([0xff, 0xff]))).toBe('LUv')
  })
})

describe('ed25519Verifier (no libp2p) agrees with libp2pVerifier', () => {
  it('derives the same peer id from a public key', async () => {
    for (let i = 0; i < 16; i++) {
      const signer = signerFromPrivateKey(i < 8 ? await identityFromSeed(new Uint8Array(32).fill(i)) : await generateIdentity())
      expect(peerIdFromEd25519PublicKey(signer.publicKey)).toBe(signer.peerId)
      expect(ed25519Verifier.peerIdFromPublicKey(signer.publicKey)).toBe(libp2pVerifier.peerIdFromPublicKey(signer.publicKey))
    }
  })

  it('accepts real signatures, signed votes included', async () => {
    const signer = await key(3)
    expect(await bothVerify(signer.publicKey, data, await signer.sign(data))).toBe(true)
    const vote = await signVote(signer, { jobId: 'ab'.repeat(32), modelHash: 'cd'.repeat(32), inputHash: 'ef'.repeat(32), outputHash: '01'.repeat(32), numericClass: CLASS, signedAt: T0 })
    expect(await bothVerify(vote.publicKey, voteSigningBytes(vote.body), vote.signature)).toBe(true)
  })

  it('refuses flipped signature bits, other data and another key, like libp2p', async () => {
    const signer = await key(4)
    const other = await key(5)
    const sig = await signer.sign(data)
    for (const i of [0, 1, 17, 31, 32, 40, 62, 63]) {
      const flipped = Uint8Array.from(sig)
      flipped[i] ^= 0x01
      expect(await bothVerify(signer.publicKey, data, flipped), `bit flipped in byte ${i}`).toBe(false)
    }
    expect(await bothVerify(signer.publicKey, new TextEncoder().encode('crosscheck/vote/1\nhellO'), sig)).toBe(false)
    expect(await bothVerify(other.publicKey, data, sig)).toBe(false)
  })

  it('refuses the malleable S + L spelling of a valid signature', async () => {
    const signer = await key(6)
    const sig = await signer.sign(data)
    let s = 0n
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i])
    s += L
    const malleable = Uint8Array.from(sig)
    for (let i = 32; i < 64; i++) { malleable[i] = Number(s & 0xffn); s >>= 8n }
    expect(await bothVerify(signer.publicKey, data, malleable)).toBe(false)
  })

  it('answers false (never throws) for malformed keys and signatures', async () => {
    const signer = await key(7)
    const sig = await signer.sign(data)
    expect(await bothVerify(new Uint8Array([1, 2, 3]), data, sig)).toBe(false)
    expect(await bothVerify(signer.publicKey, data, sig.subarray(0, 10))).toBe(false)
    expect(await bothVerify(signer.publicKey, data, new Uint8Array(64))).toBe(false)
    // a non-canonical protobuf spelling of the same key (an extra field) is refused by both
    const padded = new Uint8Array([...signer.publicKey, 0x18, 0x01])
    expect(await bothVerify(padded, data, sig)).toBe(false)
    expect(() => ed25519Verifier.peerIdFromPublicKey(padded)).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
    expect(() => libp2pVerifier.peerIdFromPublicKey(padded)).toThrow()
  })

  it('refuses key types other than Ed25519 (libp2pVerifier is there for those)', () => {
    // KeyType secp256k1 = 2, 33-byte compressed point: a valid libp2p key, but not one Crosscheck issues
    const secp = new Uint8Array([0x08, 0x02, 0x12, 0x21, 0x02, ...new Uint8Array(32).fill(9)])
    expect(() => ed25519Verifier.peerIdFromPublicKey(secp)).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
  })
})

describe('verifyReceipt from crosscheck/verify', () => {
  let requester: Signer
  let alice: Signer
  let bob: Signer
  let carol: Signer
  let dave: Signer
  let spec: JobSpec
  let receipt: Receipt
  let text: string
  const OA: NamedTensors = { y: createTensor('float32', [1, 3], Float32Array.from([0.5, -0, 0.25])) }
  const OC: NamedTensors = { y: createTensor('float32', [1, 3], Float32Array.from([9, 9, 9])) }

  async function ballot (signer: Signer, output: NamedTensors): Promise<Ballot> {
    const vote = await signVote(signer, { jobId: jobIdOf(spec), modelHash: spec.modelHash, inputHash: spec.inputHash, outputHash: hashTensors(output), numericClass: CLASS, signedAt: T0 + 1000 })
    return { vote, output }
  }

  async function resign (r: Receipt): Promise<string> {
    return serializeReceipt({ ...r, signature: toBase64(await requester.sign(receiptSigningBytes(r))) })
  }

  beforeAll(async () => {
    ;[requester, alice, bob, carol, dave] = await Promise.all([key(10), key(11), key(12), key(13), key(14)])
    spec = createJobSpec({
      modelHash: 'ab'.repeat(32),
      inputHash: 'cd'.repeat(32),
      policy: { kind: 'exact' },
      replicas: 4,
      quorum: 2,
      requester: requester.peerId,
      nonce: '0123456789abcdef',
      createdAt: T0,
      expiresAt: T0 + 60_000
    })
    // one dissenter: the 2d + 1 rule then needs three agreeing votes
    const ballots = [await ballot(alice, OA), await ballot(bob, OA), await ballot(carol, OC), await ballot(dave, OA)]
    const t = tally({ ballots, policy: spec.policy, quorum: spec.quorum })
    if (t.status !== 'accepted') throw new Error(`tally ${t.status}`)
    receipt = await buildReceipt({ spec, accepted: t, ballots, agreeingPeers: t.agreeing.map((b) => b.vote.body.peerId), signer: requester })
    text = serializeReceipt(receipt)
  })

  it('verifies a real receipt with the default verifier, check for check as with libp2p', async () => {
    const ours = await verifyReceipt(text)
    expect(failed(ours)).toEqual([])
    expect(ours.ok).toBe(true)
    expect(ours.checks.filter((c) => c.name === 'vote')).toHaveLength(4)
    expect(await verifyReceipt(text, libp2pVerifier)).toEqual(ours)
  })

  it('fails a vote whose signature was tampered with, as libp2p does', async () => {
    const sig = Uint8Array.from(atob(receipt.votes[0].signature), (c) => c.charCodeAt(0))
    sig[5] ^= 0x80
    const bad = await resign({ ...receipt, votes: receipt.votes.map((v, i) => (i === 0 ? { ...v, signature: toBase64(sig) } : v)) })
    const ours = await verifyReceipt(bad)
    expect(failed(ours)).toEqual(['vote'])
    expect(ours.checks.find((c) => !c.ok)?.detail).toContain('bad signature')
    expect(await verifyReceipt(bad, libp2pVerifier)).toEqual(ours)
  })

  it('fails a vote whose peer id is not its key\'s, as libp2p does', async () => {
    // bob's key under alice's vote: the peer id does not match the key
    const swapped = receipt.votes.map((v) => (v.body.peerId === alice.peerId ? { ...v, publicKey: toBase64(bob.publicKey) } : v))
    const bad = await resign({ ...receipt, votes: swapped })
    const ours = await verifyReceipt(bad)
    expect(failed(ours)).toEqual(['vote'])
    expect(ours.checks.find((c) => !c.ok)?.detail).toContain('peerId does not match publicKey')
    expect(await verifyReceipt(bad, libp2pVerifier)).toEqual(ours)
  })

  it('fails a receipt signed by someone other than spec.requester, and any flipped byte', async () => {
    const forged = serializeReceipt({ ...receipt, signature: toBase64(await alice.sign(receiptSigningBytes(receipt))) })
    expect(failed(await verifyReceipt(forged))).toEqual(['requester'])
    const otherKey = serializeReceipt({ ...receipt, requesterPublicKey: toBase64(alice.publicKey) })
    expect(failed(await verifyReceipt(otherKey))).toEqual(['requester'])
    const i = text.indexOf('"signature": "') + 20
    const flipped = text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1)
    expect((await verifyReceipt(flipped)).ok).toBe(false)
    expect((await verifyReceipt(text.replace('\n', '\r\n'))).ok).toBe(false)
    expect(failed(await verifyReceipt('not json'))).toEqual(['format'])
  })

  it('reports settlement status from retraction records, with the Ed25519 verifier as with libp2p', async () => {
    expect((await verifyReceipt(text)).statusText).toBe('final (replicated)')
    const record = serializeRecord(await signSettlement({ jobId: receipt.jobId, receiptText: text, status: 'retracted', reason: 'recheck disagreed', at: T0 + 5000, signer: requester }))
    const ours = await verifyReceipt(text, undefined, { records: [record] })
    expect(ours.ok).toBe(true)
    expect(ours.status).toEqual({ kind: 'retracted', reason: 'recheck disagreed', at: T0 + 5000 })
    expect(await verifyReceipt(text, libp2pVerifier, { records: [record] })).toEqual(ours)
    expect(parseRecord(record).receiptHash).toBe(receiptHashOf(text))
  })
})
