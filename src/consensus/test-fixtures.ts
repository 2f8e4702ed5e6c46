/**
 * Test-only helpers for src/consensus specs (not exported from index.ts).
 * Builds tensors and ballots; ballots made here carry a dummy signature
 * because tally() never checks signatures.
 */
import { createTensor, hashTensors } from '../tensor/index.js'
import type { NamedTensors, Tensor } from '../tensor/index.js'
import type { Ballot, NumericClass, SignedVote } from './types.js'

export const HASH_A = 'a'.repeat(64)
export const HASH_B = 'b'.repeat(64)
export const HASH_C = 'c'.repeat(64)
export const CLASS_WEB = 'ort-web/wasm/t1/chromium'
export const CLASS_NODE = 'ort-node/cpu/t4/node'

export function f32 (data: number[], dims: number[] = [data.length]): Tensor {
  return createTensor('float32', dims, Float32Array.from(data))
}

export function f64 (data: number[], dims: number[] = [data.length]): Tensor {
  return createTensor('float64', dims, Float64Array.from(data))
}

export function i32 (data: number[], dims: number[] = [data.length]): Tensor {
  return createTensor('int32', dims, Int32Array.from(data))
}

/** One output named `y`. */
export function out (t: Tensor): NamedTensors {
  return { y: t }
}

/** A base58-looking peer id that is unique per name (tally only compares strings). */
export function fakePeer (name: string): string {
  return `12D3KooW${name.replace(/[^1-9A-HJ-NP-Za-km-z]/g, 'x')}`
}

export function fakeBallot (peer: string, output: NamedTensors, numericClass: NumericClass = CLASS_WEB, outputHash = hashTensors(output)): Ballot {
  const vote: SignedVote = {
    body: { v: 1, jobId: HASH_A, modelHash: HASH_B, inputHash: HASH_C, outputHash, numericClass, peerId: fakePeer(peer), signedAt: 1000 },
    signature: new Uint8Array([1]),
    publicKey: new Uint8Array([2])
  }
  return { vote, output }
}
