/**
 * Fault injection for tests: a Node worker started with
 * `crosscheck worker --fault <kind>` (and CROSSCHECK_TEST_FAULTS=1 in its
 * environment) misbehaves on purpose so that canaries, escalation and
 * reputation can be exercised end to end. Browser peers have no such mode:
 * nothing a page load can set reaches this code.
 */
import { createTensor } from '../tensor/index.js'
import type { NamedTensors, Tensor } from '../tensor/index.js'
import type { JobSpec } from '../consensus/types.js'
import type { InferenceRuntime } from '../core/types.js'

export const FAULT_KINDS = ['always-wrong', 'collude', 'noise', 'slow', 'silent', 'copy', 'backend-bug'] as const
export type FaultKind = typeof FAULT_KINDS[number]

/** The environment switch without which `--fault` is refused. */
export const FAULTS_ENV = 'CROSSCHECK_TEST_FAULTS'

export function parseFault (value: string | undefined, env: Record<string, string | undefined>): FaultKind | undefined {
  if (value == null) return undefined
  if (env[FAULTS_ENV] !== '1') throw new Error(`--fault is a test-only switch: set ${FAULTS_ENV}=1 to enable it`)
  if (!(FAULT_KINDS as readonly string[]).includes(value)) throw new Error(`--fault must be one of ${FAULT_KINDS.join(', ')}`)
  return value as FaultKind
}

function shift (t: Tensor, delta: (i: number) => number): Tensor {
  if (t.data instanceof Float32Array || t.data instanceof Float64Array) {
    const data = t.data.slice()
    for (let i = 0; i < data.length; i++) data[i] += delta(i)
    return createTensor(t.dtype, t.dims, data)
  }
  if (t.data instanceof BigInt64Array) {
    const data = t.data.slice()
    for (let i = 0; i < data.length; i++) data[i] += 1n
    return createTensor(t.dtype, t.dims, data)
  }
  const data = t.data.slice()
  for (let i = 0; i < data.length; i++) data[i] = (data[i] + 1) & 0x7f
  return createTensor(t.dtype, t.dims, data)
}

function mapOutputs (outputs: NamedTensors, delta: (i: number) => number): NamedTensors {
  const out: NamedTensors = {}
  for (const [name, t] of Object.entries(outputs)) out[name] = shift(t, delta)
  return out
}

/** Float outputs off by 5 % (far outside any tolerance, near miss included), others as `shift`: the same on every peer. */
function skew (outputs: NamedTensors): NamedTensors {
  const out: NamedTensors = {}
  for (const [name, t] of Object.entries(outputs)) {
    out[name] = t.data instanceof Float32Array || t.data instanceof Float64Array
      ? shift(t, (i) => 0.05 * Number(t.data[i]) + 1e-3)
      : shift(t, () => 1)
  }
  return out
}

export interface FaultContext {
  spec: JobSpec
  /** Runs the model honestly. */
  honest: () => Promise<NamedTensors>
  /** Resolves when the job is abandoned by the requester. */
  signal: AbortSignal
}

/** Wraps a worker's honest computation according to `kind`. */
export function createFault (kind: FaultKind): (ctx: FaultContext) => Promise<NamedTensors> {
  const lastByModel = new Map<string, NamedTensors>()
  const sleep = async (ms: number, signal: AbortSignal): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, ms)
      signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) }, { once: true })
    })
  }
  return async ({ spec, honest, signal }) => {
    switch (kind) {
      case 'always-wrong':
        return mapOutputs(await honest(), () => 1)
      case 'backend-bug':
        // not a liar: a runtime bug (a driver, a miscompiled build) that every
        // peer on the backend shares, so its peers agree with each other
        return skew(await honest())
      case 'collude':
        // cheats only when it alone holds the quorum; the wrong answer is a
        // fixed function of the right one, so colluders would agree on it
        return spec.quorum <= 1 ? mapOutputs(await honest(), () => 0.5) : await honest()
      case 'noise':
        return mapOutputs(await honest(), () => (Math.random() - 0.5) * 0.02)
      case 'slow':
        await sleep(45_000, signal)
        return await honest()
      case 'silent':
        await sleep(24 * 3600_000, signal)
        return await honest()
      case 'copy': {
        // lazy: answers every job for a model with its first answer
        const prior = lastByModel.get(spec.modelHash)
        if (prior != null) return prior
        const out = await honest()
        lastByModel.set(spec.modelHash, out)
        return out
      }
    }
  }
}

/**
 * A runtime that misbehaves as `kind` on job runs (runs without a job, such as
 * canaries' known answers, stay honest). Test-only: `crosscheck worker --fault`.
 */
export function faultyRuntime (inner: InferenceRuntime, kind: FaultKind): InferenceRuntime {
  const fault = createFault(kind)
  return {
    probe: async (o) => await inner.probe(o),
    hasModel: async (sha, o) => await inner.hasModel(sha, o),
    loadModel: async (sha, bytes, o) => { await inner.loadModel(sha, bytes, o) },
    close: async () => { await inner.close() },
    run: async (sha, inputs, options = {}) => {
      const job = options.job
      if (job == null) return await inner.run(sha, inputs, options)
      const t0 = performance.now()
      let numericClass = ''
      const outputs = await fault({
        spec: job,
        signal: options.signal ?? new AbortController().signal,
        honest: async () => { const r = await inner.run(sha, inputs, options); numericClass = r.numericClass; return r.outputs }
      })
      if (numericClass === '') numericClass = (await inner.probe()).numericClass
      return { outputs, ms: performance.now() - t0, numericClass }
    }
  }
}
