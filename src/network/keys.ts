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
 *
 * Signing and verifying go through WebCrypto Ed25519 (Chromium 137+, Node 20)
 * with the `CryptoKey`s imported once and kept: the signer's own key for its
 * life, public keys in a bounded LRU (PUBLIC_KEY_CACHE entries), so a vote
 * check costs one `subtle.verify`, not an import, a protobuf decode and a
 * peer-id derivation each time. Where WebCrypto has no Ed25519, libp2p's keys
 * (@noble/curves) do the work. Both are RFC 8032 Ed25519 over the same bytes.
 */
import { generateKeyPair, generateKeyPairFromSeed, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id'
import { InvalidMessageError } from '../errors.js'
import type { SignatureVerifier, Signer } from '../consensus/types.js'
import type { PrivateKey, PublicKey } from '@libp2p/interface'

export type { PrivateKey }

/** Public keys whose decoded form and CryptoKey a verifier keeps (LRU). */
export const PUBLIC_KEY_CACHE = 4096

const subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle
let webCryptoEd25519: Promise<boolean> | undefined

/** Whether WebCrypto here signs and verifies Ed25519 (probed once). */
export async function hasWebCryptoEd25519 (): Promise<boolean> {
  webCryptoEd25519 ??= (async () => {
    try {
      if (subtle == null) return false
      const k = await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']) as CryptoKeyPair
      const data = new Uint8Array([1, 2, 3])
      return await subtle.verify({ name: 'Ed25519' }, k.publicKey, await subtle.sign({ name: 'Ed25519' }, k.privateKey, data), data)
    } catch {
      return false
    }
  })()
  return await webCryptoEd25519
}

function base64url (bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** An ArrayBuffer-backed view (WebCrypto refuses SharedArrayBuffer views). */
function plain (bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : Uint8Array.prototype.slice.call(bytes) as Uint8Array<ArrayBuffer>
}

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
  let imported: Promise<CryptoKey | undefined> | undefined
  const cryptoKey = async (): Promise<CryptoKey | undefined> => {
    if (key.type !== 'Ed25519' || subtle == null || !(await hasWebCryptoEd25519())) return undefined
    // libp2p keeps an Ed25519 private key as seed ‖ public key (64 bytes)
    const raw = key.raw
    const jwk: JsonWebKey = { crv: 'Ed25519', kty: 'OKP', d: base64url(raw.subarray(0, 32)), x: base64url(raw.subarray(32, 64)), ext: false, key_ops: ['sign'] }
    return await subtle.importKey('jwk', jwk, { name: 'Ed25519' }, false, ['sign'])
  }
  return {
    peerId: peerIdOf(key),
    publicKey: publicKeyToProtobuf(key.publicKey),
    sign: async (data) => {
      imported ??= cryptoKey().catch(() => undefined)
      const k = await imported
      if (k == null || subtle == null) return await key.sign(data)
      return new Uint8Array(await subtle.sign({ name: 'Ed25519' }, k, plain(data)))
    }
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

/** A public key as a verifier keeps it: decoded once, its peer id, and its CryptoKey once imported. */
interface KnownKey { key: PublicKey, peerId: string, cryptoKey?: Promise<CryptoKey | undefined> }

/**
 * Decoded public keys by their protobuf bytes (hex), least recently used
 * first. Only canonically encoded keys get in; a malformed one throws each
 * time (they are not worth remembering).
 */
class PublicKeyCache {
  private readonly entries = new Map<string, KnownKey>()
  constructor (private readonly max: number) {}

  get (bytes: Uint8Array): KnownKey {
    const id = hexOf(bytes)
    let known = this.entries.get(id)
    if (known != null) {
      this.entries.delete(id)
    } else {
      const key = strictPublicKey(bytes)
      known = { key, peerId: peerIdFromPublicKey(key).toString() }
      if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string)
    }
    this.entries.set(id, known)
    return known
  }
}

function hexOf (bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}

async function importPublic (key: PublicKey): Promise<CryptoKey | undefined> {
  if (key.type !== 'Ed25519' || subtle == null || !(await hasWebCryptoEd25519())) return undefined
  return await subtle.importKey('raw', plain(key.raw), { name: 'Ed25519' }, false, ['verify'])
}

/** A SignatureVerifier with its own cache of PUBLIC_KEY_CACHE keys (`libp2pVerifier` is one, shared). */
export function createVerifier (options: { cacheSize?: number } = {}): SignatureVerifier {
  const cache = new PublicKeyCache(options.cacheSize ?? PUBLIC_KEY_CACHE)
  return {
    peerIdFromPublicKey: (publicKey) => cache.get(publicKey).peerId,
    verify: async (publicKey, data, signature) => {
      try {
        const known = cache.get(publicKey)
        known.cryptoKey ??= importPublic(known.key).catch(() => undefined)
        const k = await known.cryptoKey
        if (k == null || subtle == null) return await known.key.verify(data, signature)
        // Ed25519 signatures are 64 bytes; WebCrypto answers false for others too, this only skips the call
        if (signature.byteLength !== 64) return false
        return await subtle.verify({ name: 'Ed25519' }, k, plain(signature), plain(data))
      } catch {
        return false
      }
    }
  }
}

/** SignatureVerifier over libp2p keys; `verify` answers false (never throws) for malformed keys or signatures. */
export const libp2pVerifier: SignatureVerifier = createVerifier()

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
