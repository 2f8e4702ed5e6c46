/**
 * Receipt fixtures for tests: a v2 receipt of a k=2 tolerance job whose two
 * votes agree with different bytes (so re-checking it needs its outputs),
 * signed with seeded keys.
 */
import { buildReceipt, receiptOutputsOf, serializeReceipt, serializeReceiptOutputs } from '../consensus/receipt.js'
import type { ReceiptOutputs } from '../consensus/receipt.js'
import { jobIdOf } from '../consensus/job.js'
import { tally } from '../consensus/tally.js'
import { signVote } from '../consensus/vote.js'
import type { Ballot, Signer } from '../consensus/types.js'
import { identityFromSeed, signerFromPrivateKey } from '../network/keys.js'
import { createTensor, hashTensors } from '../tensor/index.js'
import type { NamedTensors } from '../tensor/index.js'
import { testJobSpec } from './jobs.js'

export interface TolerantReceipt {
  jobId: string
  text: string
  outputs: ReceiptOutputs
  outputsText: string
  requester: Signer
  voters: Signer[]
  /** The accepted output, and the other agreeing one (within the tolerance, other bytes). */
  accepted: NamedTensors
  near: NamedTensors
}

/** Keys from seeds `seed` (requester), `seed + 1` and `seed + 2` (voters). */
export async function tolerantReceipt (seed: number): Promise<TolerantReceipt> {
  const key = async (n: number): Promise<Signer> => signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(n)))
  const [requester, alice, bob] = await Promise.all([seed, seed + 1, seed + 2].map(key))
  const spec = testJobSpec(requester.peerId, { x: createTensor('float32', [1], new Float32Array([1])) })
  const jobId = jobIdOf(spec)
  const accepted = { y: createTensor('float32', [1, 2], new Float32Array([0.5, 0.25])) }
  const near = { y: createTensor('float32', [1, 2], new Float32Array([0.500001, 0.25])) }
  const ballot = async (s: Signer, output: NamedTensors): Promise<Ballot> => ({
    vote: await signVote(s, { jobId, modelHash: spec.modelHash, inputHash: spec.inputHash, outputHash: hashTensors(output), numericClass: 'ort-web/wasm/t1/chromium', signedAt: spec.createdAt + 1 }),
    output
  })
  const ballots = [await ballot(alice, accepted), await ballot(bob, near)]
  const r = tally({ ballots, policy: spec.policy, quorum: 2 })
  if (r.status !== 'accepted') throw new Error(`tally ${r.status}`)
  const receipt = await buildReceipt({ spec, accepted: r, ballots, agreeingPeers: r.agreeing.map(b => b.vote.body.peerId), signer: requester })
  const outputs = receiptOutputsOf(receipt, r.output, ballots)
  return { jobId, text: serializeReceipt(receipt), outputs, outputsText: serializeReceiptOutputs(jobId, outputs), requester, voters: [alice, bob], accepted: r.output, near: r.output === accepted ? near : accepted }
}
