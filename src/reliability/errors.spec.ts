/**
 * Issue 8, point 8: the failures a person meets first say what went wrong,
 * by name, through the CLI as well as the library: a relay nobody answers
 * on, a relay out of reservation capacity, a model nobody holds, a model
 * over the size limit.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startRelay } from '../network/relay.js'
import type { Relay } from '../network/relay.js'
import type { CrosscheckNode } from '../index.node.js'
import { MAX_MODEL_BYTES } from '../inference/constants.js'
import { runCli } from '../../e2e/fixtures/cli.js'
import { MLP_INPUT, startRequester } from './harness.js'
import { closedPort } from '../testing/net.js'
import { spawn } from 'node:child_process'
import { resolve as resolvePath } from 'node:path'
import { identityFromSeed, peerIdOf } from '../network/keys.js'

const RELAY_ID = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'

let relay: Relay
let requester: CrosscheckNode

beforeAll(async () => {
  relay = await startRelay({ port: 0 })
  requester = await startRequester([relay.multiaddrs[0]])
}, 60_000)

afterAll(async () => {
  await requester?.stop()
  await relay?.stop()
})

describe('clear errors', () => {
  it('crosscheck submit to an unreachable relay names the address and says the connection was refused', async () => {
    const port = await closedPort()
    const addr = `/ip4/127.0.0.1/tcp/${port}/ws/p2p/${RELAY_ID}`
    const res = await runCli(['submit', '--relay', addr, '--model', 'mlp', '--input', 'examples/mlp-input.json'], { timeoutMs: 60_000 })
    expect(res.code).toBe(1)
    expect(res.stderr).toBe(`crosscheck: RelayUnreachableError: could not reach relay ${addr}: connection refused (nothing listens on 127.0.0.1:${port})\n`)
  }, 60_000)

  it('crosscheck submit to a relay out of reservation capacity says so', async () => {
    const full = await startRelay({ port: 0, maxReservations: 0 })
    try {
      const addr = full.multiaddrs[0]
      const res = await runCli(['submit', '--relay', addr, '--model', 'mlp', '--input', 'examples/mlp-input.json'], { timeoutMs: 60_000 })
      expect(res.code).toBe(1)
      expect(res.stderr).toBe(`crosscheck: ReservationRefusedError: relay ${addr} refused a reservation (RESERVATION_REFUSED): it is out of reservation capacity (its maxReservations are all taken); other peers cannot reach this one through it\n`)
    } finally {
      await full.stop()
    }
  }, 60_000)

  it('crosscheck worker waits for a relay that is not up yet, says why and when it retries, and joins once it is', async () => {
    const port = await closedPort()
    const key = await identityFromSeed(new Uint8Array(32).fill(21))
    const addr = `/ip4/127.0.0.1/tcp/${port}/ws/p2p/${peerIdOf(key)}`
    const child = spawn(process.execPath, [resolvePath('bin/crosscheck.js'), 'worker', '--relay', addr], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += String(d) })
    child.stderr.on('data', (d) => { stderr += String(d) })
    const exited = new Promise<number | null>(resolve => { child.once('exit', (code) => { resolve(code) }) })
    let late: Relay | undefined
    try {
      const waitFor = async (what: string, check: () => boolean): Promise<void> => {
        for (const t0 = Date.now(); !check(); await new Promise(resolve => setTimeout(resolve, 100))) {
          if (Date.now() - t0 > 45_000 || child.exitCode != null) throw new Error(`${what}: exit ${child.exitCode}, stdout ${stdout}, stderr ${stderr}`)
        }
      }
      await waitFor('the worker reports the unreachable relay and a retry', () => stderr.includes('retrying in 1 s'))
      expect(stderr).toContain(`crosscheck: RelayUnreachableError: could not reach relay ${addr}: connection refused (nothing listens on 127.0.0.1:${port}); retrying in 1 s (Ctrl-C to stop)`)
      expect(stdout).toBe('')
      late = await startRelay({ port, privateKey: key })
      await waitFor('the worker joins the relay once it is up', () => /^worker \S+/m.test(stdout))
    } finally {
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      await late?.stop()
    }
  }, 60_000)

  it('a model nobody holds: ModelNotFoundError naming the hash and every place looked', async () => {
    const sha = 'ab'.repeat(32)
    const err = await requester.run(sha, MLP_INPUT, { replicas: 1, quorum: 1 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'ModelNotFoundError' })
    expect((err as Error).message).toBe(`model ${sha} is not stored here, not in the catalog (the built-in catalog) and no peer could serve it`)
  })

  it('a model over the size limit: ModelTooLargeError with both sizes, before any byte is hashed or sent', async () => {
    // zero-filled pages are not touched until read: this costs no real memory
    const bytes = new Uint8Array(MAX_MODEL_BYTES + 1)
    const err = await requester.run(bytes, MLP_INPUT, { replicas: 1, quorum: 1 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'ModelTooLargeError' })
    expect((err as Error).message).toBe(`model is ${MAX_MODEL_BYTES + 1} bytes, over the ${MAX_MODEL_BYTES} limit`)
  })
})
