import { describe, it, expect } from 'vitest'
import { detailKey, widgetDetailOf, widgetStateOf } from './state.js'
import { parseWidgetMessage } from './protocol.js'
import type { NodeStats } from '../../index.js'

function stats (over: Partial<NodeStats> = {}): NodeStats {
  return {
    state: 'running',
    peerId: '12D3KooWSecretIdentity',
    surface: 'widget',
    relays: [{ addr: '/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWRelay', connected: true }],
    reachable: true,
    peers: [{ peerId: '12D3KooWOther', direct: true, relayed: false, lastSeen: 1 } as NodeStats['peers'][number]],
    linked: 1,
    lease: { held: true, relays: ['12D3KooWRelay'], seq: 1 },
    links: { links: 1, created: 1, budgetLeft: 449, maxLinks: 16, poolSize: 1, rotations: 0 },
    runtime: { runtime: 'ort-web', backend: 'wasm', threads: 2, numericClass: 'ort-web/wasm/t2/chromium', crossOriginIsolated: true },
    contributing: true,
    paused: [],
    cpuShare: 1,
    jobsDone: 3,
    models: [],
    modelDownloads: 0,
    ...over
  }
}

describe('widgetStateOf', () => {
  it('maps the node to one coarse word', () => {
    expect(widgetStateOf(stats())).toBe('running')
    expect(widgetStateOf(stats({ reachable: false, contributing: false }))).toBe('connecting')
    expect(widgetStateOf(stats({ paused: ['hidden'], contributing: false }))).toBe('paused')
    expect(widgetStateOf(stats({ state: 'starting' }))).toBe('starting')
    expect(widgetStateOf(stats({ state: 'stopping' }))).toBe('stopped')
    expect(widgetStateOf(stats({ state: 'locked' }))).toBe('locked')
  })
})

describe('widgetDetailOf', () => {
  it('tells the host counts, backend and threads, and nothing that identifies the peer', () => {
    const d = widgetDetailOf(stats(), { crossOriginIsolated: true })
    expect(d).toEqual({ state: 'running', linked: 1, jobsDone: 3, backend: 'wasm', threads: 2, crossOriginIsolated: true, paused: false })
    expect(JSON.stringify(d)).not.toMatch(/12D3|ip4|ort-web/)
    // what the frame posts is a valid message
    expect(parseWidgetMessage({ source: 'crosscheck', v: 1, type: 'state', detail: d })).toBeTruthy()
  })

  it('reports the real thread count and isolation of a frame that is not isolated', () => {
    const d = widgetDetailOf(stats({ runtime: { runtime: 'ort-web', backend: 'wasm', threads: 1, numericClass: 'ort-web/wasm/t1/chromium', crossOriginIsolated: false } }), { crossOriginIsolated: false })
    expect(d).toMatchObject({ threads: 1, crossOriginIsolated: false })
  })

  it('describes the frame before Start, after Stop and on errors', () => {
    expect(widgetDetailOf(undefined, { state: 'idle', crossOriginIsolated: true })).toEqual({ state: 'idle', linked: 0, jobsDone: 0, backend: null, threads: null, crossOriginIsolated: true, paused: false })
    expect(widgetDetailOf(stats(), { state: 'error', crossOriginIsolated: true }).state).toBe('error')
    expect(widgetDetailOf(stats({ paused: ['user'], contributing: false }), { crossOriginIsolated: true })).toMatchObject({ state: 'paused', paused: true })
    expect(widgetDetailOf(stats({ runtime: { runtime: 'ort-web', backend: 'webgpu', threads: 1, numericClass: 'x' } }), { crossOriginIsolated: true }).backend).toBe('webgpu')
  })

  it('keys equal details equally, so only changes are posted', () => {
    const a = widgetDetailOf(stats(), { crossOriginIsolated: true })
    expect(detailKey(a)).toBe(detailKey({ ...a }))
    expect(detailKey(a)).not.toBe(detailKey({ ...a, jobsDone: 4 }))
    // peers coming and going without changing the counts post nothing
    expect(detailKey(widgetDetailOf(stats({ peers: [] }), { crossOriginIsolated: true }))).toBe(detailKey(a))
  })
})
