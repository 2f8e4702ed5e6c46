import { describe, it, expect } from 'vitest'
import { describeBackend, describeState } from './popup-state.js'
import type { ExtensionStatus, NodeView } from './messages.js'

const settings = { relay: '/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooW', contribute: true, cpuShare: 1 }

function node (patch: Partial<NodeView>): NodeView {
  return {
    state: 'running', peerId: '12D3KooWme', surface: 'extension', relays: [{ addr: settings.relay, connected: true }], reachable: true,
    peers: [], linked: 0, lease: { held: true, relays: ['12D3KooWRelay'], seq: 1 }, links: { links: 0, created: 0, budgetLeft: 450, maxLinks: 16, poolSize: 0, rotations: 0 }, contributing: true, paused: [], cpuShare: 1, jobsDone: 0, models: [], modelDownloads: 0, ...patch
  }
}

function status (n: NodeView | null, extra: Partial<ExtensionStatus> = {}): ExtensionStatus {
  return { settings, offscreen: { node: n, crossOriginIsolated: true, hardwareConcurrency: 2 }, ...extra }
}

describe('popup state', () => {
  it('says contributing only when the node does', () => {
    expect(describeState(status(node({ linked: 2 }))).word).toBe('contributing')
    expect(describeState(status(node({ contributing: false }))).word).toBe('requesting only')
    expect(describeState(status(node({ contributing: false, reachable: false }))).word).toBe('unreachable')
    expect(describeState(status(node({ contributing: false, paused: ['battery'] })))).toMatchObject({ word: 'paused', detail: 'Paused: on battery.' })
    expect(describeState(status(node({ state: 'starting', contributing: false }))).word).toBe('starting')
  })
  it('offers Start only when nothing runs', () => {
    expect(describeState({ settings: { ...settings, contribute: false }, offscreen: null })).toMatchObject({ word: 'stopped', canStart: true })
    expect(describeState({ settings, offscreen: null })).toMatchObject({ word: 'starting', canStart: false })
    expect(describeState(status(node({})))).toMatchObject({ canStart: false })
  })
  it('shows why a start failed', () => {
    const s = status(null)
    if (s.offscreen != null) s.offscreen.error = { name: 'TimeoutError', message: 'relay did not answer' }
    expect(describeState(s)).toEqual({ word: 'error', detail: 'Could not join: TimeoutError: relay did not answer', canStart: true })
  })
  it('reports the real thread count and missing isolation', () => {
    expect(describeBackend(node({ runtime: { runtime: 'ort-web', backend: 'wasm', threads: 2, numericClass: 'x', crossOriginIsolated: true } }), true)).toBe('WASM, 2 threads')
    expect(describeBackend(node({ runtime: { runtime: 'ort-web', backend: 'wasm', threads: 1, numericClass: 'x', crossOriginIsolated: false } }), false)).toBe('WASM, 1 thread (not cross-origin isolated: 1 thread)')
    expect(describeBackend(null, true)).toBe('–')
  })
})
