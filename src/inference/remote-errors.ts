/**
 * Comlink's throw handler sends `{ name, message, stack }` only: the class and
 * `cause` are lost across the worker boundary. Rebuild the named class here so
 * callers can use both `err.name` and `instanceof`.
 */
import {
  AbortError, CrosscheckError, HashMismatchError, InferenceError, InvalidMessageError,
  InvalidTensorError, ModelNotFoundError, NotStartedError, TimeoutError
} from '../errors.js'

type ErrorClass = new (message: string, options?: { cause?: unknown }) => CrosscheckError

const CLASSES: Record<string, ErrorClass> = {
  AbortError,
  CrosscheckError,
  HashMismatchError,
  InferenceError,
  InvalidMessageError,
  InvalidTensorError,
  ModelNotFoundError,
  NotStartedError,
  TimeoutError
}

/** Returns a typed Crosscheck error for an error that crossed the worker boundary (unknown names become InferenceError). */
export function rehydrateError (err: unknown): Error {
  if (err instanceof CrosscheckError) return err
  if (err instanceof Error) {
    const Cls = CLASSES[err.name] ?? InferenceError
    const typed = new Cls(err.message, { cause: err })
    if (err.stack != null) typed.stack = err.stack
    return typed
  }
  return new InferenceError(`worker threw ${String(err)}`, { cause: err })
}
