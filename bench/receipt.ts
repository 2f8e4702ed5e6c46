/**
 * The requester's receipt stage, receipt v1 (outputs embedded in the signed
 * text as base64) against v2 (the text commits to output hashes, the bytes
 * kept apart), on the OCR models' real outputs (onnxruntime-node), three
 * agreeing ballots as in a k=3 job. Rounds interleave the two versions, in
 * alternating order, so both see the same machine. Output hashes are
 * computed before the clock, as the requester computes them when outputs
 * arrive.
 *
 * Timed: build (the content checks, sign) + the canonical text, and for v2
 * the outputs map beside it: what `requester.ts` does between a quorum and
 * `finish`. Also timed: offline verification of each (v2 given its outputs).
 */
import { createJobSpec, jobIdOf } from '../src/consensus/job.js'
import { buildReceipt, receiptOutputsOf, serializeReceipt, verifyReceipt } from '../src/consensus/receipt.js'
import { signVote } from '../src/consensus/vote.js'
import { identityFromSeed, libp2pVerifier, signerFromPrivateKey } from '../src/network/keys.js'
import { resolveModel } from '../src/models/catalog.js'
import { createNodeRunner } from '../src/models/ort-node.js'
import { hashTensors, tensorsByteLength } from '../src/tensor/index.js'
import type { NamedTensors } from '../src/tensor/index.js'
import type { Ballot, Signer } from '../src/consensus/types.js'
import { summarize } from './stats.js'
import type { Series } from './stats.js'

export interface ReceiptPoint {
  model: string
  version: 1 | 2
  /** Bytes of output (all tensors). */
  outputBytes: number
  /** Characters of the canonical receipt text. */
  textChars: number
  /** build + serialize (+ outputs map), ms. */
  build: Series
  /** verifyReceipt, ms. */
  verify: Series
}

const MODELS = ['ocr-det', 'ocr-rec'] as const

export async function receiptSection (inputs: Record<string, NamedTensors>, rounds: number, log: (msg: string) => void = () => {}): Promise<ReceiptPoint[]> {
  const key = async (n: number): Promise<Signer> => signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(n)))
  const [requester, ...voters] = await Promise.all([40, 41, 42, 43].map(key))
  const points: ReceiptPoint[] = []
  for (const model of MODELS) {
    const resolved = await resolveModel(model)
    const runner = await createNodeRunner(resolved.bytes)
    const output = await runner.run(inputs[model])
    await runner.release()
    const outputHash = hashTensors(output)
    const now = Date.now()
    const spec = createJobSpec({
      modelHash: resolved.sha256, inputHash: hashTensors(inputs[model]), policy: resolved.entry?.policy ?? { kind: 'exact' }, replicas: 3, quorum: 2,
      requester: requester.peerId, nonce: '0123456789abcdef', createdAt: now, expiresAt: now + 60_000
    })
    const ballots: Ballot[] = await Promise.all(voters.map(async (s) => ({
      vote: await signVote(s, { jobId: jobIdOf(spec), modelHash: spec.modelHash, inputHash: spec.inputHash, outputHash, numericClass: 'ort-web/wasm/t1/chromium', signedAt: now + 10 }),
      output
    })))
    const build = async (version: 1 | 2): Promise<{ text: string, outputs?: Record<string, NamedTensors> }> => {
      const receipt = await buildReceipt({ spec, accepted: { output, outputHash }, ballots, agreeingPeers: voters.map(v => v.peerId), signer: requester, version })
      const text = serializeReceipt(receipt)
      return version === 2 ? { text, outputs: { ...receiptOutputsOf(receipt, output, ballots) } } : { text }
    }
    const times: Record<1 | 2, { build: number[], verify: number[], chars: number }> = { 1: { build: [], verify: [], chars: 0 }, 2: { build: [], verify: [], chars: 0 } }
    for (let round = 0; round < rounds; round++) {
      for (const version of (round % 2 === 0 ? [1, 2] : [2, 1]) as Array<1 | 2>) {
        const t0 = performance.now()
        const made = await build(version)
        const t1 = performance.now()
        const v = await verifyReceipt(made.text, libp2pVerifier, made.outputs !== undefined ? { outputs: made.outputs } : {})
        const t2 = performance.now()
        if (!v.ok) throw new Error(`${model} receipt v${version} does not verify: ${JSON.stringify(v.checks.filter(c => !c.ok))}`)
        times[version].build.push(t1 - t0)
        times[version].verify.push(t2 - t1)
        times[version].chars = made.text.length
      }
    }
    const outputBytes = tensorsByteLength(output)
    for (const version of [1, 2] as const) {
      points.push({ model, version, outputBytes, textChars: times[version].chars, build: summarize(times[version].build), verify: summarize(times[version].verify) })
    }
    log(`receipt ${model}: v1 ${summarize(times[1].build).median.toFixed(1)} ms, v2 ${summarize(times[2].build).median.toFixed(1)} ms`)
  }
  return points
}

/** The section as markdown rows. */
export function receiptMarkdown (points: readonly ReceiptPoint[] | undefined): string[] {
  if (points == null || points.length === 0) return []
  const lines = ['', 'Receipt stage, v1 (outputs in the signed text) against v2 (output hashes in the text, bytes apart), interleaved, median ms (onnxruntime-node outputs, 3 agreeing ballots):', '',
    '| model | output | version | text | build + text | verify offline |', '| --- | ---: | --- | ---: | ---: | ---: |']
  for (const p of points) {
    lines.push(`| ${p.model} | ${(p.outputBytes / 1024).toFixed(0)} KiB | v${p.version} | ${p.textChars < 10_000 ? `${p.textChars} chars` : `${(p.textChars / 1024).toFixed(0)} KiB`} | ${p.build.median.toFixed(1)} | ${p.verify.median.toFixed(1)} |`)
  }
  for (const model of new Set(points.map(p => p.model))) {
    const v1 = points.find(p => p.model === model && p.version === 1)
    const v2 = points.find(p => p.model === model && p.version === 2)
    if (v1 != null && v2 != null) lines.push(`| ${model} | | v1 / v2 | | ${(v1.build.median / v2.build.median).toFixed(1)}× | ${(v1.verify.median / v2.verify.median).toFixed(1)}× |`)
  }
  return lines
}
