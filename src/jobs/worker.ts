/**
 * Worker side of a job: check what the job binds, make sure the model is at
 * hand (fetching it from the requester when missing), run it, sign the vote.
 */
import { InvalidMessageError, JobRejectedError } from '../errors.js'
import { hashTensorsAsync, tensorsByteLength } from '../tensor/index.js'
import type { NamedTensors } from '../tensor/index.js'
import { jobIdOf } from '../consensus/job.js'
import { signVote } from '../consensus/vote.js'
import type { Signer } from '../consensus/types.js'
import type { ReplayGuard } from '../consensus/replay.js'
import type { JobRequest, JobResponse, OutputRequest, PrepareRequest } from '../network/codec.js'
import type { HeldOutputs } from './held-outputs.js'

export interface WorkerDeps {
  signer: Signer
  /** Makes sure the model is loaded; may fetch it from `from` (the requester). */
  ensureModel: (modelHash: string, from: string, options: { signal: AbortSignal }) => Promise<void>
  run: (modelHash: string, inputs: NamedTensors, options: { signal: AbortSignal }) => Promise<{ outputs: NamedTensors, numericClass: string, ms: number }>
  now: () => number
  /** Refuses a job id this worker has already seen (a replayed request). */
  replay?: ReplayGuard
  /** Where outputs wait when the requester asked for the vote alone; without it outputs are always sent. */
  held?: HeldOutputs
  /**
   * Outputs of at most this many bytes go with the vote even when the
   * requester asked for the vote alone: a second round trip costs more than
   * the bytes. @default INLINE_OUTPUT_BYTES
   */
  inlineOutputBytes?: number
}

/** Outputs up to 64 KiB travel with their vote whatever the request said. */
export const INLINE_OUTPUT_BYTES = 64 * 1024

export async function handleJob (req: JobRequest, ctx: { from: string, signal: AbortSignal }, deps: WorkerDeps): Promise<JobResponse> {
  const { spec } = req
  if (jobIdOf(spec) !== req.jobId) throw new InvalidMessageError('job id does not match the job spec')
  if (spec.requester !== ctx.from) throw new JobRejectedError('job spec names another requester')
  if (await hashTensorsAsync(req.inputs) !== spec.inputHash) throw new InvalidMessageError('inputs do not hash to the spec input hash')
  if (deps.now() > spec.expiresAt) throw new JobRejectedError('job has expired')
  const seen = deps.replay?.check(req.jobId, spec.expiresAt, deps.now())
  if (seen === 'seen') throw new JobRejectedError('job id already answered (replayed request)')
  if (seen === 'expired') throw new JobRejectedError('job has expired')
  await deps.ensureModel(spec.modelHash, ctx.from, { signal: ctx.signal })
  const { outputs, numericClass, ms } = await deps.run(spec.modelHash, req.inputs, { signal: ctx.signal })
  const outputHash = await hashTensorsAsync(outputs)
  const vote = await signVote(deps.signer, {
    v: 1,
    jobId: req.jobId,
    modelHash: spec.modelHash,
    inputHash: spec.inputHash,
    outputHash,
    numericClass,
    peerId: deps.signer.peerId,
    signedAt: deps.now()
  })
  if (req.sendOutput === false && deps.held != null && tensorsByteLength(outputs) > (deps.inlineOutputBytes ?? INLINE_OUTPUT_BYTES)) {
    deps.held.hold(req.jobId, ctx.from, outputs)
    return { type: 'result', jobId: req.jobId, vote, ms }
  }
  return { type: 'result', jobId: req.jobId, vote, outputs, ms }
}

/** Answers an output request from the outputs held for that requester. Throws OutputNotHeldError. */
export function handleOutput (req: OutputRequest, ctx: { from: string }, held: HeldOutputs): JobResponse {
  return { type: 'output', jobId: req.jobId, outputs: held.get(req.jobId, ctx.from) }
}

/**
 * Answers a prepare: fetches and loads the model (from the requester, or
 * another holder) before the job itself comes, so that none of it runs on the
 * job's answer clock. Resolves `ready` with how long that took.
 */
export async function handlePrepare (req: PrepareRequest, ctx: { from: string, signal: AbortSignal }, deps: Pick<WorkerDeps, 'ensureModel'>): Promise<JobResponse> {
  const t0 = performance.now()
  await deps.ensureModel(req.modelHash, ctx.from, { signal: ctx.signal })
  return { type: 'ready', jobId: req.jobId, ms: Math.max(0, performance.now() - t0) }
}
