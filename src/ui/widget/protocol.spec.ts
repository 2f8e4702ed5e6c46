import { describe, it, expect, vi } from 'vitest'
import { acceptMessage, checkOrigin, listen, parseWidgetMessage, post, resolveHostOrigin } from './protocol.js'
import type { MessageTarget, WidgetMessage, WidgetStateDetail } from './protocol.js'

const HOST = 'https://news.example'
const SITE = 'https://crosscheck.example'
// stand-ins for WindowProxy objects: only identity matters to the source check
const parentWindow = { name: 'parent' } as unknown as MessageEventSource
const otherWindow = { name: 'other' } as unknown as MessageEventSource

const DETAIL: WidgetStateDetail = { state: 'running', linked: 2, jobsDone: 5, backend: 'wasm', threads: 2, crossOriginIsolated: true, paused: false }
const STOP = { source: 'crosscheck', v: 1, type: 'command', command: 'stop' }
const STATE = { source: 'crosscheck', v: 1, type: 'state', detail: DETAIL }

function nameOf (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return (err as Error).name }
  return undefined
}

describe('parseWidgetMessage', () => {
  it('accepts each message of the protocol and returns a copy', () => {
    for (const m of [STOP, STATE, { source: 'crosscheck', v: 1, type: 'ready' }, { ...STOP, command: 'pause' }]) {
      const parsed = parseWidgetMessage(m)
      expect(parsed).toEqual(m)
      expect(parsed).not.toBe(m)
    }
    expect((parseWidgetMessage(STATE) as Extract<WidgetMessage, { type: 'state' }>).detail).not.toBe(DETAIL)
    expect(parseWidgetMessage({ ...STATE, detail: { ...DETAIL, backend: null, threads: null, state: 'idle' } })).toBeTruthy()
  })

  it('refuses other sources, versions and types', () => {
    for (const m of [null, undefined, 'stop', 42, [STOP], { ...STOP, source: 'crosscheck2' }, { ...STOP, v: 2 }, { ...STOP, v: '1' }, { ...STOP, type: 'eval' }, JSON.stringify(STOP)]) {
      expect(nameOf(() => parseWidgetMessage(m))).toBe('InvalidMessageError')
    }
  })

  it('refuses commands a host may not give: start and resume are clicks in the frame', () => {
    for (const command of ['start', 'resume', 'cpu-share', '', 'STOP']) {
      expect(nameOf(() => parseWidgetMessage({ ...STOP, command }))).toBe('InvalidMessageError')
    }
  })

  it('refuses extra or missing keys and objects that are not plain', () => {
    expect(nameOf(() => parseWidgetMessage({ ...STOP, relay: '/ip4/1.2.3.4' }))).toBe('InvalidMessageError')
    expect(nameOf(() => parseWidgetMessage({ source: 'crosscheck', v: 1, type: 'command' }))).toBe('InvalidMessageError')
    expect(nameOf(() => parseWidgetMessage({ source: 'crosscheck', v: 1, type: 'ready', detail: DETAIL }))).toBe('InvalidMessageError')
    expect(nameOf(() => parseWidgetMessage({ ...STATE, detail: { ...DETAIL, peerId: '12D3…' } }))).toBe('InvalidMessageError')
    const { paused: _, ...missing } = DETAIL
    expect(nameOf(() => parseWidgetMessage({ ...STATE, detail: missing }))).toBe('InvalidMessageError')
    expect(nameOf(() => parseWidgetMessage(Object.assign(Object.create({ inherited: 1 }), STOP)))).toBe('InvalidMessageError')
  })

  it('refuses state values out of range', () => {
    const bad: Array<Partial<Record<keyof WidgetStateDetail, unknown>>> = [
      { state: 'hacked' }, { linked: -1 }, { linked: 1.5 }, { linked: Number.NaN }, { linked: 1e9 }, { jobsDone: '5' },
      { backend: 'cuda' }, { threads: 0 }, { threads: 257 }, { crossOriginIsolated: 'yes' }, { paused: 1 }
    ]
    for (const b of bad) expect(nameOf(() => parseWidgetMessage({ ...STATE, detail: { ...DETAIL, ...b } })), JSON.stringify(b)).toBe('InvalidMessageError')
  })
})

describe('checkOrigin', () => {
  it('accepts serialized http(s) origins only', () => {
    expect(checkOrigin(HOST)).toBe(HOST)
    expect(checkOrigin('http://127.0.0.1:4311')).toBe('http://127.0.0.1:4311')
    for (const o of ['*', 'null', '', `${HOST}/`, `${HOST}/page`, 'https://news.example:443', 'javascript:alert(1)', 'file:///etc', 'news.example']) {
      expect(nameOf(() => checkOrigin(o)), o).toBe('InvalidArgumentError')
    }
  })
})

describe('acceptMessage', () => {
  const expected = { origin: HOST, source: parentWindow, accept: ['command'] as const }

  it('accepts a valid message from the exact origin and window', () => {
    expect(acceptMessage({ origin: HOST, source: parentWindow, data: STOP }, expected)).toEqual({ ok: true, message: STOP })
  })

  it('ignores a foreign origin, even one that looks alike', () => {
    for (const origin of ['https://evil.example', 'https://news.example.evil.example', 'http://news.example', 'https://news.example:8443', 'null', '']) {
      expect(acceptMessage({ origin, source: parentWindow, data: STOP }, expected), origin).toEqual({ ok: false, reason: 'origin' })
    }
    // an opaque origin is never expected, so never matched
    expect(acceptMessage({ origin: 'null', source: parentWindow, data: STOP }, { ...expected, origin: 'null' })).toEqual({ ok: false, reason: 'origin' })
  })

  it('ignores the right origin from the wrong window', () => {
    expect(acceptMessage({ origin: HOST, source: otherWindow, data: STOP }, expected)).toEqual({ ok: false, reason: 'source' })
    expect(acceptMessage({ origin: HOST, source: null, data: STOP }, expected)).toEqual({ ok: false, reason: 'source' })
    expect(acceptMessage({ origin: HOST, source: null, data: STOP }, { ...expected, source: null })).toEqual({ ok: false, reason: 'source' })
  })

  it('ignores malformed messages and types this side does not handle', () => {
    expect(acceptMessage({ origin: HOST, source: parentWindow, data: { ...STOP, command: 'resume' } }, expected)).toMatchObject({ ok: false, reason: 'shape' })
    expect(acceptMessage({ origin: HOST, source: parentWindow, data: 'stop' }, expected)).toMatchObject({ ok: false, reason: 'shape' })
    // a state message is valid, but the frame does not take state from its host
    expect(acceptMessage({ origin: HOST, source: parentWindow, data: STATE }, expected)).toEqual({ ok: false, reason: 'type' })
  })
})

describe('listen', () => {
  function target (): MessageTarget & { fire: (e: { origin: string, source: MessageEventSource | null, data: unknown }) => void } {
    const t = new EventTarget()
    return {
      addEventListener: (type, l) => { t.addEventListener(type, l as EventListener) },
      removeEventListener: (type, l) => { t.removeEventListener(type, l as EventListener) },
      fire: (e) => { t.dispatchEvent(Object.assign(new Event('message'), e)) }
    }
  }

  it('delivers accepted messages, reports the rest, and stops on unsubscribe', () => {
    const t = target()
    const onMessage = vi.fn()
    const onIgnored = vi.fn()
    const stop = listen(t, { origin: SITE, source: parentWindow, accept: ['state', 'ready'] }, onMessage, onIgnored)
    t.fire({ origin: SITE, source: parentWindow, data: STATE })
    t.fire({ origin: 'https://evil.example', source: parentWindow, data: STATE })
    t.fire({ origin: SITE, source: otherWindow, data: STATE })
    t.fire({ origin: SITE, source: parentWindow, data: { ...STATE, detail: { ...DETAIL, linked: -5 } } })
    t.fire({ origin: SITE, source: parentWindow, data: STOP })
    expect(onMessage.mock.calls).toEqual([[STATE]])
    expect(onIgnored.mock.calls.map(c => c[0])).toEqual(['origin', 'source', 'shape', 'type'])
    stop()
    t.fire({ origin: SITE, source: parentWindow, data: STATE })
    expect(onMessage).toHaveBeenCalledTimes(1)
  })

  it('refuses to listen for any origin', () => {
    expect(nameOf(() => listen(target(), { origin: '*', source: parentWindow, accept: ['state'] }, () => {}))).toBe('InvalidArgumentError')
  })
})

describe('post', () => {
  it('posts a validated copy to the exact origin, never to *', () => {
    const postMessage = vi.fn()
    post({ postMessage }, HOST, STATE as WidgetMessage)
    expect(postMessage).toHaveBeenCalledWith(STATE, HOST)
    expect(postMessage.mock.calls[0][0]).not.toBe(STATE)
    expect(nameOf(() => { post({ postMessage }, '*', STATE as WidgetMessage) })).toBe('InvalidArgumentError')
    expect(nameOf(() => { post({ postMessage }, HOST, { ...STOP, command: 'start' } as unknown as WidgetMessage) })).toBe('InvalidMessageError')
    expect(postMessage).toHaveBeenCalledTimes(1)
  })
})

describe('resolveHostOrigin', () => {
  it('takes the host origin the browser and the embedder agree on', () => {
    expect(resolveHostOrigin({ framed: true, ancestorOrigins: [HOST, 'https://top.example'], hostParam: HOST })).toEqual({ ok: true, origin: HOST })
  })
  it('refuses an embedder whose claim differs from ancestorOrigins', () => {
    expect(resolveHostOrigin({ framed: true, ancestorOrigins: ['https://evil.example'], hostParam: HOST })).toEqual({ ok: false, reason: `the embedding page (https://evil.example) claims to be ${HOST}` })
  })
  it('uses the claim alone where ancestorOrigins is missing (Firefox)', () => {
    expect(resolveHostOrigin({ framed: true, hostParam: HOST })).toEqual({ ok: true, origin: HOST })
    expect(resolveHostOrigin({ framed: true, ancestorOrigins: [], hostParam: HOST })).toEqual({ ok: true, origin: HOST })
  })
  it('refuses a missing or invalid claim and a frame that is not embedded', () => {
    expect(resolveHostOrigin({ framed: true, ancestorOrigins: [HOST], hostParam: null }).ok).toBe(false)
    expect(resolveHostOrigin({ framed: true, ancestorOrigins: [HOST], hostParam: '*' }).ok).toBe(false)
    expect(resolveHostOrigin({ framed: true, ancestorOrigins: ['null'], hostParam: 'null' }).ok).toBe(false)
    expect(resolveHostOrigin({ framed: false, hostParam: HOST }).ok).toBe(false)
  })
})
