/**
 * A worker's outputs of jobs it answered with the signed vote alone
 * (`sendOutput: false`): kept for the requester to fetch with an `output`
 * request if it needs them (no other replica sent the same bytes, or it
 * must compare them under a tolerance). Bounded in bytes and time; oldest go
 * first.
 */
import { OutputNotHeldError } from '../errors.js'
import { tensorsByteLength } from '../tensor/index.js'
import type { NamedTensors } from '../tensor/index.js'

/** @default 64 MiB of output bytes held at most. */
export const DEFAULT_HELD_OUTPUT_BYTES = 64 * 1024 * 1024
/** @default 60 s: held outputs older than this are dropped (a requester asks within its job's time). */
export const DEFAULT_HELD_OUTPUT_MS = 60_000

export interface HeldOutputsInit {
  /** @default DEFAULT_HELD_OUTPUT_BYTES */
  maxBytes?: number
  /** @default DEFAULT_HELD_OUTPUT_MS */
  ttlMs?: number
  /** @default Date.now */
  now?: () => number
}

interface Held { requester: string, outputs: NamedTensors, bytes: number, at: number }

export class HeldOutputs {
  private readonly held = new Map<string, Held>()
  private bytes = 0
  private readonly maxBytes: number
  private readonly ttlMs: number
  private readonly now: () => number

  constructor (init: HeldOutputsInit = {}) {
    this.maxBytes = init.maxBytes ?? DEFAULT_HELD_OUTPUT_BYTES
    this.ttlMs = init.ttlMs ?? DEFAULT_HELD_OUTPUT_MS
    this.now = init.now ?? Date.now
  }

  /** Holds `outputs` of `jobId` for `requester` (an output larger than the whole budget is not held). */
  hold (jobId: string, requester: string, outputs: NamedTensors): void {
    this.expire()
    const bytes = tensorsByteLength(outputs)
    this.drop(jobId)
    if (bytes > this.maxBytes) return
    while (this.bytes + bytes > this.maxBytes) this.drop(this.held.keys().next().value as string)
    this.held.set(jobId, { requester, outputs, bytes, at: this.now() })
    this.bytes += bytes
  }

  /** The outputs held for `requester`'s job. Throws OutputNotHeldError (another requester's job counts as not held). */
  get (jobId: string, requester: string): NamedTensors {
    this.expire()
    const h = this.held.get(jobId)
    if (h === undefined || h.requester !== requester) throw new OutputNotHeldError(`no outputs held for job ${jobId.slice(0, 12)}`)
    return h.outputs
  }

  get size (): number { return this.held.size }
  get heldBytes (): number { return this.bytes }

  private drop (jobId: string): void {
    const h = this.held.get(jobId)
    if (h === undefined) return
    this.held.delete(jobId)
    this.bytes -= h.bytes
  }

  private expire (): void {
    const cutoff = this.now() - this.ttlMs
    // insertion order is age order
    for (const [jobId, h] of this.held) {
      if (h.at > cutoff) break
      this.drop(jobId)
    }
  }
}
