/**
 * At most `limit` job requests in flight to one peer; the rest wait their
 * turn (first come, first served). A worker resets job streams beyond its
 * inbound limit (8 per connection by default) and cannot say "busy" any other
 * way, so a requester with 20 jobs for one peer at once saw a third of them
 * reset and fail (issue 8, load test). Workers run jobs one at a time anyway:
 * waiting here costs no throughput.
 *
 * @example
 * ```ts
 * const limiter = new PeerLimiter(4)
 * const release = await limiter.acquire(peerId, { signal })
 * try { await send() } finally { release() }
 * ```
 */
import { AbortError } from '../../../errors.js'
import type { AbortOptions } from '../../../abort.js'

interface Waiter { grant: () => void }

export class PeerLimiter {
  private readonly active = new Map<string, number>()
  private readonly waiting = new Map<string, Waiter[]>()

  constructor (readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`)
  }

  /** Requests in flight to `peerId` now. */
  inFlight (peerId: string): number { return this.active.get(peerId) ?? 0 }

  /** Requests waiting for a turn with `peerId` now. */
  queued (peerId: string): number { return this.waiting.get(peerId)?.length ?? 0 }

  /**
   * Resolves with a release function once a slot for `peerId` is free; rejects
   * with the signal's reason (or an AbortError) if aborted while waiting.
   */
  async acquire (peerId: string, options: AbortOptions = {}): Promise<() => void> {
    const { signal } = options
    if (signal?.aborted === true) throw signal.reason ?? new AbortError('aborted while waiting for a job slot')
    if (this.inFlight(peerId) < this.limit) return this.take(peerId)
    return await new Promise<() => void>((resolve, reject) => {
      const onAbort = (): void => {
        const queue = this.waiting.get(peerId) ?? []
        const i = queue.indexOf(waiter)
        if (i >= 0) queue.splice(i, 1)
        if (queue.length === 0) this.waiting.delete(peerId)
        reject(signal?.reason ?? new AbortError('aborted while waiting for a job slot'))
      }
      const waiter: Waiter = { grant: () => { signal?.removeEventListener('abort', onAbort); resolve(this.take(peerId)) } }
      signal?.addEventListener('abort', onAbort, { once: true })
      const queue = this.waiting.get(peerId) ?? []
      queue.push(waiter)
      this.waiting.set(peerId, queue)
    })
  }

  private take (peerId: string): () => void {
    this.active.set(peerId, this.inFlight(peerId) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = this.inFlight(peerId) - 1
      if (left > 0) this.active.set(peerId, left)
      else this.active.delete(peerId)
      const queue = this.waiting.get(peerId)
      const next = queue?.shift()
      if (queue?.length === 0) this.waiting.delete(peerId)
      next?.grant()
    }
  }
}
