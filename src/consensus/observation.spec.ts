import { encode } from 'cborg'
import { beforeAll, describe, expect, it } from 'vitest'
import { identityFromSeed, libp2pVerifier, signerFromPrivateKey } from '../network/keys.js'
import { hashTensors } from '../tensor/index.js'
import { createJobSpec, jobIdOf } from './job.js'
import { observationSigningBytes, signObservation, verifyObservation, weighObservation } from './observation.js'
import { buildReceipt, receiptOutputsOf, serializeReceipt } from './receipt.js'
import { tally } from './tally.js'
import { CLASS_NODE, CLASS_WEB, f32, out } from './test-fixtures.js'
import { signVote } from './vote.js'
import type { Ballot, JobSpec, Signer } from './types.js'
import type { NamedTensors } from '../tensor/index.js'

const T0 = 1_700_000_000_000
let requester: Signer
let alice: Signer
let bob: Signer
let mallory: Signer
let carol: Signer
let spec: JobSpec
let jobId: string

beforeAll(async () => {
  const key = async (n: number): Promise<Signer> => signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(n)))
  ;[requester, alice, bob, mallory, carol] = await Promise.all([key(20), key(21), key(22), key(23), key(24)])
  spec = createJobSpec({ modelHash: 'ab'.repeat(32), inputHash: 'cd'.repeat(32), policy: { kind: 'exact' }, replicas: 3, quorum: 2, requester: requester.peerId, nonce: '0123456789abcdef', createdAt: T0, expiresAt: T0 + 60_000 })
  jobId = jobIdOf(spec)
})

async function ballot (signer: Signer, output: NamedTensors, numericClass = CLASS_WEB): Promise<Ballot> {
  const vote = await signVote(signer, { jobId, modelHash: spec.modelHash, inputHash: spec.inputHash, outputHash: hashTensors(output), numericClass, signedAt: T0 + 1000 })
  return { vote, output }
}

const GOOD = out(f32([0.25, 0.75]))
const BAD = out(f32([0.9, 0.1]))
const CLOSE = out(f32([0.25 + 2e-5, 0.75]))

describe('observations', () => {
  it('sign and verify with a domain-separated canonical CBOR body', async () => {
    const obs = await signObservation(requester, { subject: mallory.peerId, outcome: 'dissented', jobId, modelHash: spec.modelHash, at: T0 })
    const checked = await verifyObservation(obs, libp2pVerifier)
    expect(checked.body.observer).toBe(requester.peerId)
    const bytes = observationSigningBytes(obs.body)
    expect(new TextDecoder().decode(bytes.subarray(0, 25))).toBe('crosscheck/observation/1\n')
    // a signature over the bare body (or another message kind) does not verify
    const bare = { ...obs, signature: await requester.sign(encode(obs.body)) }
    await expect(verifyObservation(bare, libp2pVerifier)).rejects.toThrow(/bad signature/)
    const tampered = { ...obs, body: { ...obs.body, subject: alice.peerId } }
    await expect(verifyObservation(tampered, libp2pVerifier)).rejects.toThrow(/bad signature/)
    const stolen = { ...obs, body: { ...obs.body, observer: alice.peerId } }
    await expect(verifyObservation(stolen, libp2pVerifier)).rejects.toThrow(/does not match key/)
  })

  it('ignores positive claims and negative claims without evidence', async () => {
    const pos = await signObservation(mallory, { subject: bob.peerId, outcome: 'agreed', jobId, modelHash: spec.modelHash, at: T0 })
    expect((await weighObservation(pos, undefined, libp2pVerifier)).action).toBe('ignore')
    const neg = await signObservation(mallory, { subject: bob.peerId, outcome: 'canary-failed', jobId, modelHash: spec.modelHash, at: T0 })
    expect(await weighObservation(neg, undefined, libp2pVerifier)).toEqual({ action: 'ignore', reason: 'no evidence' })
  })

  it('flags on equivocation: two signed answers by the subject to one job', async () => {
    const a = await ballot(mallory, GOOD)
    const b = await ballot(mallory, BAD)
    const obs = await signObservation(requester, { subject: mallory.peerId, outcome: 'equivocated', jobId, modelHash: spec.modelHash, at: T0 })
    expect((await weighObservation(obs, { kind: 'equivocation', votes: [a.vote, b.vote] }, libp2pVerifier)).action).toBe('flag')
    expect((await weighObservation(obs, { kind: 'equivocation', votes: [a.vote, a.vote] }, libp2pVerifier)).action).toBe('ignore')
    const framed = await signObservation(requester, { subject: bob.peerId, outcome: 'equivocated', jobId, modelHash: spec.modelHash, at: T0 })
    expect((await weighObservation(framed, { kind: 'equivocation', votes: [a.vote, b.vote] }, libp2pVerifier)).action).toBe('ignore')
  })

  it('counts a signed vote contradicting a verified receipt as one dissent, but not a cross-class near answer', async () => {
    // one dissent: the acceptance rule needs 2 * 1 + 1 agreeing votes
    const ballots = [await ballot(alice, GOOD), await ballot(bob, GOOD), await ballot(carol, GOOD), await ballot(mallory, BAD)]
    const r = tally({ ballots, policy: spec.policy, quorum: 2 })
    if (r.status !== 'accepted') throw new Error('expected accepted')
    const receipt = await buildReceipt({ spec, accepted: r, ballots, agreeingPeers: r.agreeing.map((b) => b.vote.body.peerId), signer: requester })
    const receiptText = serializeReceipt(receipt)
    const receiptOutputs = receiptOutputsOf(receipt, r.output, ballots)
    const obs = await signObservation(requester, { subject: mallory.peerId, outcome: 'dissented', jobId, modelHash: spec.modelHash, at: T0 })
    expect((await weighObservation(obs, { kind: 'contradiction', vote: ballots[3].vote, output: BAD, receiptText, receiptOutputs }, libp2pVerifier)).action).toBe('dissented')
    // a lie about the output is caught by the vote's outputHash
    expect((await weighObservation(obs, { kind: 'contradiction', vote: ballots[3].vote, output: GOOD, receiptText, receiptOutputs }, libp2pVerifier)).action).toBe('ignore')
    // an honest peer of another class, within the cross-class tolerance, is not framed
    const honestNode = await ballot(mallory, CLOSE, CLASS_NODE)
    expect((await weighObservation(obs, { kind: 'contradiction', vote: honestNode.vote, output: CLOSE, receiptText, receiptOutputs }, libp2pVerifier)).action).toBe('ignore')
    // a tampered receipt is not evidence
    expect((await weighObservation(obs, { kind: 'contradiction', vote: ballots[3].vote, output: BAD, receiptText: receiptText.replace('"quorum": 2', '"quorum": 1'), receiptOutputs }, libp2pVerifier)).action).toBe('ignore')
    // a v2 receipt without the accepted bytes cannot be compared against: not evidence
    expect((await weighObservation(obs, { kind: 'contradiction', vote: ballots[3].vote, output: BAD, receiptText }, libp2pVerifier)))
      .toMatchObject({ action: 'ignore', reason: expect.stringMatching(/not given/) })
    // nor are bytes that are not the ones the receipt commits to
    expect((await weighObservation(obs, { kind: 'contradiction', vote: ballots[3].vote, output: BAD, receiptText, receiptOutputs: { [r.outputHash]: BAD } }, libp2pVerifier)).action).toBe('ignore')
    // an older (v1) receipt carries its output and still counts
    const v1 = serializeReceipt(await buildReceipt({ spec, accepted: r, ballots, agreeingPeers: r.agreeing.map((b) => b.vote.body.peerId), signer: requester, version: 1 }))
    expect((await weighObservation(obs, { kind: 'contradiction', vote: ballots[3].vote, output: BAD, receiptText: v1 }, libp2pVerifier)).action).toBe('dissented')
  })
})
