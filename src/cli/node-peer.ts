/**
 * A Node peer: a libp2p node on the Crosscheck network that can request
 * verified jobs (CLI `submit`, bench) and, with `worker: true`, take jobs
 * with onnxruntime-node.
 */
import { Network } from '../network/network.js'
import { generateIdentity, signerFromPrivateKey } from '../network/keys.js'
import { handleJob } from '../jobs/worker.js'
import { ReplayGuard } from '../consensus/replay.js'
import { requesterDeps } from '../jobs/deps.js'
import { Requester } from '../jobs/trust.js'
import type { RequesterInit } from '../jobs/trust.js'
import type { JobProgress, VerifiedJobInit, VerifiedJobResult } from '../jobs/requester.js'
import { ModelNotFoundError } from '../errors.js'
import { sha256Hex } from '../tensor/index.js'
import { NodeRunner } from './ort-node.js'
import { createFault } from './faults.js'
import type { FaultKind } from './faults.js'
import { DEFAULT_ANNOUNCE_INTERVAL_MS } from '../network/constants.js'

export interface NodePeerInit {
  relay: string
  /** Take jobs as a worker (onnxruntime-node). @default false */
  worker?: boolean
  /** @default 5000 */
  announceInterval?: number
  /** @default 5000 */
  discoveryInterval?: number
  /** Reputation and canary settings of this peer as a requester. */
  requester?: RequesterInit
  /** Test-only misbehaviour (see faults.ts); only `crosscheck worker --fault` sets it. */
  fault?: FaultKind
}

export interface NodePeer {
  peerId: string
  network: Network
  runner: NodeRunner
  /** Makes model bytes available to workers that lack them. Returns the sha256. */
  addModel: (bytes: Uint8Array) => string
  requester: Requester
  submit: (init: VerifiedJobInit, options?: { signal?: AbortSignal, onProgress?: (p: JobProgress) => void }) => Promise<VerifiedJobResult>
  stop: () => Promise<void>
}

export async function startNodePeer (init: NodePeerInit, options: { signal?: AbortSignal } = {}): Promise<NodePeer> {
  const privateKey = await generateIdentity()
  const signer = signerFromPrivateKey(privateKey)
  const network = new Network({ privateKey, relay: init.relay, discoveryInterval: init.discoveryInterval })
  const runner = new NodeRunner()
  const models = new Map<string, Uint8Array>()
  let jobsDone = 0
  network.serveModels(async (sha) => models.get(sha))

  const addModel = (bytes: Uint8Array): string => {
    const sha = sha256Hex(bytes)
    models.set(sha, bytes)
    return sha
  }

  let timer: ReturnType<typeof setInterval> | undefined
  const announce = async (): Promise<void> => {
    await network.announce({ models: [...models.keys()].slice(0, 64), numericClass: runner.numericClass, backend: 'cpu', threads: 1, jobsDone })
  }

  const fault = init.fault != null ? createFault(init.fault) : undefined
  const replay = new ReplayGuard()
  if (init.worker === true) {
    network.onJob(async (req, ctx) => {
      const res = await handleJob(req, ctx, {
        signer,
        now: Date.now,
        replay,
        ensureModel: async (hash, from, { signal }) => {
          if (runner.has(hash)) return
          let bytes = models.get(hash)
          if (bytes == null) {
            bytes = await network.fetchModel(from, hash, { signal })
            models.set(hash, bytes)
          }
          if (bytes == null) throw new ModelNotFoundError(hash)
          await runner.load(hash, bytes)
        },
        run: async (hash, inputs, { signal }) => {
          if (fault == null) return await runner.run(hash, inputs)
          const t0 = performance.now()
          const outputs = await fault({ spec: req.spec, signal, honest: async () => (await runner.run(hash, inputs)).outputs })
          return { outputs, ms: performance.now() - t0, numericClass: runner.numericClass }
        }
      })
      jobsDone++
      return res
    })
  }

  await network.start(options)
  if (init.worker === true) {
    await announce()
    timer = setInterval(() => { void announce() }, init.announceInterval ?? DEFAULT_ANNOUNCE_INTERVAL_MS)
  }

  // canaries' known answers come from this peer's own onnxruntime-node
  const requester = new Requester({
    deps: requesterDeps(network, signer),
    share: async (message) => await network.publishObservation(message),
    localRun: async (hash, inputs) => {
      const bytes = models.get(hash)
      if (bytes == null) throw new ModelNotFoundError(hash)
      await runner.load(hash, bytes)
      return await runner.run(hash, inputs)
    }
  }, init.requester)
  network.addEventListener('network:observation', (evt) => { void requester.receiveObservation(evt.detail.message) })

  const submit = async (job: VerifiedJobInit, opts: { signal?: AbortSignal, onProgress?: (p: JobProgress) => void } = {}): Promise<VerifiedJobResult> => {
    return await requester.request(job, opts)
  }

  return {
    peerId: network.peerId,
    requester,
    network,
    runner,
    addModel,
    submit,
    stop: async () => {
      if (timer != null) clearInterval(timer)
      await requester.settled()
      await network.stop()
      await runner.close()
    }
  }
}
