import type { Network } from '../network/network.js'
import { libp2pVerifier } from '../network/keys.js'
import type { Signer } from '../consensus/types.js'
import type { RequesterDeps } from './requester.js'

/** Hex of `n` random bytes from the platform CSPRNG (browsers and Node). */
export function randomHex (n: number): string {
  return Array.from(globalThis.crypto.getRandomValues(new Uint8Array(n)), b => b.toString(16).padStart(2, '0')).join('')
}

/** The requester's dependencies on a started Network: contributors, job dispatch, waiting for announcements. */
export function requesterDeps (network: Network, signer: Signer): Omit<RequesterDeps, 'book'> {
  return {
    signer,
    verifier: libp2pVerifier,
    // sorted, so that a seeded requester draws the same peers from the same set whatever order announcements came in
    candidates: () => network.getContributors().map(p => ({ peerId: p.peerId, numericClass: p.announcement?.numericClass ?? 'unknown/unknown/t1/unknown' })).sort((a, b) => (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0)),
    send: async (peerId, req, { signal }) => await network.requestJob(peerId, req, { signal }),
    random: Math.random,
    now: Date.now,
    randomHex,
    waitForPeers: async ({ signal }) => {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          network.removeEventListener('network:announcement', done)
          signal.removeEventListener('abort', done)
          resolve()
        }
        network.addEventListener('network:announcement', done)
        signal.addEventListener('abort', done, { once: true })
      })
    }
  }
}
