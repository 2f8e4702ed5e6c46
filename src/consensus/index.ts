/**
 * Consensus: peer selection, output comparison, quorum tally, signed votes and
 * receipts. Pure: no I/O, no clock, no randomness of its own. Time (`now`,
 * `createdAt`), randomness (`rng`, `nonce`) and keys (`Signer`,
 * `SignatureVerifier`, see src/network/keys.ts) are parameters, so every
 * function here is exact and testable.
 *
 * @example
 * ```ts
 * const spec = createJobSpec({ modelHash, inputHash, policy: { kind: 'topk', k: 1 },
 *   replicas: 3, quorum: 2, requester: me.peerId, nonce, createdAt: now, expiresAt: now + 60_000 })
 * const jobId = jobIdOf(spec)
 * const peers = selectPeers(candidates, spec.replicas, Math.random)
 * // each worker: signVote(workerSigner, { jobId, modelHash, inputHash, outputHash: hashTensors(out), numericClass, signedAt })
 * // requester, per arriving ballot: await verifyVote(vote, libp2pVerifier, { jobId, modelHash, inputHash, output, expiresAt: spec.expiresAt, now })
 * const result = tally({ ballots, policy: spec.policy, quorum: spec.quorum, outstanding, verifiedPeers })
 * if (result.status === 'accepted') {
 *   const receipt = await buildReceipt({ spec, accepted: result,
 *     ballots: [...result.agreeing, ...result.dissenting],
 *     agreeingPeers: result.agreeing.map((b) => b.vote.body.peerId), signer: me })
 *   const text = serializeReceipt(receipt)
 *   const { ok, checks } = await verifyReceipt(text, libp2pVerifier) // anyone, offline
 * }
 * ```
 */
export type * from './types.js'
export {
  DEFAULT_CROSS_CLASS_TOLERANCE, MAX_TOPK, argmaxRows, closeEnough, decodeCtc, explainDisagreement,
  isTransitive, outputsAgree, topkIndices, validatePolicy
} from './compare.js'
export * from './constants.js'
export { CBOR_ENCODE_OPTIONS, createJobSpec, decodeJobSpec, encodeJobSpec, jobIdOf, validateJobSpec } from './job.js'
export type { JobSpecFields } from './job.js'
export {
  assertValidReceipt, buildReceipt, parseReceipt, receiptOutput, receiptSigningBytes, serializeReceipt,
  tensorsFromReceipt, verifyReceipt
} from './receipt.js'
export type { BuildReceiptInput, Receipt, ReceiptCheck, ReceiptTensor, ReceiptVerification, ReceiptVote, VerifyReceiptOptions } from './receipt.js'
export { createRng, selectPeers } from './select.js'
export type { Rng } from './select.js'
export { tally } from './tally.js'
export type { Cluster, RejectedBallot, TallyInput, TallyResult } from './tally.js'
export { isNumericClass, signVote, validateSignedVote, validateVoteBody, verifyVote, voteSigningBytes } from './vote.js'
export type { ExpectedVote, VoteBodyFields } from './vote.js'
export { backendOf, ReputationBook, trustKey } from './reputation.js'
export type { AcceptedVote, Outcome, OutcomeContext, ReputationInit, TrustRecord } from './reputation.js'
export { DEFAULT_BASE, DEFAULT_FLOOR_RECHECK, DEFAULT_MAX_REPLICAS, DEFAULT_PROBATION, escalationPlan, isNearMiss, judgeJob, planReplication } from './replication.js'
export type { Candidate, EscalationInput, JudgeInput, Judgement, PeerOutcome, PlanInput, ReplicationPlan } from './replication.js'
export { CanaryBook, CanarySchedule, judgeCanary } from './canary.js'
export type { CanaryCase, CanaryScheduleInit, CanaryVerdict } from './canary.js'
export { groupFromLink, groupKeyOf, onePerGroup } from './groups.js'
export type { GroupOf, LinkObservation } from './groups.js'
export { OBSERVATION_DOMAIN, observationSigningBytes, signObservation, validateObservationBody, verifyObservation, weighObservation } from './observation.js'
export type { ObservationBody, ObservationEvidence, ObservationWeight, ObservedOutcome, SignedObservation } from './observation.js'
export { ReplayGuard } from './replay.js'
export type { ReplayGuardInit, ReplayVerdict } from './replay.js'
