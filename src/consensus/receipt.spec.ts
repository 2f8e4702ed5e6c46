import { beforeAll, describe, expect, it } from 'vitest'
import { identityFromSeed, libp2pVerifier, signerFromPrivateKey } from '../network/keys.js'
import { canonicalBytes, createTensor, hashTensors } from '../tensor/index.js'
import { createJobSpec, jobIdOf } from './job.js'
import { assertValidReceipt, buildReceipt, parseReceipt, parseReceiptOutputs, receiptOutput, receiptOutputsOf, receiptSigningBytes, serializeReceipt, serializeReceiptOutputs, verifyReceipt } from './receipt.js'
import { tally } from './tally.js'
import { CLASS_NODE, CLASS_WEB, f32, f64, out } from './test-fixtures.js'
import { toBase64 } from './util.js'
import { signVote } from './vote.js'
import type { Receipt, ReceiptVerification } from './receipt.js'
import type { Ballot, ComparisonPolicy, JobSpec, Signer } from './types.js'
import type { NamedTensors } from '../tensor/index.js'

const T0 = 1_700_000_000_000
let requester: Signer
let alice: Signer
let bob: Signer
let carol: Signer
let dave: Signer

beforeAll(async () => {
  const key = async (n: number): Promise<Signer> => signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(n)))
  ;[requester, alice, bob, carol, dave] = await Promise.all([key(10), key(11), key(12), key(13), key(14)])
})

function makeSpec (policy: ComparisonPolicy, over: Partial<JobSpec> = {}): JobSpec {
  return createJobSpec({
    modelHash: 'ab'.repeat(32),
    inputHash: 'cd'.repeat(32),
    policy,
    replicas: 3,
    quorum: 2,
    requester: requester.peerId,
    nonce: '0123456789abcdef',
    createdAt: T0,
    expiresAt: T0 + 60_000,
    ...over
  })
}

async function ballot (signer: Signer, spec: JobSpec, output: NamedTensors, numericClass = CLASS_WEB, signedAt = T0 + 1000): Promise<Ballot> {
  const vote = await signVote(signer, { jobId: jobIdOf(spec), modelHash: spec.modelHash, inputHash: spec.inputHash, outputHash: hashTensors(output), numericClass, signedAt })
  return { vote, output }
}

/** Older (v1) receipts by default: they embed their outputs, and must go on verifying exactly as before. */
async function receiptFor (spec: JobSpec, ballots: Ballot[], version: 1 | 2 = 1): Promise<Receipt> {
  const r = tally({ ballots, policy: spec.policy, quorum: spec.quorum })
  if (r.status !== 'accepted') throw new Error(`tally ${r.status}`)
  return await buildReceipt({ spec, jobId: jobIdOf(spec), accepted: r, ballots, agreeingPeers: r.agreeing.map((b) => b.vote.body.peerId), signer: requester, version })
}

/** What a dishonest requester can do: edit anything and sign again. */
async function resign (r: Receipt, signer = requester): Promise<string> {
  const signed = { ...r, signature: toBase64(await signer.sign(receiptSigningBytes(r))) }
  return serializeReceipt(signed)
}

const failed = (v: ReceiptVerification): string[] => v.checks.filter((c) => !c.ok).map((c) => c.name)

// Output with -0 and NaN: both must survive the receipt bit for bit.
const OA = { scores: createTensor('float32', [1, 3], Float32Array.from([0.5, -0, NaN])), label: createTensor('int64', [1], BigInt64Array.from([2n ** 60n + 1n])) }
const OB = { scores: createTensor('float32', [1, 3], Float32Array.from([0.5004, 0, NaN])), label: createTensor('int64', [1], BigInt64Array.from([2n ** 60n + 1n])) }
const OC = { scores: createTensor('float32', [1, 3], Float32Array.from([0.1, 0.2, 0.3])), label: createTensor('int64', [1], BigInt64Array.from([7n])) }
const TOL: ComparisonPolicy = { kind: 'tolerance', atol: 1e-3, rtol: 0 }

describe('v1 receipt round trip (outputs embedded)', () => {
  let spec: JobSpec
  let receipt: Receipt
  let text: string
  beforeAll(async () => {
    // alice and dave return OA, bob a slightly different OB, carol something else: OA is the centre
    spec = makeSpec(TOL, { replicas: 4 })
    receipt = await receiptFor(spec, [await ballot(alice, spec, OA), await ballot(bob, spec, OB), await ballot(carol, spec, OC), await ballot(dave, spec, OA)])
    text = serializeReceipt(receipt)
  })

  it('verifies with every check passing', async () => {
    const v = await verifyReceipt(text, libp2pVerifier)
    expect(failed(v)).toEqual([])
    expect(v.ok).toBe(true)
    expect(v.checks.map((c) => c.name)).toEqual(['format', 'canonical', 'jobId', 'output', 'agreement', 'quorum', 'vote', 'vote', 'vote', 'vote', 'requester'])
    expect((await assertValidReceipt(text, libp2pVerifier)).jobId).toBe(jobIdOf(spec))
  })

  it('records the spec, all votes, and the output of an agreeing vote with another hash only', () => {
    const parsed = parseReceipt(text)
    expect(parsed.spec).toEqual(spec)
    expect(parsed.jobId).toBe(jobIdOf(spec))
    expect(parsed.accepted.outputHash).toBe(hashTensors(OA))
    expect(parsed.accepted.numericClass).toBe(CLASS_WEB)
    const byPeer = new Map(parsed.votes.map((v) => [v.body.peerId, v]))
    expect(byPeer.get(alice.peerId)).toMatchObject({ agrees: true })
    expect(byPeer.get(alice.peerId)?.output).toBeUndefined()
    expect(byPeer.get(bob.peerId)).toMatchObject({ agrees: true })
    expect(byPeer.get(bob.peerId)?.output).toBeDefined()
    expect(byPeer.get(carol.peerId)).toMatchObject({ agrees: false })
    expect(byPeer.get(carol.peerId)?.output).toBeUndefined()
    expect(byPeer.get(dave.peerId)).toMatchObject({ agrees: true })
    expect(parsed.votes.map((v) => v.body.peerId)).toEqual([...parsed.votes.map((v) => v.body.peerId)].sort())
  })

  it('round-trips the accepted output bit for bit (NaN, -0, int64 beyond 2^53)', () => {
    const back = receiptOutput(parseReceipt(text))
    expect(canonicalBytes(back)).toEqual(canonicalBytes(OA))
    expect(Object.is(back.scores.data[1], -0)).toBe(true)
    expect(back.label.data[0]).toBe(2n ** 60n + 1n)
    expect(serializeReceipt(parseReceipt(text))).toBe(text)
  })

  it('is old-proof: no failure long after expiry; `now` adds a time check', async () => {
    const v = await verifyReceipt(text, libp2pVerifier, { now: T0 + 10 * 365 * 24 * 3600_000 })
    expect(v.ok).toBe(true)
    expect(v.checks.at(-1)).toEqual({ name: 'time', ok: true })
    const early = await verifyReceipt(text, libp2pVerifier, { now: T0 - 3600_000 })
    expect(failed(early)).toEqual(['time'])
  })

  it('any spelling other than the canonical one fails `canonical`', async () => {
    const variants = [
      JSON.stringify(JSON.parse(text)),
      JSON.stringify(JSON.parse(text), null, 2),
      JSON.stringify(JSON.parse(text), null, 4) + '\n',
      text.replace(/\n/g, '\r\n'),
      text + '\n',
      ' ' + text,
      text.replace(`"v": 1,`, `"v": 1.0,`),
      text.replace(`"quorum": 2`, `"quorum": 2e0`),
      text.replace('"type": "crosscheck/receipt"', '"type": "crosscheck\\/receipt"')
    ]
    for (const variant of variants) {
      const v = await verifyReceipt(variant, libp2pVerifier)
      expect(v.ok).toBe(false)
      expect(failed(v)).toContain('canonical')
    }
    const reordered = serializeReceipt(JSON.parse(text) as Receipt).replace(/^\{\n {2}"v": 1,\n {2}"type": "crosscheck\/receipt",/, '{\n  "type": "crosscheck/receipt",\n  "v": 1,')
    expect(reordered).not.toBe(text)
    expect(failed(await verifyReceipt(reordered, libp2pVerifier))).toEqual(['canonical'])
  })

  it('uppercase hex and non-canonical base64 fail `format`', async () => {
    const upper = text.replace(jobIdOf(spec), jobIdOf(spec).toUpperCase())
    expect(failed(await verifyReceipt(upper, libp2pVerifier))).toEqual(['format'])
    // base64 of one byte has 4 unused bits: "AQ==" is 0x01, "AR==" decodes to 0x01 too but is not canonical
    const sig = parseReceipt(text).signature
    const pk = parseReceipt(text).requesterPublicKey // 36 bytes: no padding, so use the signature (64 bytes: "==" padding)
    expect(pk.endsWith('=')).toBe(false)
    expect(sig.endsWith('==')).toBe(true)
    const last = sig.at(-3) as string
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
    const twin = alphabet[alphabet.indexOf(last) ^ 1] // differs only in the 4 discarded bits
    const bad = text.replace(sig, sig.slice(0, -3) + twin + '==')
    const v = await verifyReceipt(bad, libp2pVerifier)
    expect(failed(v)).toEqual(['format'])
    expect(v.checks[0].detail).toMatch(/base64/)
  })

  it('junk input fails `format` only', async () => {
    for (const junk of ['', 'not json', '[]', '{}', 'null', '{"v":1}']) {
      const v = await verifyReceipt(junk, libp2pVerifier)
      expect(v).toMatchObject({ ok: false, checks: [{ name: 'format', ok: false }] })
    }
    await expect(assertValidReceipt('{}', libp2pVerifier)).rejects.toMatchObject({ name: 'ReceiptInvalidError', check: 'format' })
  })
})

describe('v1 receipt tamper resistance', () => {
  it('flipping ANY byte (xor 0x01, or replacing it with a space) fails verification', async () => {
    const spec = makeSpec({ kind: 'exact' }, { replicas: 2, quorum: 2 })
    const small = out(f32([1.5]))
    const text = serializeReceipt(await receiptFor(spec, [await ballot(alice, spec, small), await ballot(bob, spec, small)]))
    expect((await verifyReceipt(text, libp2pVerifier)).ok).toBe(true)
    const bytes = new TextEncoder().encode(text)
    expect(bytes.length).toBe(text.length) // ASCII only, so bytes and characters line up
    const survivors: string[] = []
    for (let i = 0; i < bytes.length; i++) {
      const flipped = Uint8Array.from(bytes)
      flipped[i] ^= 0x01
      if (!(await verifyReceipt(new TextDecoder().decode(flipped), libp2pVerifier)).ok) continue
      survivors.push(`xor at ${i}`)
    }
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0x20) continue // already a space: not a change
      const spaced = Uint8Array.from(bytes)
      spaced[i] = 0x20
      if (!(await verifyReceipt(new TextDecoder().decode(spaced), libp2pVerifier)).ok) continue
      survivors.push(`space at ${i}`)
    }
    expect(survivors).toEqual([])
  }, 120_000)

  it('replay: a vote cast for another job fails its `vote` check (and buildReceipt refuses it)', async () => {
    const spec = makeSpec(TOL)
    const other = makeSpec(TOL, { nonce: 'fedcba9876543210' })
    const replayed = await ballot(bob, other, OA)
    const honest = await ballot(alice, spec, OA)
    await expect(buildReceipt({ spec, accepted: { output: OA, outputHash: hashTensors(OA), numericClass: CLASS_WEB }, ballots: [honest, replayed], agreeingPeers: [alice.peerId, bob.peerId], signer: requester }))
      .rejects.toMatchObject({ name: 'ReceiptInvalidError', check: 'vote' })
    // a dishonest requester splices the replayed vote into a valid receipt and signs again
    const good = await receiptFor(spec, [honest, await ballot(bob, spec, OA), await ballot(carol, spec, OA)])
    const bobsOld = { body: replayed.vote.body, signature: toBase64(replayed.vote.signature), publicKey: toBase64(replayed.vote.publicKey), agrees: true }
    const forged = await resign({ ...good, votes: good.votes.map((v) => (v.body.peerId === bob.peerId ? bobsOld : v)) })
    const v = await verifyReceipt(forged, libp2pVerifier)
    expect(failed(v)).toEqual(['vote'])
    expect(v.checks.find((c) => !c.ok)?.detail).toMatch(/jobId mismatch/)
    await expect(assertValidReceipt(forged, libp2pVerifier)).rejects.toMatchObject({ name: 'ReceiptInvalidError', check: 'vote' })
  })

  describe('a dishonest requester who re-signs', () => {
    let spec: JobSpec
    let good: Receipt
    beforeAll(async () => {
      spec = makeSpec(TOL, { replicas: 4 })
      good = await receiptFor(spec, [await ballot(alice, spec, OA), await ballot(bob, spec, OB), await ballot(carol, spec, OC), await ballot(dave, spec, OA)])
      expect(good.accepted.outputHash).toBe(hashTensors(OA))
    })

    it('cannot count a dissenting vote as agreeing', async () => {
      const forged = await resign({
        ...good,
        votes: good.votes.map((v) => (v.body.peerId === carol.peerId ? { ...v, agrees: true, output: (parseReceipt(serializeReceipt(good)).accepted.output ?? []).map((t) => ({ ...t })) } : v))
      })
      // carol's "output" is the accepted one, which does not hash to her outputHash
      expect(failed(await verifyReceipt(forged, libp2pVerifier))).toEqual(['vote'])
    })

    it('cannot count a dissenting vote as agreeing even with its real output', async () => {
      const withOwn = await buildReceiptUnchecked(good, carol.peerId, OC)
      expect(failed(await verifyReceipt(withOwn, libp2pVerifier))).toEqual(['agreement'])
    })

    it('cannot drop below quorum', async () => {
      const forged = await resign({ ...good, votes: good.votes.filter((v) => v.body.peerId !== bob.peerId && v.body.peerId !== dave.peerId) })
      expect(failed(await verifyReceipt(forged, libp2pVerifier))).toEqual(['quorum'])
    })

    it('cannot edit the spec: the job id no longer matches', async () => {
      const forged = await resign({ ...good, spec: { ...good.spec, replicas: 5 } })
      expect(failed(await verifyReceipt(forged, libp2pVerifier))).toEqual(['jobId'])
      const loosened = await resign({ ...good, spec: { ...good.spec, policy: { kind: 'tolerance', atol: 1, rtol: 1 } } })
      expect(failed(await verifyReceipt(loosened, libp2pVerifier))).toEqual(['jobId'])
    })

    it('cannot swap the accepted output or claim a class no voter used', async () => {
      const swapped = await resign({ ...good, accepted: { ...good.accepted, output: parseReceipt(serializeReceipt(good)).votes.find((v) => v.output !== undefined)?.output ?? [] } })
      expect(failed(await verifyReceipt(swapped, libp2pVerifier))).toContain('output')
      const classless = await resign({ ...good, accepted: { ...good.accepted, numericClass: CLASS_NODE } })
      expect(failed(await verifyReceipt(classless, libp2pVerifier))).toEqual(['output'])
    })

    it('cannot move a signature to another vote', async () => {
      const sigs = good.votes.map((v) => v.signature)
      const forged = await resign({ ...good, votes: good.votes.map((v, i) => ({ ...v, signature: sigs[(i + 1) % sigs.length] })) })
      expect(failed(await verifyReceipt(forged, libp2pVerifier))).toEqual(['vote', 'vote', 'vote', 'vote'])
    })

    it('cannot sign with a key other than spec.requester', async () => {
      const forged = await resign(good, dave)
      expect(failed(await verifyReceipt(forged, libp2pVerifier))).toEqual(['requester'])
      const keySwapped = await resign({ ...good, requesterPublicKey: toBase64(dave.publicKey) }, dave)
      const v = await verifyReceipt(keySwapped, libp2pVerifier)
      expect(failed(v)).toEqual(['requester'])
      expect(v.checks.find((c) => c.name === 'requester')?.detail).toMatch(/spec.requester/)
    })

    it('cannot include a vote signed after the job expired', async () => {
      // carol "changes her mind" after the deadline and her late vote replaces the dissent
      const late = await ballot(carol, spec, OA, CLASS_WEB, spec.expiresAt + 1)
      const lateVote = { body: late.vote.body, signature: toBase64(late.vote.signature), publicKey: toBase64(late.vote.publicKey), agrees: true }
      const forged = await resign({ ...good, votes: good.votes.map((v) => (v.body.peerId === carol.peerId ? lateVote : v)) })
      const v = await verifyReceipt(forged, libp2pVerifier)
      expect(failed(v)).toEqual(['vote'])
      expect(v.checks.find((c) => !c.ok)?.detail).toMatch(/expired/)
    })

    it('cannot hide a rival quorum among dissenting votes', async () => {
      const spec1 = makeSpec(TOL, { quorum: 1 })
      const honest = await buildReceipt({
        spec: spec1,
        accepted: { output: OA, outputHash: hashTensors(OA), numericClass: CLASS_WEB },
        ballots: [await ballot(alice, spec1, OA), await ballot(bob, spec1, OA)],
        agreeingPeers: [alice.peerId, bob.peerId],
        signer: requester,
        version: 1
      })
      expect((await verifyReceipt(serializeReceipt(honest), libp2pVerifier)).ok).toBe(true)
      const c = await ballot(carol, spec1, OC)
      const withRival = await resign({ ...honest, votes: [...honest.votes, { body: c.vote.body, signature: toBase64(c.vote.signature), publicKey: toBase64(c.vote.publicKey), agrees: false }] })
      expect(failed(await verifyReceipt(withRival, libp2pVerifier))).toEqual(['quorum'])
    })
    it('a dissent raises the bar: 2 agreeing against 1 dissenting fails, 3 against 1 passes', async () => {
      const base = await buildReceipt({
        spec,
        accepted: { output: OA, outputHash: hashTensors(OA), numericClass: CLASS_WEB },
        ballots: [await ballot(alice, spec, OA), await ballot(bob, spec, OA)],
        agreeingPeers: [alice.peerId, bob.peerId],
        signer: requester,
        version: 1
      })
      const c = await ballot(carol, spec, OC)
      const dissent = { body: c.vote.body, signature: toBase64(c.vote.signature), publicKey: toBase64(c.vote.publicKey), agrees: false }
      const twoVsOne = await resign({ ...base, votes: [...base.votes, dissent].sort((x, y) => (x.body.peerId < y.body.peerId ? -1 : 1)) })
      const v = await verifyReceipt(twoVsOne, libp2pVerifier)
      expect(failed(v)).toEqual(['quorum'])
      expect(v.checks.find((x) => x.name === 'quorum')?.detail).toMatch(/needs 3/)
      const d = await ballot(dave, spec, OA)
      const threeVsOne = await resign({ ...base, votes: [...base.votes, dissent, { body: d.vote.body, signature: toBase64(d.vote.signature), publicKey: toBase64(d.vote.publicKey), agrees: true }].sort((x, y) => (x.body.peerId < y.body.peerId ? -1 : 1)) })
      expect((await verifyReceipt(threeVsOne, libp2pVerifier)).ok).toBe(true)
    })
  })

  /** Marks `peer` as agreeing with its real output embedded, bypassing buildReceipt's checks. */
  async function buildReceiptUnchecked (r: Receipt, peer: string, output: NamedTensors): Promise<string> {
    const tensors = Object.keys(output).sort().map((name) => {
      const t = output[name]
      return { name, dtype: t.dtype, dims: t.dims, data: toBase64(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)) }
    })
    return await resign({ ...r, votes: r.votes.map((v) => (v.body.peerId === peer ? { ...v, agrees: true, output: tensors } : v)) })
  }
})

describe('buildReceipt', () => {
  it('refuses a signer other than spec.requester, a missing quorum, or an agreeing peer without a ballot', async () => {
    const spec = makeSpec(TOL)
    const a = await ballot(alice, spec, OA)
    const b = await ballot(bob, spec, OA)
    const accepted = { output: OA, outputHash: hashTensors(OA), numericClass: CLASS_WEB }
    await expect(buildReceipt({ spec, accepted, ballots: [a, b], agreeingPeers: [alice.peerId, bob.peerId], signer: dave }))
      .rejects.toMatchObject({ name: 'ReceiptInvalidError', check: 'requester' })
    await expect(buildReceipt({ spec, accepted, ballots: [a, b], agreeingPeers: [alice.peerId], signer: requester }))
      .rejects.toMatchObject({ name: 'ReceiptInvalidError', check: 'quorum' })
    await expect(buildReceipt({ spec, accepted, ballots: [a], agreeingPeers: [alice.peerId, bob.peerId], signer: requester }))
      .rejects.toMatchObject({ name: 'ReceiptInvalidError', check: 'vote' })
    await expect(buildReceipt({ spec, accepted, ballots: [a, a], agreeingPeers: [alice.peerId], signer: requester }))
      .rejects.toMatchObject({ name: 'ReceiptInvalidError', check: 'vote' })
    await expect(buildReceipt({ spec, jobId: 'f'.repeat(64), accepted, ballots: [a, b], agreeingPeers: [alice.peerId, bob.peerId], signer: requester }))
      .rejects.toMatchObject({ name: 'ReceiptInvalidError', check: 'jobId' })
    await expect(buildReceipt({ spec, accepted: { ...accepted, outputHash: hashTensors(OC) }, ballots: [a, b], agreeingPeers: [alice.peerId, bob.peerId], signer: requester }))
      .rejects.toMatchObject({ name: 'ReceiptInvalidError' })
  })

  it('exact policy across numeric classes: the cross-class vote carries its output and re-checks', async () => {
    const spec = makeSpec({ kind: 'exact' })
    const web = out(f64([1, 2]))
    const node = out(f64([1 + 1e-6, 2]))
    const ballots = [await ballot(alice, spec, web, CLASS_WEB), await ballot(bob, spec, web, CLASS_WEB), await ballot(carol, spec, node, CLASS_NODE)]
    const text = serializeReceipt(await receiptFor(spec, ballots))
    const v = await verifyReceipt(text, libp2pVerifier)
    expect(failed(v)).toEqual([])
    expect(parseReceipt(text).votes.filter((x) => x.output !== undefined).map((x) => x.body.peerId)).toEqual([carol.peerId])
    // claiming the accepted bytes were computed in the node class: no node-class vote produced them
    const r = parseReceipt(text)
    const forged = await resign({ ...r, accepted: { ...r.accepted, numericClass: CLASS_NODE } })
    expect(failed(await verifyReceipt(forged, libp2pVerifier))).toContain('output')
  })

  it('works out the accepted numeric class when the caller leaves it out', async () => {
    const spec = makeSpec({ kind: 'exact' })
    const web = out(f64([1, 2]))
    const node = out(f64([1 + 1e-6, 2]))
    const ballots = [await ballot(alice, spec, web, CLASS_WEB), await ballot(bob, spec, node, CLASS_NODE), await ballot(carol, spec, node, CLASS_WEB)]
    // centre: `web` in CLASS_WEB; carol's `node` bytes in CLASS_WEB disagree with it exactly
    const r = tally({ ballots: ballots.slice(0, 2), policy: spec.policy, quorum: 2 })
    expect(r.status).toBe('accepted')
    if (r.status !== 'accepted') return
    const receipt = await buildReceipt({ spec, accepted: { output: r.output, outputHash: r.outputHash }, ballots: ballots.slice(0, 2), agreeingPeers: r.agreeing.map((b) => b.vote.body.peerId), signer: requester })
    expect(receipt.accepted.numericClass).toBe(r.numericClass)
    expect((await verifyReceipt(serializeReceipt(receipt), libp2pVerifier, { outputs: receiptOutputsOf(receipt, r.output, ballots) })).ok).toBe(true)
  })
})

describe('v2 receipts: outputs committed to by hash, bytes apart', () => {
  let spec: JobSpec
  let ballots: Ballot[]
  let receipt: Receipt
  let text: string
  let outputs: Record<string, NamedTensors>
  beforeAll(async () => {
    // alice and dave return OA, bob a slightly different OB (agrees within tolerance), carol dissents
    spec = makeSpec(TOL, { replicas: 4 })
    ballots = [await ballot(alice, spec, OA), await ballot(bob, spec, OB), await ballot(carol, spec, OC), await ballot(dave, spec, OA)]
    receipt = await receiptFor(spec, ballots, 2)
    text = serializeReceipt(receipt)
    outputs = { ...receiptOutputsOf(receipt, OA, ballots) }
  })

  it('is written by default, carries no output bytes, and verifies with its outputs', async () => {
    const r = tally({ ballots, policy: spec.policy, quorum: spec.quorum })
    if (r.status !== 'accepted') throw new Error('expected accepted')
    const byDefault = await buildReceipt({ spec, accepted: r, ballots, agreeingPeers: r.agreeing.map((b) => b.vote.body.peerId), signer: requester })
    expect(byDefault.v).toBe(2)
    const parsed = parseReceipt(text)
    expect(parsed.v).toBe(2)
    expect(parsed.accepted).toEqual({ outputHash: hashTensors(OA), numericClass: CLASS_WEB })
    expect(parsed.votes.every((v) => v.output === undefined)).toBe(true)
    expect(text).not.toContain('"data"')
    // the accepted output and bob's (agreed with other bytes); not carol's (dissented)
    expect(Object.keys(outputs).sort()).toEqual([hashTensors(OA), hashTensors(OB)].sort())
    const v = await verifyReceipt(text, libp2pVerifier, { outputs })
    expect(failed(v)).toEqual([])
    expect(v.checks.map((c) => c.name)).toEqual(['format', 'canonical', 'outputs', 'jobId', 'output', 'agreement', 'quorum', 'vote', 'vote', 'vote', 'vote', 'requester'])
    expect(canonicalBytes(receiptOutput(parsed, outputs))).toEqual(canonicalBytes(OA))
  })

  it('stays a few KiB however large the output (the v1 text grows with it)', async () => {
    const big = { y: createTensor('float32', [1, 65536], new Float32Array(65536).fill(0.25)) }
    const s = makeSpec({ kind: 'exact' })
    const bs = [await ballot(alice, s, big), await ballot(bob, s, big)]
    const v2 = serializeReceipt(await receiptFor(s, bs, 2))
    const v1 = serializeReceipt(await receiptFor(s, bs, 1))
    expect(v2.length).toBeLessThan(8 * 1024)
    expect(v1.length).toBeGreaterThan(65536 * 4)
    // equal hashes agree under every policy: nothing to re-check, no bytes needed
    expect(failed(await verifyReceipt(v2, libp2pVerifier))).toEqual([])
  })

  it('without the bytes, a vote that agreed with other bytes cannot be re-checked: `agreement` says so', async () => {
    const v = await verifyReceipt(text, libp2pVerifier)
    expect(failed(v)).toEqual(['agreement'])
    expect(v.checks.find((c) => c.name === 'agreement')?.detail).toMatch(/needs the receipt's outputs/)
    expect(v.checks.find((c) => c.name === 'output')).toMatchObject({ ok: true, detail: expect.stringMatching(/by hash/) })
    // the accepted bytes alone are not enough either
    const onlyAccepted = { [hashTensors(OA)]: OA }
    expect(failed(await verifyReceipt(text, libp2pVerifier, { outputs: onlyAccepted }))).toEqual(['agreement'])
    expect(() => receiptOutput(parseReceipt(text))).toThrow(expect.objectContaining({ name: 'ReceiptOutputMissingError', outputHash: hashTensors(OA) }))
  })

  it('bytes that are not what the receipt commits to fail `outputs` and are not used', async () => {
    const swapped = { [hashTensors(OA)]: OB, [hashTensors(OB)]: OB }
    const v = await verifyReceipt(text, libp2pVerifier, { outputs: swapped })
    expect(failed(v)).toEqual(['outputs', 'agreement'])
    expect(() => receiptOutput(parseReceipt(text), swapped)).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
  })

  it('re-checks the agreement on the bytes: a vote claimed to agree beyond the tolerance fails', async () => {
    const carolsOutputs = { ...outputs, [hashTensors(OC)]: OC }
    const forged = await resign({ ...receipt, votes: receipt.votes.map((v) => (v.body.peerId === carol.peerId ? { ...v, agrees: true } : v)) })
    const v = await verifyReceipt(forged, libp2pVerifier, { outputs: carolsOutputs })
    expect(failed(v)).toContain('agreement')
    expect(v.ok).toBe(false)
  })

  it('a v1 signature does not verify as v2 (the domain is per version)', async () => {
    const r1 = await receiptFor(spec, ballots, 1)
    const asV2: Receipt = { ...r1, v: 2, accepted: { outputHash: r1.accepted.outputHash, numericClass: r1.accepted.numericClass }, votes: r1.votes.map(({ output: _, ...v }) => v) }
    const v = await verifyReceipt(serializeReceipt(asV2), libp2pVerifier, { outputs })
    expect(failed(v)).toEqual(['requester'])
  })

  it('a version this code does not read fails `version`, and parseReceipt throws ReceiptVersionError', async () => {
    const v3 = text.replace('"v": 2,', '"v": 3,')
    const v = await verifyReceipt(v3, libp2pVerifier)
    expect(v.checks).toEqual([{ name: 'version', ok: false, detail: 'receipt: unsupported version 3 (this code reads 1 and 2)' }])
    expect(() => parseReceipt(v3)).toThrow(expect.objectContaining({ name: 'ReceiptVersionError', version: 3 }))
    await expect(assertValidReceipt(v3, libp2pVerifier)).rejects.toMatchObject({ name: 'ReceiptVersionError' })
  })

  it('a v2 receipt with v1 fields (embedded output) fails `format`', async () => {
    const withOutput = text.replace('"numericClass": "' + CLASS_WEB + '"\n  },', '"numericClass": "' + CLASS_WEB + '",\n    "output": []\n  },')
    expect(withOutput).not.toBe(text)
    expect(failed(await verifyReceipt(withOutput, libp2pVerifier, { outputs }))).toEqual(['format'])
  })

  it('the outputs file round-trips bit for bit and refuses bytes that do not hash', () => {
    const file = serializeReceiptOutputs(receipt.jobId, outputs)
    const back = parseReceiptOutputs(file)
    expect(back.jobId).toBe(receipt.jobId)
    expect(Object.keys(back.outputs).sort()).toEqual(Object.keys(outputs).sort())
    expect(canonicalBytes(back.outputs[hashTensors(OA)])).toEqual(canonicalBytes(OA))
    expect(Object.is(back.outputs[hashTensors(OA)].scores.data[1], -0)).toBe(true)
    expect(serializeReceiptOutputs(back.jobId, back.outputs)).toBe(file)
    const lying = file.replace(hashTensors(OB), hashTensors(OC))
    expect(() => parseReceiptOutputs(lying)).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
    expect(() => parseReceiptOutputs(file.replace('"v": 1', '"v": 2'))).toThrow(expect.objectContaining({ name: 'ReceiptVersionError' }))
    expect(() => parseReceiptOutputs('{')).toThrow(expect.objectContaining({ name: 'InvalidMessageError' }))
  })
})
