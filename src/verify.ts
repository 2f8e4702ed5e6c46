/**
 * `crosscheck/verify`: check a Crosscheck receipt offline, in a browser or in
 * Node, without libp2p or onnxruntime. It is the same `verifyReceipt` the CLI
 * runs (`src/consensus/receipt.ts`), with a default signature verifier for the
 * Ed25519 keys Crosscheck peers use, written against @noble/curves instead of
 * @libp2p/crypto so that a page that only checks receipts stays small.
 *
 * @example
 * ```ts
 * import { verifyReceipt } from 'crosscheck/verify'
 * const { ok, checks } = await verifyReceipt(receiptText)
 * if (!ok) console.warn(checks.filter((c) => !c.ok))
 * // a v2 receipt commits to outputs by hash; give their bytes to re-check them
 * const { outputs } = parseReceiptOutputs(outputsText)
 * await verifyReceipt(receiptText, undefined, { outputs })
 * ```
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { InvalidMessageError } from './errors.js'
import { verifyReceipt as verifyReceiptWith } from './consensus/receipt.js'
import type { ReceiptVerification, VerifyReceiptOptions } from './consensus/receipt.js'
import type { SignatureVerifier } from './consensus/types.js'

export { parseReceipt, parseReceiptOutputs, receiptOutput, serializeReceipt, serializeReceiptOutputs } from './consensus/receipt.js'
export type { Receipt, ReceiptCheck, ReceiptOutputs, ReceiptTensor, ReceiptVerification, ReceiptVersion, ReceiptVote, VerifyReceiptOptions } from './consensus/receipt.js'
export { describeStatus, parseRecord, receiptHashOf, serializeRecord } from './consensus/settlement.js'
export type { Assurance, ReceiptStatus, SettlementRecord, SettlementStatus } from './consensus/settlement.js'
export type { JobSpec, NumericClass, SignatureVerifier, VoteBody } from './consensus/types.js'
export type { DType, NamedTensors, Tensor } from './tensor/index.js'

/**
 * The canonical libp2p protobuf of an Ed25519 public key is exactly
 * `08 01` (field 1 `Type` = 1, Ed25519) `12 20` (field 2 `Data`, 32 bytes)
 * followed by the key. Only this spelling is accepted, as in
 * src/network/keys.ts: another encoding of the same key would give one peer
 * id a second valid `publicKey`.
 */
const ED25519_PROTOBUF_PREFIX = [0x08, 0x01, 0x12, 0x20] as const
const ED25519_PROTOBUF_LENGTH = ED25519_PROTOBUF_PREFIX.length + 32
/** Multihash header of an identity hash of 36 bytes: a peer id embeds small keys whole. */
const IDENTITY_MULTIHASH_PREFIX = [0x00, ED25519_PROTOBUF_LENGTH] as const

/** The 32-byte Ed25519 key inside a canonical libp2p protobuf public key; throws InvalidMessageError otherwise. */
function ed25519KeyOf (publicKey: Uint8Array): Uint8Array {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PROTOBUF_LENGTH || ED25519_PROTOBUF_PREFIX.some((b, i) => publicKey[i] !== b)) {
    throw new InvalidMessageError('public key is not a canonically encoded libp2p Ed25519 key (the only kind Crosscheck peers use)')
  }
  return publicKey.subarray(ED25519_PROTOBUF_PREFIX.length)
}

const BASE58_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

/** base58btc (Bitcoin alphabet), leading zero bytes as '1'. Inputs are 38 bytes here, so the quadratic loop is cheap. */
export function base58btc (bytes: Uint8Array): string {
  const digits: number[] = []
  for (const byte of bytes) {
    let carry = byte
    for (let i = 0; i < digits.length; i++) {
      carry += digits[i] << 8
      digits[i] = carry % 58
      carry = (carry / 58) | 0
    }
    while (carry > 0) {
      digits.push(carry % 58)
      carry = (carry / 58) | 0
    }
  }
  let out = ''
  for (let i = 0; i < bytes.length && bytes[i] === 0; i++) out += '1'
  for (let i = digits.length - 1; i >= 0; i--) out += BASE58_ALPHABET[digits[i]]
  return out
}

/**
 * The libp2p peer id of an Ed25519 public key: base58btc of the identity
 * multihash of its protobuf encoding (`12D3KooW…`), as `peerIdFromPublicKey`
 * in @libp2p/peer-id spells it.
 */
export function peerIdFromEd25519PublicKey (publicKey: Uint8Array): string {
  ed25519KeyOf(publicKey)
  const multihash = new Uint8Array(IDENTITY_MULTIHASH_PREFIX.length + publicKey.length)
  multihash.set(IDENTITY_MULTIHASH_PREFIX)
  multihash.set(publicKey, IDENTITY_MULTIHASH_PREFIX.length)
  return base58btc(multihash)
}

/**
 * SignatureVerifier for libp2p Ed25519 keys without libp2p. It answers like
 * `libp2pVerifier` (src/network/keys.ts) for every Ed25519 key; keys of other
 * types (RSA, secp256k1, ECDSA), which Crosscheck never generates, are
 * refused: pass `libp2pVerifier` to check those. Signatures are checked with
 * RFC 8032 / FIPS 186-5 rules (`zip215: false`: canonical point encodings
 * only), the same rules OpenSSL applies to @libp2p/crypto in Node.
 * `verify` answers false, never throws, for malformed keys or signatures.
 */
export const ed25519Verifier: SignatureVerifier = {
  peerIdFromPublicKey: peerIdFromEd25519PublicKey,
  verify: (publicKey, data, signature) => {
    try {
      if (!(signature instanceof Uint8Array) || signature.length !== 64) return false
      return ed25519.verify(signature, data, ed25519KeyOf(publicKey), { zip215: false })
    } catch {
      return false
    }
  }
}

/**
 * Verifies a receipt text offline and reports every check (format, or
 * `version` for a version this code does not read; canonical; `outputs` when
 * `options.outputs` is given; jobId, output, one `vote` per vote, agreement,
 * quorum, requester, and `time` when `options.now` is given); `ok` is true
 * only if all pass. Both receipt versions verify: v1 (outputs inside) and v2
 * (outputs by hash, their bytes in `options.outputs`). The text must
 * be exactly the receipt as the requester produced it: any changed byte,
 * whitespace included, fails the `canonical` check.
 *
 * @param verifier checks signatures and peer ids. @default ed25519Verifier
 */
export async function verifyReceipt (text: string, verifier: SignatureVerifier = ed25519Verifier, options: VerifyReceiptOptions = {}): Promise<ReceiptVerification> {
  return await verifyReceiptWith(text, verifier, options)
}
