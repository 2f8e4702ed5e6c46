import type { Network } from '../network/network.js'
import { libp2pVerifier } from '../network/keys.js'
import { checkIdentityPuzzle } from '../consensus/identity-cost.js'
import type { Signer } from '../consensus/types.js'
import { InvalidMessageError } from '../errors.js'
import { PreparedReplicas } from './prepared.js'
import type { RequesterDeps } from './requester.js'

/** Hex of `n` random bytes from the platform CSPRNG (browsers and Node). */
export function randomHex (n: number): string {
  return Array.from(globalThis.crypto.getRandomValues(new Uint8Array(n)), b => b.toString(16).padStart(2, '0')).join('')
}

export interface RequesterDepsOptions {
  /**
   * Identity puzzle difficulty (src/consensus/identity-cost.ts): a contributor
   * whose announcement carries no nonce paying for its peer id at this many
   * bits is never selected, so a fresh identity costs its maker CPU.
   * 0 selects anyone. @default 0
   */
  identityCostBits?: number
}

/** The requester's dependencies on a started Network: contributors, job dispatch, waiting for announcements. */
export function requesterDeps (network: Network, signer: Signer, options: RequesterDepsOptions = {}): Omit<RequesterDeps, 'book'> {
  const bits = options.identityCostBits ?? 0
  // one hash per announcement, remembered: candidates() runs on every draw
  const paid = new Map<string, boolean>()
  const pays = (peerId: string, nonce: string | undefined): boolean => {
    const key = `${peerId}|${nonce ?? ''}`
    let ok = paid.get(key)
    if (ok === undefined) {
      if (paid.size > 4096) paid.clear()
      ok = checkIdentityPuzzle(peerId, nonce, bits) === undefined
      paid.set(key, ok)
    }
    return ok
  }
  return {
    signer,
    verifier: libp2pVerifier,
    // the replica pool: a random sample of the live crowd that the relays gave, each with a lease held now (so all
    // are `live`: draws are uniform over the sample, not biased to peers already linked); sorted, so that a seeded
    // requester draws the same peers from the same set whatever order the sample came in
    candidates: () => network.getContributors().filter(p => bits <= 0 || pays(p.peerId, p.announcement?.identityNonce)).map(p => ({ peerId: p.peerId, numericClass: p.announcement?.numericClass ?? 'unknown/unknown/t1/unknown', live: true })).sort((a, b) => (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0)),
    send: async (peerId, req, { signal }) => await network.requestJob(peerId, req, { signal }),
    prepareReplica: async (peerId, req, { signal }) => {
      const res = await network.requestJob(peerId, req, { signal })
      if (res.type === 'ready') return res.ms
      // the worker's own error, by name (ModelNotFoundError, PeerPausedError, …)
      if (res.type === 'error') throw Object.assign(new Error(res.error.message), { name: res.error.name })
      throw new InvalidMessageError(`expected ready, got ${res.type}`)
    },
    prepared: new PreparedReplicas(),
    fetchOutput: async (peerId, jobId, { signal }) => {
      const res = await network.requestJob(peerId, { type: 'output', jobId }, { signal })
      if (res.type === 'output') return res.outputs
      if (res.type === 'error') throw Object.assign(new Error(res.error.message), { name: res.error.name })
      throw new InvalidMessageError(`expected outputs, got ${res.type}`)
    },
    random: Math.random,
    now: Date.now,
    randomHex,
    // the relays' sample of the live crowd; waiting asks them again
    waitForPeers: async ({ signal }) => { await network.waitForContributors({ signal }) },
    prepare: async ({ signal }) => { await network.refreshIfStale({ signal }) }
  }
}
