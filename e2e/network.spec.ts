/**
 * User story: three people contribute by opening the page; a fourth requests
 * verified inference. The requester finds them by their leases on the relay
 * and links to each on demand (they never link to one another). Jobs run on
 * all three over direct WebRTC, the output is
 * accepted by quorum, matches onnxruntime-node, and the receipt verifies
 * offline; the links keep working after the relay is gone.
 */
import { test, expect } from '@playwright/test'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestRelay } from './fixtures/relay.js'
import { PeerPage } from './fixtures/peer.js'
import { runCli } from './fixtures/cli.js'
import { NodeRunner } from '../src/cli/ort-node.js'
import { resolveModel } from '../src/models/catalog.js'
import { tensorsFromJSON } from '../src/tensor/index.js'
import { outputsAgree } from '../src/consensus/compare.js'
import { verifyReceipt } from '../src/consensus/receipt.js'
import { libp2pVerifier } from '../src/network/keys.js'

const MLP_INPUT = { x: { dtype: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => Math.round(Math.sin(i + 1) * 1000) / 1000) } }
const CNN_INPUT = { x: { dtype: 'float32', dims: [1, 1, 8, 8], data: Array.from({ length: 64 }, (_, i) => Math.round(Math.cos(i) * 1000) / 1000) } }

async function nodeReference (id: string, inputs: unknown): Promise<ReturnType<NodeRunner['run']>> {
  const model = await resolveModel(id)
  const runner = new NodeRunner()
  await runner.load(model.sha256, model.bytes)
  try {
    return await runner.run(model.sha256, tensorsFromJSON(inputs))
  } finally {
    await runner.close()
  }
}

test('three contributors run a verified job over direct WebRTC, surviving the relay', async ({ browser }) => {
  const relay = await startTestRelay()
  const peers: PeerPage[] = []
  try {
    for (const name of ['alice', 'bob', 'carol']) peers.push(await PeerPage.open(browser, relay.addr, name))
    const requester = await PeerPage.open(browser, relay.addr, 'requester')
    peers.push(requester)
    const contributorIds = await Promise.all(peers.slice(0, 3).map(async p => await p.peerId()))

    // the requester finds the contributors through the relay's lease sample, not by linking to everyone
    await expect.poll(async () => (await requester.contributors()).filter(id => contributorIds.includes(id)).length).toBe(3)

    // replicas 3, quorum 3: the job must run on all three contributors
    const result = await requester.requestModel('mlp', MLP_INPUT, { replicas: 3, quorum: 3 })
    expect([...result.agreeing].sort()).toEqual([...contributorIds].sort())

    // every vote came over a direct link, not the relay, dialled on demand by the requester
    // (this is what the @libp2p/webrtc init-channel race broke: see patches/)
    const direct = await requester.directPeers()
    for (const id of contributorIds) expect(direct).toContain(id)
    // and links only where work went: no mesh among the contributors
    for (const p of peers.slice(0, 3)) expect((await p.directPeers()).filter(id => contributorIds.includes(id))).toEqual([])
    const conns = await requester.connections()
    for (const c of conns.filter(c => contributorIds.includes(c.peerId) && c.direct)) {
      expect(c.limited).toBe(false)
      expect(c.remoteAddr).toContain('/webrtc')
      expect(c.multiplexer).toBe('/webrtc')
    }

    // same answer as onnxruntime-node, within the model's policy
    const reference = await nodeReference('mlp', MLP_INPUT)
    const accepted = tensorsFromJSON(result.output)
    const model = await resolveModel('mlp')
    expect(model.entry?.policy.kind).toBe('tolerance')
    expect(outputsAgree(accepted, reference.outputs, model.entry!.policy, 'ort-web/wasm/t1/chromium', reference.numericClass)).toBe(true)

    // the receipt verifies offline with the CLI, and any flipped byte breaks it
    const dir = await mkdtemp(join(tmpdir(), 'crosscheck-e2e-'))
    const receiptPath = join(dir, 'receipt.json')
    await writeFile(receiptPath, result.receiptText)
    const ok = await runCli(['verify', receiptPath])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toContain('VALID')
    // a v2 receipt commits to its output by hash; the bytes, in their own file, re-check against it
    expect(JSON.parse(result.receiptText).v).toBe(2)
    expect(result.receiptText).not.toContain('"data"')
    const outputsPath = join(dir, 'outputs.json')
    await writeFile(outputsPath, result.receiptOutputsText)
    const withOutputs = await runCli(['verify', receiptPath, '--outputs', outputsPath])
    expect(withOutputs.code, withOutputs.stderr).toBe(0)
    expect(withOutputs.stdout).toMatch(/ok {3}outputs/)
    const forgedPath = join(dir, 'outputs-forged.json')
    const forged = JSON.parse(result.receiptOutputsText)
    forged.outputs[0].tensors[0].data = Buffer.from(new Float32Array(Buffer.from(forged.outputs[0].tensors[0].data, 'base64').length / 4).buffer).toString('base64')
    await writeFile(forgedPath, JSON.stringify(forged, null, 2) + '\n')
    const forgedRun = await runCli(['verify', receiptPath, '--outputs', forgedPath])
    expect(forgedRun.code).not.toBe(0)
    expect(forgedRun.stderr).toContain('INVALID')

    const bytes = await readFile(receiptPath)
    const positions = [0, 1, bytes.length - 2, bytes.length - 1]
    for (let i = 2; i < bytes.length - 2; i += Math.max(1, Math.floor(bytes.length / 400))) positions.push(i)
    for (const i of positions) {
      const flipped = Buffer.from(bytes)
      flipped[i] ^= 0x01
      const res = await verifyReceipt(flipped.toString('latin1'), libp2pVerifier)
      expect(res.ok, `flipping byte ${i} (${JSON.stringify(String.fromCharCode(bytes[i]))}) must fail verification`).toBe(false)
    }
    for (const i of [10, Math.floor(bytes.length / 2), bytes.length - 10]) {
      const flipped = Buffer.from(bytes)
      flipped[i] ^= 0x01
      const path = join(dir, `flipped-${i}.json`)
      await writeFile(path, flipped)
      const bad = await runCli(['verify', path])
      expect(bad.code, `CLI verify must reject byte ${i} flipped`).not.toBe(0)
      expect(bad.stderr).toContain('INVALID')
    }

    // a Node requester (the CLI) gets the same network to agree
    const inputPath = join(dir, 'input.json')
    await writeFile(inputPath, JSON.stringify(MLP_INPUT))
    const cliReceipt = join(dir, 'cli-receipt.json')
    const submit = await runCli(['submit', '--relay', relay.addr, '--model', 'mlp', '--input', inputPath, '--replicas', '3', '--quorum', '2', '--out', cliReceipt], { timeoutMs: 150_000 })
    expect(submit.code, submit.stderr).toBe(0)
    const printed = JSON.parse(submit.stdout)
    expect(printed.status).toBe('accepted')
    expect(printed.agreeing.length).toBeGreaterThanOrEqual(2)
    expect((await runCli(['verify', cliReceipt])).code).toBe(0)

    // stop the relay: the direct WebRTC links carry on
    await relay.stop()
    await expect.poll(async () => (await requester.stats())?.relays.some(r => r.connected)).toBe(false)
    const after = await requester.requestModel('cnn', CNN_INPUT, { replicas: 3, quorum: 2 })
    expect(after.agreeing.length).toBeGreaterThanOrEqual(2)
    const cnnRef = await nodeReference('cnn', CNN_INPUT)
    const cnnModel = await resolveModel('cnn')
    expect(outputsAgree(tensorsFromJSON(after.output), cnnRef.outputs, cnnModel.entry!.policy, 'ort-web/wasm/t1/chromium', cnnRef.numericClass)).toBe(true)
  } finally {
    await Promise.all(peers.map(async p => { await p.close() }))
    await relay.stop().catch(() => {})
  }
})
