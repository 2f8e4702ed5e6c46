/**
 * Named error classes. Callers branch on `err.name`, never on the message.
 * Every class carries an optional `cause`.
 */

export class CrosscheckError extends Error {
  static override readonly name: string = 'CrosscheckError'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = (this.constructor as typeof CrosscheckError).name
  }
}

/** A tensor or tensor JSON document is malformed (dtype, dims, data length). */
export class InvalidTensorError extends CrosscheckError { static override readonly name = 'InvalidTensorError' }
/** A wire message failed size limits or validation. */
export class InvalidMessageError extends CrosscheckError { static override readonly name = 'InvalidMessageError' }
/** A message exceeded its protocol's size limit. */
export class MessageTooLargeError extends CrosscheckError { static override readonly name = 'MessageTooLargeError' }
/** Bytes did not hash to the expected sha256. */
export class HashMismatchError extends CrosscheckError { static override readonly name = 'HashMismatchError' }
/** A model is not known locally nor obtainable from peers. */
export class ModelNotFoundError extends CrosscheckError { static override readonly name = 'ModelNotFoundError' }
/** onnxruntime failed to load or run a model (its string error is the cause). */
export class InferenceError extends CrosscheckError { static override readonly name = 'InferenceError' }
/** Not enough peers can run the model to reach the requested replication. */
export class NotEnoughPeersError extends CrosscheckError { static override readonly name = 'NotEnoughPeersError' }
/** Replicas answered but no output reached the quorum before the deadline. */
export class NoQuorumError extends CrosscheckError { static override readonly name = 'NoQuorumError' }
/** The operation ran past its deadline. */
export class TimeoutError extends CrosscheckError { static override readonly name = 'TimeoutError' }
/** The operation was aborted through its AbortSignal. */
export class AbortError extends CrosscheckError { static override readonly name = 'AbortError' }
/** A receipt failed verification; `check` names the failing check. */
export class ReceiptInvalidError extends CrosscheckError {
  static override readonly name = 'ReceiptInvalidError'
  readonly check: string
  constructor (check: string, message: string, options?: { cause?: unknown }) {
    super(`${check}: ${message}`, options)
    this.check = check
  }
}
/** A receipt (or receipt outputs file) says a version this code does not read; `version` is what it says. */
export class ReceiptVersionError extends CrosscheckError {
  static override readonly name = 'ReceiptVersionError'
  readonly version: unknown
  constructor (version: unknown, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.version = version
  }
}
/** The bytes of an output a receipt commits to by hash were needed but not given (receipt v2 keeps them apart). */
export class ReceiptOutputMissingError extends CrosscheckError {
  static override readonly name = 'ReceiptOutputMissingError'
  readonly outputHash: string
  constructor (outputHash: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.outputHash = outputHash
  }
}
/** A vote's signature, peer id or bound fields are wrong. */
export class InvalidVoteError extends CrosscheckError { static override readonly name = 'InvalidVoteError' }
/** A peer refused a job (busy, unknown model, bad input). */
export class JobRejectedError extends CrosscheckError { static override readonly name = 'JobRejectedError' }
/** The node is not started, or was stopped. */
export class NotStartedError extends CrosscheckError { static override readonly name = 'NotStartedError' }
/** A model is larger than the limit of whoever was asked to fetch or accept it. */
export class ModelTooLargeError extends CrosscheckError { static override readonly name = 'ModelTooLargeError' }
/** Another tab of this browser profile holds this peer's identity (Web Locks); `holder` says who, when it answered. */
export class IdentityLockedError extends CrosscheckError {
  static override readonly name = 'IdentityLockedError'
  readonly holder?: { peerId?: string, surface: string, since: number }
  constructor (message: string, options?: { cause?: unknown, holder?: { peerId?: string, surface: string, since: number } }) {
    super(message, options)
    this.holder = options?.holder
  }
}
/** This peer is paused (by its person, or because the page is hidden, on battery or under pressure) and takes no jobs. */
export class PeerPausedError extends CrosscheckError { static override readonly name = 'PeerPausedError' }
/** Bad arguments to a public API call (the message says which). */
export class InvalidArgumentError extends CrosscheckError { static override readonly name = 'InvalidArgumentError' }
/** Local storage cannot hold a model even after evicting the least recently used others; `evicted` lists what went. */
export class StorageFullError extends CrosscheckError {
  static override readonly name = 'StorageFullError'
  /** Bytes the write needed. */
  readonly needed: number
  /** sha256 of each model evicted while trying, oldest use first. */
  readonly evicted: string[]
  constructor (message: string, options: { cause?: unknown, needed: number, evicted: string[] }) {
    super(message, options)
    this.needed = options.needed
    this.evicted = options.evicted
  }
}

/**
 * No configured relay could be reached. The message names each relay address
 * and what failed (connection refused, no answer in time, another peer id
 * answered, …); `relays` lists the addresses.
 */
export class RelayUnreachableError extends CrosscheckError {
  static override readonly name = 'RelayUnreachableError'
  readonly relays: string[]
  constructor (message: string, options: { cause?: unknown, relays: string[] }) {
    super(message, options)
    this.relays = options.relays
  }
}
/**
 * A relay was reached but refused this peer a reservation, so other peers
 * cannot reach it through that relay. `status` is the relay's answer:
 * `RESERVATION_REFUSED` when it is out of reservation capacity.
 */
export class ReservationRefusedError extends CrosscheckError {
  static override readonly name = 'ReservationRefusedError'
  readonly relays: string[]
  readonly status: string
  constructor (message: string, options: { cause?: unknown, relays: string[], status: string }) {
    super(message, options)
    this.relays = options.relays
    this.status = options.status
  }
}

/**
 * A new direct link was needed but this peer holds its bound of links
 * (`maxLinks`, 16 by default) and every one of them is carrying work.
 */
export class LinkLimitError extends CrosscheckError { static override readonly name = 'LinkLimitError' }
/**
 * This peer created as many direct links as it may in its life (a browser
 * tab: Chromium refuses its ~500th RTCPeerConnection). Open links still work;
 * reloading the page starts a fresh budget.
 */
export class LinkBudgetError extends CrosscheckError { static override readonly name = 'LinkBudgetError' }

/** Throws an AbortError if the signal is already aborted. */
export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) {
    throw new AbortError('operation aborted', { cause: signal.reason })
  }
}

/**
 * A value as it may appear in an error message, whatever it is: hostile input
 * (an object whose toString is not a function, a BigInt) must not turn a
 * validation error into a TypeError.
 */
export function showValue (v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 32 ? `${v.slice(0, 32)}…` : v)
  if (v == null || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`
}

/** A worker was asked for outputs it does not hold (never answered that job for this requester, or they expired). */
export class OutputNotHeldError extends CrosscheckError { static override readonly name = 'OutputNotHeldError' }
