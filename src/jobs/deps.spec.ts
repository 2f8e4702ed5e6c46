import { beforeAll, describe, expect, it } from 'vitest'
import { identityFromSeed, signerFromPrivateKey } from '../network/keys.js'
import { checkIdentityPuzzle, solveIdentityPuzzle } from '../consensus/identity-cost.js'
import { requesterDeps } from './deps.js'
import type { Network, PeerState } from '../network/network.js'
import type { Announcement } from '../network/codec.js'
import type { Signer } from '../consensus/types.js'

let signer: Signer
beforeAll(async () => { signer = signerFromPrivateKey(await identityFromSeed(new Uint8Array(32).fill(3))) })

const BITS = 8
const peerA = '12D3KooWAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
const peerB = '12D3KooWBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
const peerC = '12D3KooWCcccccccccccccccccccccccccccccccccccccccccccc'

function state (peerId: string, identityNonce?: string): PeerState {
  const announcement: Announcement = { peerId, models: [], numericClass: 'ort-node/cpu/t1/node', backend: 'cpu', threads: 1, jobsDone: 0, at: 1, paused: false, ...(identityNonce !== undefined ? { identityNonce } : {}) }
  return { peerId, direct: false, relayed: true, remoteAddrs: [], announcement, lastSeen: 1 }
}

/** Only what requesterDeps' candidates() reads. */
function fakeNetwork (peers: PeerState[]): Network {
  return { getContributors: () => peers } as unknown as Network
}

describe('requesterDeps identity cost', () => {
  it('selects only contributors whose announcement pays the puzzle for their own peer id', () => {
    const paidA = solveIdentityPuzzle(peerA, BITS)!
    // B announces A's solution: bound to A's id, it does not pay for B (checked, not left to chance)
    expect(checkIdentityPuzzle(peerB, paidA, BITS)).toBeDefined()
    const peers = [state(peerA, paidA), state(peerB, paidA), state(peerC)]
    const deps = requesterDeps(fakeNetwork(peers), signer, { identityCostBits: BITS })
    expect(deps.candidates().map(c => c.peerId)).toEqual([peerA])
  })

  it('selects everyone when the cost is off (the default)', () => {
    const peers = [state(peerA), state(peerB, 'ff')]
    expect(requesterDeps(fakeNetwork(peers), signer).candidates().map(c => c.peerId)).toEqual([peerA, peerB])
    expect(requesterDeps(fakeNetwork(peers), signer, { identityCostBits: 0 }).candidates()).toHaveLength(2)
  })
})

describe('requesterDeps draws over the sample, not over who is linked', () => {
  it('marks every sampled contributor live (its lease is held now), linked or not, in a stable order', () => {
    const peers = [{ ...state(peerB), direct: true }, state(peerA)]
    expect(requesterDeps(fakeNetwork(peers), signer).candidates().map(c => [c.peerId, c.live])).toEqual([[peerA, true], [peerB, true]])
  })
})
