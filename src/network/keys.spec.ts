import { describe, expect, it } from 'vitest'
import { createVerifier, generateIdentity, hasWebCryptoEd25519, identityFromSeed, libp2pVerifier, peerIdOf, privateKeyFromBytes, privateKeyToBytes, signerFromPrivateKey } from './keys.js'

const data = new TextEncoder().encode('hello crosscheck')

describe('keys', () => {
  it('generates distinct Ed25519 identities with 12D3KooW peer ids', async () => {
    const a = await generateIdentity()
    const b = await generateIdentity()
    expect(a.type).toBe('Ed25519')
    expect(peerIdOf(a)).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/)
    expect(peerIdOf(a)).not.toBe(peerIdOf(b))
  })

  it('a signer signs what the verifier accepts, and binds peer id to public key', async () => {
    const signer = signerFromPrivateKey(await generateIdentity())
    const sig = await signer.sign(data)
    expect(await libp2pVerifier.verify(signer.publicKey, data, sig)).toBe(true)
    expect(libp2pVerifier.peerIdFromPublicKey(signer.publicKey)).toBe(signer.peerId)
  })

  it('rejects other data, a flipped signature bit, and another key', async () => {
    const signer = signerFromPrivateKey(await generateIdentity())
    const other = signerFromPrivateKey(await generateIdentity())
    const sig = await signer.sign(data)
    expect(await libp2pVerifier.verify(signer.publicKey, new TextEncoder().encode('hello crosscheck!'), sig)).toBe(false)
    const flipped = Uint8Array.from(sig)
    flipped[10] ^= 1
    expect(await libp2pVerifier.verify(signer.publicKey, data, flipped)).toBe(false)
    expect(await libp2pVerifier.verify(other.publicKey, data, sig)).toBe(false)
  })

  it('answers false for malformed keys or signatures instead of throwing', async () => {
    const signer = signerFromPrivateKey(await generateIdentity())
    const sig = await signer.sign(data)
    expect(await libp2pVerifier.verify(new Uint8Array([1, 2, 3]), data, sig)).toBe(false)
    expect(await libp2pVerifier.verify(signer.publicKey, data, sig.subarray(0, 10))).toBe(false)
    expect(() => libp2pVerifier.peerIdFromPublicKey(new Uint8Array([1, 2, 3]))).toThrow()
  })

  it('accepts only the canonical protobuf encoding of a public key', async () => {
    const signer = signerFromPrivateKey(await generateIdentity())
    const sig = await signer.sign(data)
    const padded = new Uint8Array([...signer.publicKey, 0x18, 0x01]) // an extra varint field 3
    expect(() => libp2pVerifier.peerIdFromPublicKey(padded)).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
    expect(await libp2pVerifier.verify(padded, data, sig)).toBe(false)
  })

  it('private keys round-trip through bytes', async () => {
    const key = await generateIdentity()
    const restored = privateKeyFromBytes(privateKeyToBytes(key))
    expect(peerIdOf(restored)).toBe(peerIdOf(key))
    const sig = await signerFromPrivateKey(restored).sign(data)
    expect(await libp2pVerifier.verify(signerFromPrivateKey(key).publicKey, data, sig)).toBe(true)
    expect(() => privateKeyFromBytes(new Uint8Array([9, 9, 9]))).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
  })

  it('identityFromSeed is deterministic and needs 32 bytes', async () => {
    const seed = new Uint8Array(32).fill(7)
    expect(peerIdOf(await identityFromSeed(seed))).toBe(peerIdOf(await identityFromSeed(seed)))
    expect(peerIdOf(await identityFromSeed(seed))).not.toBe(peerIdOf(await identityFromSeed(new Uint8Array(32).fill(8))))
    await expect(identityFromSeed(new Uint8Array(31))).rejects.toThrow(RangeError)
  })

  it('signs through cached WebCrypto keys with the same bytes libp2p gives, and each side verifies the other', async () => {
    // Node 20 and Chromium 137+ have WebCrypto Ed25519: this test is about that path
    expect(await hasWebCryptoEd25519()).toBe(true)
    const key = await identityFromSeed(new Uint8Array(32).fill(3))
    const signer = signerFromPrivateKey(key)
    // Ed25519 is deterministic: the WebCrypto signature is libp2p's own, byte for byte
    const libp2pSig = Uint8Array.from(await key.sign(data))
    expect(await signer.sign(data)).toEqual(libp2pSig)
    expect(await signer.sign(data)).toEqual(libp2pSig)
    expect(await key.publicKey.verify(data, await signer.sign(data))).toBe(true)
    expect(await libp2pVerifier.verify(signer.publicKey, data, await key.sign(data))).toBe(true)
  })

  it('keeps verifying right past its key cache bound (evicted keys are decoded again)', async () => {
    const verifier = createVerifier({ cacheSize: 2 })
    const signers = await Promise.all([1, 2, 3].map(async i => signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(i)))))
    const sigs = await Promise.all(signers.map(async s => await s.sign(data)))
    for (let round = 0; round < 2; round++) {
      for (const [i, s] of signers.entries()) {
        expect(await verifier.verify(s.publicKey, data, sigs[i])).toBe(true)
        expect(await verifier.verify(s.publicKey, data, sigs[(i + 1) % 3])).toBe(false)
        expect(verifier.peerIdFromPublicKey(s.publicKey)).toBe(s.peerId)
      }
    }
  })
})
