/**
 * `crosscheck` command line: start | relay | submit | verify | worker | models | bench.
 * Exit codes: 0 ok, 1 failure (named in the message), 2 usage.
 */
import { parseArgs } from 'node:util'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { createLogger } from '../logger.js'

const log = createLogger('cli')

const USAGE = `crosscheck <command> [options]

Commands:
  start     Run the local network: relay + contributor web app (vite preview of dist/)
              --host 127.0.0.1  --relay-port 9090  --web-port 8080
  relay     Run a relay alone            --host 127.0.0.1 --port 9090
              [--peer <relay multiaddr>]... other relays to form the lease backbone with
  submit    Request verified inference as a Node peer
              --relay <multiaddr> (repeat or comma-separate for several relays)
              --model <file.onnx | sha256 | catalog id>
              --input <tensors.json> [--replicas 3] [--quorum 2] [--timeout 60000]
              [--policy '<json>'] [--out receipt.json]
  verify    Verify a receipt offline     verify <receipt.json> [--outputs <outputs.json>] [--record <settlement.json>]...
  worker    Take jobs with onnxruntime-node   --relay <multiaddr>
              [--fault always-wrong|collude|noise|slow|silent|copy|backend-bug]  (tests only; needs CROSSCHECK_TEST_FAULTS=1)
  models    Write the model catalog      [--out dist]
  bench     Benchmarks (see README)      [--out bench/results.json]
`

export class UsageError extends Error { static override readonly name = 'UsageError'; override name = 'UsageError' }

function waitForSignal (): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string): void => { process.off('SIGINT', on); process.off('SIGTERM', on); resolve(sig) }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}

export async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'start': return await cmdStart(rest)
      case 'relay': return await cmdRelay(rest)
      case 'submit': return await cmdSubmit(rest)
      case 'verify': return await cmdVerify(rest)
      case 'worker': return await cmdWorker(rest)
      case 'models': return await cmdModels(rest)
      case 'bench': return await (await import('../../bench/bench.js')).runBench(rest)
      case undefined: case 'help': case '--help': case '-h':
        process.stdout.write(USAGE)
        return command === undefined ? 2 : 0
      default:
        throw new UsageError(`unknown command ${command}`)
    }
  } catch (err: any) {
    if (err?.name === 'UsageError' || err?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err?.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      process.stderr.write(`crosscheck: ${String(err.message)}\n\n${USAGE}`)
      return 2
    }
    process.stderr.write(`crosscheck: ${String(err?.name ?? 'Error')}: ${String(err?.message ?? err)}\n`)
    log('%O', err)
    return 1
  }
}

function int (v: string | undefined, name: string, def: number): number {
  if (v == null) return def
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer`)
  return n
}

async function cmdRelay (args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '9090' }, peer: { type: 'string', multiple: true } } })
  const { startRelay } = await import('../network/relay.js')
  const peers = relaysOf(values.peer)
  const relay = await startRelay({ host: values.host, port: int(values.port, 'port', 9090), peers })
  process.stdout.write(`relay ${relay.peerId}\n${relay.multiaddrs.map(a => `  ${a}`).join('\n')}\n${peers.length > 0 ? `backbone: ${peers.join(', ')}\n` : ''}`)
  await waitForSignal()
  await relay.stop()
  return 0
}

async function cmdStart (args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { host: { type: 'string', default: '127.0.0.1' }, 'relay-port': { type: 'string', default: '9090' }, 'web-port': { type: 'string', default: '8080' } } })
  const { startLocalNetwork } = await import('./local-network.js')
  const net = await startLocalNetwork({ host: values.host, relayPort: int(values['relay-port'], 'relay-port', 9090), webPort: int(values['web-port'], 'web-port', 8080) })
  process.stdout.write([
    'Crosscheck local network is up.',
    `  contributor page: ${net.url}`,
    `  relay:            ${net.relay}`,
    `  submit a job:     npx crosscheck submit --relay ${net.relay} --model mlp --input examples/mlp-input.json`,
    'Press Ctrl-C to stop.',
    ''
  ].join('\n'))
  const sig = await waitForSignal()
  process.stdout.write(`\n${sig}: stopping…\n`)
  await net.stop()
  return 0
}

function relaysOf (values: string[] | undefined): string[] {
  return (values ?? []).flatMap(v => v.split(',')).map(v => v.trim()).filter(v => v !== '')
}

async function cmdSubmit (args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      relay: { type: 'string', multiple: true },
      model: { type: 'string' },
      input: { type: 'string' },
      replicas: { type: 'string', default: '3' },
      quorum: { type: 'string', default: '2' },
      timeout: { type: 'string', default: '60000' },
      policy: { type: 'string' },
      out: { type: 'string' }
    }
  })
  const relays = relaysOf(values.relay)
  if (relays.length === 0 || values.model == null || values.input == null) throw new UsageError('submit needs --relay, --model and --input')
  const replicas = int(values.replicas, 'replicas', 3)
  const quorum = int(values.quorum, 'quorum', 2)
  if (replicas < 1 || quorum < 1 || quorum > replicas) throw new UsageError('need 1 <= --quorum <= --replicas')
  const { tensorsFromJSON, tensorsToJSON } = await import('../tensor/index.js')
  const { validatePolicy } = await import('../models/manifest.js')
  const { LocalCatalog } = await import('../models/catalog.js')
  const { createNode } = await import('../index.node.js')

  // a model file's bytes; otherwise a catalog id or sha256, resolved by the node's registry
  const model: string | Uint8Array = await isFile(values.model) ? new Uint8Array(await readFile(values.model)) : values.model
  let inputJson: unknown
  try {
    inputJson = JSON.parse(await readFile(values.input, 'utf8'))
  } catch (err: any) {
    throw new UsageError(`cannot read --input ${values.input}: ${String(err.message)}`)
  }
  const inputs = tensorsFromJSON(inputJson)
  let policy
  try {
    policy = values.policy != null ? validatePolicy(JSON.parse(values.policy)) : undefined
  } catch (err: any) {
    throw new UsageError(`--policy: ${String(err.message)}`)
  }

  // a one-shot requester keeps no reputation, so canaries would teach it nothing
  const node = createNode({ relays, surface: 'cli', contribute: false, catalog: new LocalCatalog(), requester: { canaryRate: 0 } })
  const uploads = new Map<string, number>()
  node.addEventListener('model:upload', (evt) => {
    const { peerId, sent, total } = evt.detail
    const pct = total > 0 ? Math.floor((sent / total) * 100) : 100
    // every 10% per peer, and the end
    if (pct === 100 || pct >= (uploads.get(peerId) ?? -10) + 10) {
      uploads.set(peerId, pct)
      process.stderr.write(`  ↑ model to ${peerId}: ${pct}% (${(sent / 1024).toFixed(0)} of ${(total / 1024).toFixed(0)} KiB)\n`)
    }
  })
  try {
    await node.start()
    process.stderr.write(`requester ${node.peerId}\n`)
    const result = await node.run(model, inputs, { replicas, quorum, timeout: int(values.timeout, 'timeout', 60000), ...(policy != null ? { policy } : {}) }, {
      onProgress: (p) => {
        if (p.type === 'dispatched') process.stderr.write(`  → ${p.peerId}\n`)
        else if (p.type === 'vote') process.stderr.write(`  ← ${p.peerId} ${p.outputHash.slice(0, 12)} (${p.ms.toFixed(1)} ms)\n`)
        else if (p.type === 'failed-replica') process.stderr.write(`  ✗ ${p.peerId}: ${p.reason}\n`)
        else if (p.type === 'escalated') process.stderr.write(`  ${p.reason}: asking ${p.add} more replica${p.add === 1 ? '' : 's'}\n`)
        else if (p.type === 'flagged') process.stderr.write(`  ! flagged ${p.peerId} (${p.reason})\n`)
        else if (p.type === 'waiting-for-peers') process.stderr.write(`  waiting for contributors (${p.have}/${p.need})\n`)
      }
    })
    process.stderr.write(`model ${result.modelHash}\n`)
    if (values.out != null) await writeFile(values.out, result.receipt)
    process.stdout.write(JSON.stringify({
      status: 'accepted',
      jobId: result.jobId,
      outputHash: result.outputHash,
      agreeing: result.agreeing,
      dissenting: result.dissenting,
      ms: Math.round(result.ms),
      receipt: values.out ?? null,
      output: tensorsToJSON(result.outputs)
    }, null, 2) + '\n')
    return 0
  } finally {
    await node.stop()
  }
}

async function isFile (path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}

async function cmdVerify (args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { quiet: { type: 'boolean', default: false }, record: { type: 'string', multiple: true }, outputs: { type: 'string' } } })
  if (positionals.length !== 1) throw new UsageError('verify takes one receipt file')
  // settlement and retraction records (signed by the receipt's requester) decide its status
  const records: string[] = []
  for (const file of values.record ?? []) records.push((await readFile(file, 'utf8')).trim())
  const { parseReceiptOutputs, verifyReceipt } = await import('../consensus/receipt.js')
  const { libp2pVerifier } = await import('../network/keys.js')
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await readFile(positionals[0]))
  } catch (err: any) {
    process.stderr.write(`INVALID ${positionals[0]}: format: cannot read as UTF-8 (${String(err.message)})\n`)
    return 1
  }
  // a v2 receipt commits to its outputs by hash; their bytes come in a file beside it
  let outputs
  if (values.outputs !== undefined) {
    try {
      outputs = parseReceiptOutputs(await readFile(values.outputs, 'utf8'))
    } catch (err: any) {
      process.stderr.write(`INVALID ${values.outputs}: outputs: ${String(err.message)}\n`)
      return 1
    }
  }
  const result = await verifyReceipt(text, libp2pVerifier, { now: Date.now(), records, ...(outputs !== undefined ? { outputs: outputs.outputs } : {}) })
  if (outputs !== undefined && result.receipt !== undefined && outputs.jobId !== result.receipt.jobId) {
    result.checks.push({ name: 'outputs', ok: false, detail: `the outputs file is for job ${outputs.jobId}, the receipt for ${result.receipt.jobId}` })
    result.ok = false
  }
  if (!values.quiet) {
    for (const c of result.checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.detail != null ? `: ${c.detail}` : ''}\n`)
    if (result.statusText != null) process.stdout.write(`status: ${result.statusText}\n`)
  }
  if (result.ok) {
    process.stdout.write(`VALID ${positionals[0]}${result.status?.kind === 'retracted' ? ' (RETRACTED)' : ''}\n`)
    return 0
  }
  const failed = result.checks.filter(c => !c.ok).map(c => c.name)
  process.stderr.write(`INVALID ${positionals[0]}: failed ${failed.join(', ')}\n`)
  return 1
}

/** `crosscheck worker` waits for an unreachable or full relay at start: first retry after this long, doubling. */
const WORKER_RETRY_FIRST_MS = 1000
/** … up to this long between tries. */
const WORKER_RETRY_MAX_MS = 30_000

async function cmdWorker (args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { relay: { type: 'string', multiple: true }, fault: { type: 'string' } } })
  const relays = relaysOf(values.relay)
  if (relays.length === 0) throw new UsageError('worker needs --relay')
  const { parseFault, faultyRuntime } = await import('./faults.js')
  let fault
  try {
    fault = parseFault(values.fault, process.env)
  } catch (err: any) {
    throw new UsageError(err.message)
  }
  const { createNode } = await import('../index.node.js')
  const { LocalCatalog } = await import('../models/catalog.js')
  const { NodeRunner } = await import('./ort-node.js')
  const kind = fault
  const node = createNode({
    relays,
    surface: 'cli',
    contribute: { startPaused: false },
    catalog: new LocalCatalog(),
    ...(kind != null ? { runtime: () => faultyRuntime(new NodeRunner(), kind) } : {})
  })
  // a worker is a service: a relay that is down or full at start (restarting, say) is waited for, with backoff
  const interrupted = waitForSignal()
  const stopped = new AbortController()
  void interrupted.then(() => { stopped.abort() })
  for (let delay = WORKER_RETRY_FIRST_MS; ; delay = Math.min(delay * 2, WORKER_RETRY_MAX_MS)) {
    try {
      await node.start({ signal: stopped.signal })
      break
    } catch (err: any) {
      if (stopped.signal.aborted) return 130
      if (err?.name !== 'RelayUnreachableError' && err?.name !== 'ReservationRefusedError') throw err
      process.stderr.write(`crosscheck: ${String(err.name)}: ${String(err.message)}; retrying in ${delay / 1000} s (Ctrl-C to stop)\n`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay)
        stopped.signal.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
      })
      if (stopped.signal.aborted) return 130
    }
  }
  if (fault != null) process.stderr.write(`WARNING: test-only fault injection active: this worker answers '${fault}'\n`)
  const info = node.stats().runtime
  process.stdout.write(`worker ${node.peerId} (${info?.runtime ?? '?'}, ${info?.backend ?? '?'}, ${info?.threads ?? '?'} thread${info?.threads === 1 ? '' : 's'}, ${info?.numericClass ?? '?'})\n`)
  await interrupted
  await node.stop()
  return 0
}

async function cmdModels (args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string', default: 'dist' } } })
  const { writeCatalog } = await import('../models/catalog.js')
  await writeCatalog(values.out)
  process.stdout.write(`model catalog written under ${values.out}/models\n`)
  return 0
}
