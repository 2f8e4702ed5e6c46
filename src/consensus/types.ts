/**
 * Shared consensus types: comparison policies, jobs, votes, receipts.
 * Pure data; no I/O anywhere in src/consensus.
 */
import type { NamedTensors } from '../tensor/index.js'

/**
 * How two outputs of the same job are judged to agree.
 * - `exact`: canonical bytes equal. Only ever compared within one numerical class;
 *   across classes the comparator falls back to `crossClass` (default tolerance 1e-4/1e-4).
 * - `tolerance`: every element |a-b| <= atol + rtol*|b|, same names, dtypes, dims.
 * - `topk`: along the last axis of `output` (default: every output), the k largest
 *   indices are the same set (k=1 is argmax).
 * - `ctc-text`: argmax over the last axis, collapse repeats, drop `blank` (default 0):
 *   equal index sequences (a decoded OCR text comparison).
 * - `mask`: threshold each element at `threshold`; agree when the fraction of
 *   differing elements is at most `maxMismatch` (decoded detection maps).
 */
export type ComparisonPolicy =
  | { kind: 'exact', crossClass?: { atol: number, rtol: number } }
  | { kind: 'tolerance', atol: number, rtol: number }
  | { kind: 'topk', k: number, output?: string }
  | { kind: 'ctc-text', blank?: number, output?: string }
  | { kind: 'mask', threshold: number, maxMismatch: number, output?: string }

/**
 * The numerical class a vote was computed in: runtime × backend × threads × engine.
 * Exact comparison is only meaningful within one class. Encoded as
 * `runtime/backend/t<threads>/engine`, e.g. `ort-web/wasm/t1/chromium`.
 */
export type NumericClass = string

/** Everything a job binds. `jobId` = sha256 of the canonical encoding of this spec. */
export interface JobSpec {
  v: 1
  modelHash: string
  inputHash: string
  policy: ComparisonPolicy
  /** Replicas the requester asked for. */
  replicas: number
  /** Agreeing votes needed to accept. */
  quorum: number
  /** Requester peer id (base58 string). */
  requester: string
  /** Random hex nonce so identical requests get distinct job ids. */
  nonce: string
  /** ms since epoch when the job was created. */
  createdAt: number
  /** ms since epoch after which votes for this job are not accepted. */
  expiresAt: number
}

/** What a worker peer signs. */
export interface VoteBody {
  v: 1
  jobId: string
  modelHash: string
  inputHash: string
  outputHash: string
  numericClass: NumericClass
  /** Voter peer id (must match publicKey). */
  peerId: string
  /** ms since epoch when the vote was signed. */
  signedAt: number
}

export interface SignedVote {
  body: VoteBody
  /** Signature by the voter's key over `voteSigningBytes(body)`. */
  signature: Uint8Array
  /** Voter's public key, libp2p protobuf encoding. */
  publicKey: Uint8Array
}

/** A vote plus the output it commits to (the output travels alongside, never inside, the signed body). */
export interface Ballot {
  vote: SignedVote
  output: NamedTensors
}

/** Verifies a signature made by a libp2p key (injected so consensus stays pure). */
export interface SignatureVerifier {
  /** Returns the peer id string for a protobuf public key, or throws. */
  peerIdFromPublicKey: (publicKey: Uint8Array) => string
  verify: (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>
}

export interface Signer {
  peerId: string
  publicKey: Uint8Array
  sign: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>
}
