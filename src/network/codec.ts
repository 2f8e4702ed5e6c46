/**
 * Wire messages of the Crosscheck protocols: CBOR (cborg, strict decoding),
 * length-prefixed on the stream, size-bounded and validated before use.
 * Bad input raises InvalidMessageError (or MessageTooLargeError), never crashes.
 */
import { encode, decode } from 'cborg'
import { InvalidMessageError, MessageTooLargeError, showValue } from '../errors.js'
import { hashTensors, isSha256Hex, tensorsFromWire, tensorsToWire } from '../tensor/index.js'
import type { NamedTensors } from '../tensor/index.js'
import { validateJobSpec } from '../consensus/job.js'
import { validateSignedVote } from '../consensus/vote.js'
import type { JobSpec, SignedVote } from '../consensus/types.js'
import { validateObservationBody } from '../consensus/observation.js'
import type { ObservationEvidence, SignedObservation } from '../consensus/observation.js'
import { MAX_ANNOUNCED_MODELS, MAX_LEASE_ADDRS, MAX_RUNTIME_NAME } from './constants.js'
import { MAX_MODEL_CHUNKS, MAX_MODEL_REQUEST_BYTES, MIN_MODEL_CHUNK_BYTES } from './protocols/model/constants.js'

export interface JobRequest {
  type: 'job'
  jobId: string
  spec: JobSpec
  inputs: NamedTensors
  /**
   * false: answer with the signed vote alone and hold the outputs for an
   * `output` request (a requester needs one copy of an output that several
   * replicas agree on byte for byte). @default true
   */
  sendOutput?: boolean
}

/** Asks the worker for the outputs it holds of a job it answered without them (`sendOutput: false`). */
export interface OutputRequest {
  type: 'output'
  jobId: string
}

/**
 * Asks a worker to fetch and load a job's model before it is sent the job,
 * so that provisioning never runs on the job's answer clock. Answered `ready`
 * (with how long it took) or a typed error.
 */
export interface PrepareRequest {
  type: 'prepare'
  /** The job it prepares for (the spec follows in the job request). */
  jobId: string
  modelHash: string
}

/** What a job stream carries from requester to worker, one at a time. */
export type JobStreamRequest = JobRequest | PrepareRequest | OutputRequest

export type JobResponse =
  /** The signed vote, with the outputs unless the request said `sendOutput: false`. */
  | { type: 'result', jobId: string, vote: SignedVote, outputs?: NamedTensors, ms: number }
  | { type: 'ready', jobId: string, ms: number }
  | { type: 'output', jobId: string, outputs: NamedTensors }
  | { type: 'error', jobId: string, error: { name: string, message: string } }

/** What a model fetcher asks a holder (`/crosscheck/model/2.0.0`), one request at a time per stream. */
export type ModelRequest =
  | { type: 'model-manifest', sha256: string, chunkBytes: number }
  | { type: 'model-chunks', sha256: string, chunkBytes: number, first: number, count: number }

/**
 * A model cut in chunks of `chunkBytes` (the last one shorter), each with its
 * sha256: chunk `i` is `bytes[i * chunkBytes, (i + 1) * chunkBytes)`. The
 * fetcher checks each chunk against it as it arrives and the whole model
 * against `sha256` at the end, so a lying manifest cannot pass.
 */
export interface ModelChunkManifest {
  sha256: string
  size: number
  chunkBytes: number
  /** 32 bytes each, `ceil(size / chunkBytes)` of them. */
  chunkHashes: Uint8Array[]
}

/** A holder's answer: the manifest, a chunk header (then `bytes` raw bytes on the stream), or a typed error. */
export type ModelResponse =
  | ({ type: 'model-manifest' } & ModelChunkManifest)
  | { type: 'model-chunks', first: number, count: number, bytes: number }
  | { type: 'error', error: { name: string, message: string } }

/** Limits a model message is checked against when it is decoded. */
export interface ModelWireLimits {
  minChunkBytes: number
  maxChunkBytes: number
  maxChunks: number
}

/** The model protocol's own limits (protocols/model/constants.ts). */
export const MODEL_WIRE_LIMITS: ModelWireLimits = { minChunkBytes: MIN_MODEL_CHUNK_BYTES, maxChunkBytes: MAX_MODEL_REQUEST_BYTES, maxChunks: MAX_MODEL_CHUNKS }

export interface Announcement {
  peerId: string
  /** sha256 of the models this peer holds. */
  models: string[]
  numericClass: string
  backend: string
  threads: number
  jobsDone: number
  /** ms since epoch (sender's clock; informational). */
  at: number
  /** The peer takes no jobs for now (user pause, hidden tab, battery…). Peers from before this field decode as false. */
  paused: boolean
  /** Inference runtime, e.g. 'ort-web' | 'ort-node' (at most 32 characters). Absent from older peers. */
  runtime?: string
  /** Identity puzzle solution for peerId (src/consensus/identity-cost.ts; 1-32 hex characters). Absent from older peers. */
  identityNonce?: string
}

const DECODE_OPTIONS = { strict: true, rejectDuplicateMapKeys: true, useMaps: false, allowUndefined: false, allowIndefinite: false }

function encodeMessage (msg: object): Uint8Array {
  return encode({ v: 1, ...msg })
}

function decodeMessage (bytes: Uint8Array, maxBytes: number): Record<string, unknown> {
  if (bytes.byteLength > maxBytes) throw new MessageTooLargeError(`message of ${bytes.byteLength} bytes exceeds ${maxBytes}`)
  let value: unknown
  try {
    value = decode(bytes, DECODE_OPTIONS)
  } catch (err) {
    throw new InvalidMessageError('message is not valid CBOR', { cause: err })
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new InvalidMessageError('message must be a map')
  }
  const m = value as Record<string, unknown>
  if (m.v !== 1) throw new InvalidMessageError(`unsupported message version ${showValue(m.v)}`)
  return m
}

function str (m: Record<string, unknown>, key: string, max = 256): string {
  const v = m[key]
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new InvalidMessageError(`${key} must be a string of 1..${max} characters`)
  return v
}

function num (m: Record<string, unknown>, key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = m[key]
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new InvalidMessageError(`${key} must be a number in ${min}..${max}`)
  return v
}

function optionalBool (m: Record<string, unknown>, key: string): boolean | undefined {
  const v = m[key]
  if (v === undefined) return undefined
  if (typeof v !== 'boolean') throw new InvalidMessageError(`${key} must be a boolean`)
  return v
}

function hash (m: Record<string, unknown>, key: string): string {
  const v = m[key]
  if (!isSha256Hex(v)) throw new InvalidMessageError(`${key} must be a lowercase sha256 hex string`)
  return v
}

function tensors (m: Record<string, unknown>, key: string): NamedTensors {
  try {
    return tensorsFromWire(m[key])
  } catch (err: any) {
    throw new InvalidMessageError(`${key}: ${String(err?.message)}`, { cause: err })
  }
}

function errorField (m: Record<string, unknown>): { name: string, message: string } {
  const e = m.error
  if (e == null || typeof e !== 'object') throw new InvalidMessageError('error must be { name, message }')
  const r = e as Record<string, unknown>
  return { name: str(r, 'name', 64), message: typeof r.message === 'string' ? r.message.slice(0, 1024) : '' }
}

export function encodeJobRequest (req: JobStreamRequest): Uint8Array {
  if (req.type === 'prepare') return encodeMessage({ type: 'prepare', jobId: req.jobId, modelHash: req.modelHash })
  if (req.type === 'output') return encodeMessage({ type: 'output', jobId: req.jobId })
  return encodeMessage({ type: 'job', jobId: req.jobId, spec: req.spec, inputs: tensorsToWire(req.inputs), ...(req.sendOutput === false ? { sendOutput: false } : {}) })
}

export function decodeJobRequest (bytes: Uint8Array, maxBytes: number): JobStreamRequest {
  const m = decodeMessage(bytes, maxBytes)
  if (m.type === 'prepare') return { type: 'prepare', jobId: hash(m, 'jobId'), modelHash: hash(m, 'modelHash') }
  if (m.type === 'output') return { type: 'output', jobId: hash(m, 'jobId') }
  if (m.type !== 'job') throw new InvalidMessageError(`expected a job, prepare or output message, got ${showValue(m.type)}`)
  const sendOutput = optionalBool(m, 'sendOutput')
  return { type: 'job', jobId: hash(m, 'jobId'), spec: validateJobSpec(m.spec), inputs: tensors(m, 'inputs'), ...(sendOutput === false ? { sendOutput: false } : {}) }
}

export function encodeJobResponse (res: JobResponse): Uint8Array {
  if (res.type === 'error') return encodeMessage(res)
  if (res.type === 'ready') return encodeMessage({ type: 'ready', jobId: res.jobId, ms: res.ms })
  if (res.type === 'output') return encodeMessage({ type: 'output', jobId: res.jobId, outputs: tensorsToWire(res.outputs) })
  return encodeMessage({ type: 'result', jobId: res.jobId, vote: res.vote, ...(res.outputs !== undefined ? { outputs: tensorsToWire(res.outputs) } : {}), ms: res.ms })
}

export function decodeJobResponse (bytes: Uint8Array, maxBytes: number): JobResponse {
  const m = decodeMessage(bytes, maxBytes)
  if (m.type === 'error') return { type: 'error', jobId: hash(m, 'jobId'), error: errorField(m) }
  if (m.type === 'ready') return { type: 'ready', jobId: hash(m, 'jobId'), ms: num(m, 'ms') }
  if (m.type === 'output') return { type: 'output', jobId: hash(m, 'jobId'), outputs: tensors(m, 'outputs') }
  if (m.type !== 'result') throw new InvalidMessageError(`expected a result message, got ${showValue(m.type)}`)
  let vote: SignedVote
  try {
    vote = validateSignedVote(m.vote)
  } catch (err: any) {
    throw new InvalidMessageError(`vote: ${String(err?.message)}`, { cause: err })
  }
  return { type: 'result', jobId: hash(m, 'jobId'), vote, ...(m.outputs !== undefined ? { outputs: tensors(m, 'outputs') } : {}), ms: num(m, 'ms') }
}

export function encodeModelRequest (req: ModelRequest): Uint8Array {
  return encodeMessage(req)
}

function chunkBytesField (m: Record<string, unknown>, limits: ModelWireLimits): number {
  const v = num(m, 'chunkBytes', limits.minChunkBytes, limits.maxChunkBytes)
  if (!Number.isInteger(v) || (v & (v - 1)) !== 0) throw new InvalidMessageError('chunkBytes must be a power of two')
  return v
}

function intField (m: Record<string, unknown>, key: string, min: number, max: number): number {
  const v = num(m, key, min, max)
  if (!Number.isInteger(v)) throw new InvalidMessageError(`${key} must be an integer`)
  return v
}

export function decodeModelRequest (bytes: Uint8Array, maxBytes: number, limits: ModelWireLimits = MODEL_WIRE_LIMITS): ModelRequest {
  const m = decodeMessage(bytes, maxBytes)
  if (m.type === 'model-manifest') return { type: 'model-manifest', sha256: hash(m, 'sha256'), chunkBytes: chunkBytesField(m, limits) }
  if (m.type !== 'model-chunks') throw new InvalidMessageError(`expected a model-manifest or model-chunks request, got ${showValue(m.type)}`)
  return {
    type: 'model-chunks',
    sha256: hash(m, 'sha256'),
    chunkBytes: chunkBytesField(m, limits),
    first: intField(m, 'first', 0, limits.maxChunks - 1),
    count: intField(m, 'count', 1, limits.maxChunks)
  }
}

export function encodeModelResponse (res: ModelResponse): Uint8Array {
  return encodeMessage(res)
}

/**
 * Checks shape and self-consistency only (chunk count against size and chunk
 * size); the fetcher checks the size against its own limit before allocating.
 */
export function decodeModelResponse (bytes: Uint8Array, maxBytes: number, limits: ModelWireLimits = MODEL_WIRE_LIMITS): ModelResponse {
  const m = decodeMessage(bytes, maxBytes)
  if (m.type === 'error') return { type: 'error', error: errorField(m) }
  if (m.type === 'model-chunks') {
    return { type: 'model-chunks', first: intField(m, 'first', 0, limits.maxChunks - 1), count: intField(m, 'count', 1, limits.maxChunks), bytes: intField(m, 'bytes', 1, limits.maxChunkBytes * limits.maxChunks) }
  }
  if (m.type !== 'model-manifest') throw new InvalidMessageError(`expected a model manifest or chunk header, got ${showValue(m.type)}`)
  const size = intField(m, 'size', 1, Number.MAX_SAFE_INTEGER)
  const chunkBytes = chunkBytesField(m, limits)
  const hashes = m.chunkHashes
  if (!Array.isArray(hashes) || hashes.length > limits.maxChunks || !hashes.every(h => h instanceof Uint8Array && h.byteLength === 32)) {
    throw new InvalidMessageError(`chunkHashes must be at most ${limits.maxChunks} 32-byte hashes`)
  }
  if (hashes.length !== Math.ceil(size / chunkBytes)) throw new InvalidMessageError(`${hashes.length} chunk hashes for ${size} bytes in chunks of ${chunkBytes}`)
  return { type: 'model-manifest', sha256: hash(m, 'sha256'), size, chunkBytes, chunkHashes: hashes as Uint8Array[] }
}

/**
 * An announcement's own fields, explicitly: nothing else the object carries
 * (a lease's seq or signature) goes on the wire or into a peer's state.
 */
export function announcementOf (a: Announcement): Announcement {
  // cborg refuses undefined, so an absent runtime is left out of the map
  const { peerId, models, numericClass, backend, threads, jobsDone, at, paused, runtime, identityNonce } = a
  return { peerId, models, numericClass, backend, threads, jobsDone, at, paused, ...(runtime != null ? { runtime } : {}), ...(identityNonce != null ? { identityNonce } : {}) }
}

export function encodeAnnouncement (a: Announcement): Uint8Array {
  return encodeMessage(announcementOf(a))
}

export function decodeAnnouncement (bytes: Uint8Array, maxBytes: number): Announcement {
  return announcementFrom(decodeMessage(bytes, maxBytes))
}

function announcementFrom (m: Record<string, unknown>): Announcement {
  const models = m.models
  if (!Array.isArray(models) || models.length > MAX_ANNOUNCED_MODELS || !models.every(isSha256Hex)) {
    throw new InvalidMessageError(`models must be at most ${MAX_ANNOUNCED_MODELS} sha256 hex strings`)
  }
  return {
    peerId: str(m, 'peerId', 128),
    models: [...models],
    numericClass: str(m, 'numericClass', 128),
    backend: str(m, 'backend', 32),
    threads: num(m, 'threads', 0, 1024),
    jobsDone: num(m, 'jobsDone'),
    at: num(m, 'at'),
    paused: optionalBool(m, 'paused') ?? false,
    ...(m.runtime !== undefined ? { runtime: str(m, 'runtime', MAX_RUNTIME_NAME) } : {}),
    ...(m.identityNonce !== undefined ? { identityNonce: hexNonce(m, 'identityNonce') } : {})
  }
}

/**
 * A lease (src/network/lease.ts): the announcement a contributor signs about
 * itself and hands to its relays, plus how long it counts and where to reach
 * the peer. Only the peer's own key can make one; a relay can drop it, never
 * change it.
 */
export interface LeaseBody extends Announcement {
  /** Increases with every lease this peer issues (a relay keeps the highest). */
  seq: number
  /** How long the lease counts after it was issued (ms). */
  ttl: number
  /** Jobs this peer would take at once now; 0 = full. */
  slots: number
  /** `/p2p-circuit/webrtc` addresses this peer is reachable on (through its home relays). */
  addrs: string[]
}

export function encodeLeaseBody (l: LeaseBody): Uint8Array {
  return encodeMessage({ ...announcementOf(l), type: 'lease', seq: l.seq, ttl: l.ttl, slots: l.slots, addrs: l.addrs })
}

export function decodeLeaseBody (bytes: Uint8Array, maxBytes: number): LeaseBody {
  const m = decodeMessage(bytes, maxBytes)
  const a = announcementFrom(m)
  if (m.type !== 'lease') throw new InvalidMessageError(`expected a lease, got ${showValue(m.type)}`)
  const addrs = m.addrs
  if (!Array.isArray(addrs) || addrs.length > MAX_LEASE_ADDRS || !addrs.every(x => typeof x === 'string' && x.length > 0 && x.length <= 512)) {
    throw new InvalidMessageError(`addrs must be at most ${MAX_LEASE_ADDRS} multiaddr strings`)
  }
  return { ...a, seq: num(m, 'seq'), ttl: num(m, 'ttl', 1, 24 * 3600_000), slots: num(m, 'slots', 0, 1024), addrs: [...addrs] as string[] }
}

function hexNonce (m: Record<string, unknown>, key: string): string {
  const v = str(m, key, 32)
  if (!/^[0-9a-f]+$/.test(v)) throw new InvalidMessageError(`${key} must be lowercase hex`)
  return v
}

/** A signed retraction record's text (parsed and checked by src/consensus/settlement.ts). */
export function encodeRetraction (record: string): Uint8Array {
  return encodeMessage({ type: 'retraction', record })
}

export function decodeRetraction (bytes: Uint8Array, maxBytes: number): string {
  const m = decodeMessage(bytes, maxBytes)
  if (m.type !== 'retraction') throw new InvalidMessageError(`expected a retraction, got ${showValue(m.type)}`)
  return str(m, 'record', maxBytes)
}

/** Most output sets contradiction evidence may carry beside its receipt (a receipt's distinct agreeing outputs). */
const MAX_EVIDENCE_OUTPUTS = 64

/** A reputation observation shared on the observations topic, with the evidence that makes it count. */
export interface ObservationMessage {
  observation: SignedObservation
  evidence?: ObservationEvidence
}

export function encodeObservationMessage (m: ObservationMessage): Uint8Array {
  const e = m.evidence
  const evidence = e == null
    ? undefined
    : e.kind === 'contradiction'
      ? { kind: e.kind, vote: e.vote, output: tensorsToWire(e.output), receiptText: e.receiptText, ...(e.receiptOutputs !== undefined ? { receiptOutputs: Object.values(e.receiptOutputs).map(tensorsToWire) } : {}) }
      : { kind: e.kind, votes: e.votes }
  return encodeMessage({ type: 'observation', observation: m.observation, ...(evidence != null ? { evidence } : {}) })
}

function signedVoteField (v: unknown, where: string): SignedVote {
  try {
    return validateSignedVote(v)
  } catch (err: any) {
    throw new InvalidMessageError(`${where}: ${String(err?.message)}`, { cause: err })
  }
}

/** Validates shape only; signatures and evidence are checked by consensus/observation.ts. */
export function decodeObservationMessage (bytes: Uint8Array, maxBytes: number): ObservationMessage {
  const m = decodeMessage(bytes, maxBytes)
  if (m.type !== 'observation') throw new InvalidMessageError(`expected an observation, got ${showValue(m.type)}`)
  const o = m.observation as Record<string, unknown> | undefined
  if (o == null || typeof o !== 'object' || !(o.signature instanceof Uint8Array) || !(o.publicKey instanceof Uint8Array)) {
    throw new InvalidMessageError('observation must be { body, signature, publicKey }')
  }
  const observation: SignedObservation = { body: validateObservationBody(o.body), signature: o.signature, publicKey: o.publicKey }
  const e = m.evidence as Record<string, unknown> | undefined
  if (e == null) return { observation }
  if (e.kind === 'contradiction') {
    if (typeof e.receiptText !== 'string') throw new InvalidMessageError('evidence.receiptText must be a string')
    const evidence: ObservationEvidence = { kind: 'contradiction', vote: signedVoteField(e.vote, 'evidence.vote'), output: tensors(e, 'output'), receiptText: e.receiptText }
    if (e.receiptOutputs !== undefined) {
      if (!Array.isArray(e.receiptOutputs) || e.receiptOutputs.length === 0 || e.receiptOutputs.length > MAX_EVIDENCE_OUTPUTS) {
        throw new InvalidMessageError(`evidence.receiptOutputs must be 1-${MAX_EVIDENCE_OUTPUTS} tensor sets`)
      }
      // keyed by their own hash: what the receipt commits to decides which are used
      const outputs: Record<string, NamedTensors> = {}
      for (const [i, w] of e.receiptOutputs.entries()) {
        let t: NamedTensors
        try {
          t = tensorsFromWire(w)
        } catch (err: any) {
          throw new InvalidMessageError(`evidence.receiptOutputs[${i}]: ${String(err?.message)}`, { cause: err })
        }
        outputs[hashTensors(t)] = t
      }
      evidence.receiptOutputs = outputs
    }
    return { observation, evidence }
  }
  if (e.kind === 'equivocation') {
    if (!Array.isArray(e.votes) || e.votes.length !== 2) throw new InvalidMessageError('evidence.votes must be two votes')
    return { observation, evidence: { kind: 'equivocation', votes: [signedVoteField(e.votes[0], 'evidence.votes[0]'), signedVoteField(e.votes[1], 'evidence.votes[1]')] } }
  }
  throw new InvalidMessageError(`unknown evidence kind ${showValue(e.kind)}`)
}
