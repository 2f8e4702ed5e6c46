/**
 * Node identity keys (Ed25519) and the libp2p-backed Signer / SignatureVerifier
 * that src/consensus takes as injected dependencies.
 *
 * @example
 * ```ts
 * const key = await generateIdentity()
 * const signer = signerFromPrivateKey(key)
 * const vote = await signVote(signer, body)
 * await verifyVote(vote, libp2pVerifier, expected)
 * const stored = privateKeyToBytes(key) // persist; privateKeyFromBytes(stored) restores it
 * ```
 */
import { generateKeyPair, generateKeyPairFromSeed, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id'
import { InvalidMessageError } from '../errors.js'
import type { SignatureVerifier, Signer } from '../consensus/types.js'
import type { PrivateKey, PublicKey } from '@libp2p/interface'

export type { PrivateKey }

/** Generates a fresh Ed25519 identity. */
export async function generateIdentity (): Promise<PrivateKey> {
  return generateKeyPair('Ed25519')
}

/** Deterministic Ed25519 identity from a 32-byte seed (tests and simulations only). */
export async function identityFromSeed (seed: Uint8Array): Promise<PrivateKey> {
  if (seed.length !== 32) throw new RangeError(`Ed25519 seed must be 32 bytes, got ${seed.length}`)
  return generateKeyPairFromSeed('Ed25519', seed)
}

/** The peer id string (base58btc) of a private key. */
export function peerIdOf (key: PrivateKey): string {
  return peerIdFromPrivateKey(key).toString()
}

/** Wraps a private key as the Signer consensus code expects (public key in libp2p protobuf form). */
export function signerFromPrivateKey (key: PrivateKey): Signer {
  return {
    peerId: peerIdOf(key),
    publicKey: publicKeyToProtobuf(key.publicKey),
    sign: async (data) => key.sign(data)
  }
}

/**
 * Decodes a protobuf public key, accepting only its canonical encoding: the
 * same key in another protobuf spelling would otherwise be a second valid
 * `publicKey` for one peer id.
 */
function strictPublicKey (bytes: Uint8Array): PublicKey {
  const key = publicKeyFromProtobuf(bytes)
  const canonical = publicKeyToProtobuf(key)
  if (canonical.length !== bytes.length || canonical.some((b, i) => b !== bytes[i])) {
    throw new InvalidMessageError('public key is not canonically encoded')
  }
  return key
}

/** SignatureVerifier over libp2p keys; `verify` answers false (never throws) for malformed keys or signatures. */
export const libp2pVerifier: SignatureVerifier = {
  peerIdFromPublicKey: (publicKey) => peerIdFromPublicKey(strictPublicKey(publicKey)).toString(),
  verify: async (publicKey, data, signature) => {
    try {
      return await strictPublicKey(publicKey).verify(data, signature)
    } catch {
      return false
    }
  }
}

/** Private key as libp2p protobuf bytes, for storage. Keep them secret. */
export function privateKeyToBytes (key: PrivateKey): Uint8Array {
  return privateKeyToProtobuf(key)
}

/** Restores a private key stored with privateKeyToBytes. Throws InvalidMessageError for bad bytes. */
export function privateKeyFromBytes (bytes: Uint8Array): PrivateKey {
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new InvalidMessageError('stored private key is not a libp2p protobuf key', { cause: err })
  }
}
