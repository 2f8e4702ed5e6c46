import { describe, it, expect } from 'vitest'
import {
  DEFAULT_SETTINGS, errorFromInfo, errorInfo, parseBackgroundRequest, parseExtensionStatus, parseOffscreenRequest,
  parseRelays, parseSettings, toView, unwrapReply
} from './messages.js'
import type { NodeStats } from '../../index.js'

const RELAY = '/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp'

function nameOf (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return (err as Error).name }
  return undefined
}

describe('parseRelays', () => {
  it('splits on commas and whitespace', () => {
    expect(parseRelays(` ${RELAY}, ${RELAY.replace('9090', '9091')}\n`)).toEqual([RELAY, RELAY.replace('9090', '9091')])
  })
  it('refuses an empty field, non-multiaddrs and addresses without the relay peer id', () => {
    expect(nameOf(() => parseRelays('  '))).toBe('InvalidArgumentError')
    expect(nameOf(() => parseRelays('ws://127.0.0.1:9090'))).toBe('InvalidArgumentError')
    expect(nameOf(() => parseRelays('/ip4/127.0.0.1/tcp/9090/ws'))).toBe('InvalidArgumentError')
    expect(nameOf(() => parseRelays(Array(9).fill(RELAY).join(',')))).toBe('InvalidArgumentError')
  })
})

describe('parseSettings', () => {
  it('falls back per field', () => {
    expect(parseSettings(undefined)).toEqual(DEFAULT_SETTINGS)
    expect(parseSettings({ relay: RELAY, contribute: 'yes', cpuShare: 3 }, { ...DEFAULT_SETTINGS, relay: 'x' })).toEqual({ relay: RELAY, contribute: false, cpuShare: 1 })
    expect(parseSettings({ contribute: true, cpuShare: 0.5, peerId: '12D3' })).toEqual({ relay: '', contribute: true, cpuShare: 0.5, peerId: '12D3' })
  })
})

describe('requests', () => {
  it('are ignored when addressed to another context', () => {
    expect(parseBackgroundRequest({ to: 'offscreen', type: 'status' })).toBeUndefined()
    expect(parseOffscreenRequest({ to: 'background', type: 'status' })).toBeUndefined()
    expect(parseBackgroundRequest('status')).toBeUndefined()
    expect(parseOffscreenRequest(null)).toBeUndefined()
  })
  it('are rebuilt from known fields only', () => {
    expect(parseBackgroundRequest({ to: 'background', type: 'start', relay: RELAY, extra: 1 })).toEqual({ to: 'background', type: 'start', relay: RELAY })
    expect(parseOffscreenRequest({ to: 'offscreen', type: 'start', relays: [RELAY], cpuShare: 0.5 })).toEqual({ to: 'offscreen', type: 'start', relays: [RELAY], cpuShare: 0.5 })
    expect(parseOffscreenRequest({ to: 'offscreen', type: 'cpu-share', share: 1 })).toEqual({ to: 'offscreen', type: 'cpu-share', share: 1 })
  })
  it('throw InvalidMessageError when malformed', () => {
    expect(nameOf(() => parseBackgroundRequest({ to: 'background', type: 'start' }))).toBe('InvalidMessageError')
    expect(nameOf(() => parseBackgroundRequest({ to: 'background', type: 'cpu-share', share: 0 }))).toBe('InvalidMessageError')
    expect(nameOf(() => parseBackgroundRequest({ to: 'background', type: 'eval' }))).toBe('InvalidMessageError')
    expect(nameOf(() => parseOffscreenRequest({ to: 'offscreen', type: 'start', relays: [], cpuShare: 1 }))).toBe('InvalidMessageError')
    expect(nameOf(() => parseOffscreenRequest({ to: 'offscreen', type: 'start', relays: [1], cpuShare: 1 }))).toBe('InvalidMessageError')
    expect(nameOf(() => parseOffscreenRequest({ to: 'offscreen', type: 'start', relays: [RELAY], cpuShare: Number.NaN }))).toBe('InvalidMessageError')
  })
})

describe('replies', () => {
  it('keep the error name across the hop', () => {
    const info = errorInfo(Object.assign(new Error('relay gone'), { name: 'TimeoutError' }))
    expect(info).toEqual({ name: 'TimeoutError', message: 'relay gone' })
    const err = errorFromInfo(info)
    expect(err.name).toBe('TimeoutError')
    expect(nameOf(() => unwrapReply({ ok: false, error: info }, parseExtensionStatus))).toBe('TimeoutError')
  })
  it('validate the value', () => {
    expect(unwrapReply({ ok: true, value: { settings: {}, offscreen: null } }, parseExtensionStatus)).toEqual({ settings: DEFAULT_SETTINGS, offscreen: null })
    expect(nameOf(() => unwrapReply({ ok: true, value: { settings: {}, offscreen: { node: 'x' } } }, parseExtensionStatus))).toBe('InvalidMessageError')
    expect(nameOf(() => unwrapReply(undefined, parseExtensionStatus))).toBe('InvalidMessageError')
  })
})

describe('toView', () => {
  it('drops announcements and keeps what the popup draws', () => {
    const stats = {
      state: 'running', peerId: 'me', surface: 'extension', relays: [], reachable: true, linked: 1, contributing: true, paused: [], cpuShare: 1,
      jobsDone: 2, models: [], modelDownloads: 0,
      peers: [{ peerId: 'p', direct: true, relayed: false, lastSeen: 1, announcement: { models: ['a'.repeat(64)] } }]
    } as unknown as NodeStats
    const view = toView(stats)
    expect(view.peers).toEqual([{ peerId: 'p', direct: true, relayed: false }])
    expect(view.jobsDone).toBe(2)
    expect(JSON.parse(JSON.stringify(view))).toEqual(view)
  })
})
