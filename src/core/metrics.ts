/**
 * A node's recent activity as time series for the live charts: jobs per
 * minute (served and requested), latency and agreement rate. Pure: the caller
 * passes timestamps in; memory is bounded (oldest samples dropped).
 */

export interface MetricSample {
  kind: 'served' | 'requested'
  /** ms since epoch when the job ended. */
  at: number
  ms: number
  /** Served: answered. Requested: accepted (false: failed with a named error). */
  ok: boolean
  /** Requested jobs: votes that agreed with / dissented from the accepted output. */
  agreeing?: number
  dissenting?: number
}

export interface MetricsBucket {
  /** Start of the bucket, ms since epoch. */
  start: number
  served: number
  requested: number
  failed: number
  /** Mean latency of the bucket's jobs (served and requested), ms; null when empty. */
  meanMs: number | null
  /** Agreeing votes / all votes of the bucket's requested jobs; null when none. */
  agreement: number | null
}

export interface MetricsSeries { bucketMs: number, buckets: MetricsBucket[] }

/** @default samples kept */
export const MAX_SAMPLES = 4096

export class NodeMetrics {
  private readonly samples: MetricSample[] = []
  private readonly max: number

  constructor (init: { maxSamples?: number } = {}) {
    this.max = init.maxSamples ?? MAX_SAMPLES
  }

  record (sample: MetricSample): void {
    this.samples.push(sample)
    if (this.samples.length > this.max) this.samples.splice(0, this.samples.length - this.max)
  }

  /** The last `buckets` buckets of `bucketMs` ending at `now`. @default 30 buckets of 60 s */
  series (options: { now?: number, bucketMs?: number, buckets?: number } = {}): MetricsSeries {
    const now = options.now ?? Date.now()
    const bucketMs = options.bucketMs ?? 60_000
    const n = options.buckets ?? 30
    const first = now - n * bucketMs
    const buckets: MetricsBucket[] = Array.from({ length: n }, (_, i) => ({ start: first + i * bucketMs, served: 0, requested: 0, failed: 0, meanMs: null, agreement: null }))
    const sums = buckets.map(() => ({ ms: 0, jobs: 0, agree: 0, votes: 0 }))
    for (const s of this.samples) {
      if (s.at < first || s.at >= now) continue
      const i = Math.floor((s.at - first) / bucketMs)
      const b = buckets[i]
      if (s.kind === 'served') b.served++
      else if (s.ok) b.requested++
      else b.failed++
      if (s.ok) { sums[i].ms += s.ms; sums[i].jobs++ }
      if (s.kind === 'requested' && s.ok) {
        sums[i].agree += s.agreeing ?? 0
        sums[i].votes += (s.agreeing ?? 0) + (s.dissenting ?? 0)
      }
    }
    buckets.forEach((b, i) => {
      b.meanMs = sums[i].jobs > 0 ? sums[i].ms / sums[i].jobs : null
      b.agreement = sums[i].votes > 0 ? sums[i].agree / sums[i].votes : null
    })
    return { bucketMs, buckets }
  }
}
