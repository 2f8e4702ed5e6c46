/** AbortSignal helpers shared by the network services. */
import { AbortError, TimeoutError } from '../errors.js'

/** `signal` (if any) combined with a timeout of `ms`. */
export function withTimeout (signal: AbortSignal | undefined, ms: number): AbortSignal {
  const t = AbortSignal.timeout(ms)
  return signal == null ? t : AbortSignal.any([signal, t])
}

/**
 * Names a failure caused by `signal`: TimeoutError when a timeout fired,
 * AbortError when the caller aborted; other failures pass through unchanged.
 */
export function wrapAbort (err: unknown, signal: AbortSignal, what: string): unknown {
  if (!signal.aborted) return err
  const reason = signal.reason as { name?: string } | undefined
  if (reason?.name === 'TimeoutError') return new TimeoutError(`${what} timed out`, { cause: err })
  return new AbortError(`${what} aborted`, { cause: err })
}

export function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
