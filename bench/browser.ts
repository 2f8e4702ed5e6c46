/**
 * Chromium side of the bench: contributor pages (one browser context each, as
 * one person per peer), their wire traffic, and process CPU time.
 *
 * - Traffic: an init script counts every RTCPeerConnection a page makes and
 *   sums its transport stats (bytes on the wire, DTLS/SCTP included); a CDP
 *   session sums the page's WebSocket frames (the relay connection).
 * - CPU: `SystemInfo.getProcessInfo` (whole processes, worker threads
 *   included) and each page's `Performance.getMetrics` TaskDuration (its main
 *   thread only).
 */
import { readdirSync, readFileSync } from 'node:fs'
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core'

export interface PeerPage {
  ctx: BrowserContext
  page: Page
  cdp: CDPSession
  peerId: string
  /** Bytes of WebSocket frames (the relay connection), sent and received, since the page opened. */
  ws: { sent: number, received: number }
}

export interface OpenTimeline {
  /** ms from the common start until the page has loaded (its scripts run). */
  loaded?: number
  /** ms from the common start until the node has started (store, runtime probe, relay joined). */
  running?: number
  /** ms from the common start until the page's node runs and holds a relay reservation (absent: not within the timeout). */
  reachable?: number
  /** Direct links the page had when it finished waiting (NaN: the page did not answer). */
  links: number
}

/** Runs in every page before its scripts: keeps each RTCPeerConnection so that its byte counters can be read. */
function trafficInitScript (): void {
  const g = globalThis as any
  const Orig = g.RTCPeerConnection
  if (Orig == null || g.__benchRtcBytes != null) return
  const pcs: any[] = []
  const last = new Map<any, { sent: number, received: number }>()
  g.RTCPeerConnection = class extends Orig {
    constructor (...args: any[]) {
      super(...args)
      pcs.push(this)
    }
  }
  g.__benchRtcBytes = async () => {
    let sent = 0
    let received = 0
    let open = 0
    for (const pc of pcs) {
      let v = last.get(pc) ?? { sent: 0, received: 0 }
      if (pc.connectionState !== 'closed') {
        open++
        try {
          const stats = await pc.getStats()
          let s = 0
          let r = 0
          stats.forEach((x: any) => { if (x.type === 'transport') { s += x.bytesSent ?? 0; r += x.bytesReceived ?? 0 } })
          v = { sent: s, received: r }
          last.set(pc, v)
        } catch {}
      }
      sent += v.sent
      received += v.received
    }
    return { sent, received, connections: pcs.length, open }
  }
}

/** A page call that settles within `ms`, else `fallback`: a page starved of CPU must not hold the bench past its deadlines. */
async function settle<T> (call: Promise<T>, fallback: T, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<T>(resolve => { timer = setTimeout(() => { resolve(fallback) }, ms) })
  call.catch(() => {}) // a late rejection, after the fallback won, is no longer anyone's concern
  try {
    return await Promise.race([call, late])
  } finally {
    clearTimeout(timer)
  }
}

function frameBytes (response: { opcode: number, payloadData: string }): number {
  return response.opcode === 1 ? Buffer.byteLength(response.payloadData) : Buffer.from(response.payloadData, 'base64').byteLength
}

/**
 * The contributor page, started at once on `relay`, with the automatic pauses
 * off: a loaded 2-core machine reports critical compute pressure, and headless
 * pages count as hidden (bench and soak).
 */
export function pageUrl (base: string, relay: string): string {
  return `${base}?autostart=1&pauseOnPressure=0&pauseWhenHidden=0&relay=${encodeURIComponent(relay)}`
}

/** Makes `n` contexts and pages (blank), ready to navigate together. */
export async function preparePages (browser: Browser, n: number): Promise<PeerPage[]> {
  return await Promise.all(Array.from({ length: n }, async () => {
    const ctx = await browser.newContext({ permissions: ['camera', 'microphone'] })
    await ctx.addInitScript(trafficInitScript)
    const page = await ctx.newPage()
    const cdp = await ctx.newCDPSession(page)
    const ws = { sent: 0, received: 0 }
    await cdp.send('Network.enable')
    await cdp.send('Performance.enable')
    cdp.on('Network.webSocketFrameSent', (e: any) => { ws.sent += frameBytes(e.response) })
    cdp.on('Network.webSocketFrameReceived', (e: any) => { ws.received += frameBytes(e.response) })
    return { ctx, page, cdp, ws, peerId: '' }
  }))
}

/**
 * Navigates all pages at once and waits until each is reachable (contributing,
 * its runtime known). Times are from the common start.
 * A page that does not get there within `timeout` is reported as it stands
 * (`strict` throws instead).
 */
export async function joinAll (pages: PeerPage[], url: string, options: { timeout: number, strict?: boolean }): Promise<OpenTimeline[]> {
  const t0 = performance.now()
  const deadline = t0 + options.timeout
  const left = (): number => Math.max(1, deadline - performance.now())
  return await Promise.all(pages.map(async (p): Promise<OpenTimeline> => {
    // NaN: the page did not answer in time
    const links = async (): Promise<number> => await settle(p.page.evaluate(() => window.crosscheck?.stats()?.linked ?? 0).catch(() => NaN), NaN)
    const at: Omit<OpenTimeline, 'links'> = {}
    const until = async (fn: string | (() => boolean), key: keyof typeof at): Promise<boolean> => {
      // the page enforces waitForFunction's timeout itself: a starved page overruns it, so the deadline is kept here too
      const met = await settle(p.page.waitForFunction(fn, undefined, { timeout: left(), polling: 50 }).then(() => true, (err) => {
        if (options.strict === true) throw err
        return false
      }), false, left() + 1000)
      if (met) at[key] = performance.now() - t0
      return met
    }
    try {
      await p.page.goto(url, { timeout: left() })
      at.loaded = performance.now() - t0
    } catch (err) {
      if (options.strict === true) throw err
      return { links: NaN }
    }
    // each step is waited for on its own: a page that is slow to hold its
    // reservation may still link (its links then count), and the reverse
    if (await until(() => window.crosscheck?.stats()?.state === 'running', 'running')) {
      p.peerId = await settle(p.page.evaluate(() => window.crosscheck.stats()?.peerId ?? '').catch(() => ''), '')
    }
    await until(() => window.crosscheck?.stats()?.contributing === true && window.crosscheck.stats()?.runtime != null, 'reachable')
    return { ...at, links: await links() }
  }))
}

export async function closeAll (pages: PeerPage[]): Promise<void> {
  await Promise.all(pages.map(async p => { await p.ctx.close().catch(() => {}) }))
}

/** WebRTC (transport) and WebSocket bytes a page has sent and received so far. */
export async function trafficOf (p: PeerPage): Promise<{ rtcSent: number, rtcReceived: number, wsSent: number, wsReceived: number, connections: number }> {
  // NaN when the page does not answer in time (starved of CPU): the caller leaves it out
  const none = { sent: NaN, received: NaN, connections: NaN }
  const rtc = await settle(p.page.evaluate(async () => await (globalThis as any).__benchRtcBytes?.() ?? { sent: 0, received: 0, connections: 0 }).catch(() => none), none)
  return { rtcSent: rtc.sent, rtcReceived: rtc.received, wsSent: p.ws.sent, wsReceived: p.ws.received, connections: rtc.connections }
}

/** Main-thread task time of a page so far (s). */
export async function mainThreadSeconds (p: PeerPage): Promise<number> {
  const { metrics } = await p.cdp.send('Performance.getMetrics')
  return metrics.find(m => m.name === 'TaskDuration')?.value ?? 0
}

/** CPU seconds so far, summed per Chromium process type (renderer, browser, GPU, network service, …). */
export async function processCpu (cdp: CDPSession): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const p of await processList(cdp)) out[p.type] = (out[p.type] ?? 0) + p.cpuTime
  return out
}

export async function processList (cdp: CDPSession): Promise<Array<{ type: string, id: number, cpuTime: number }>> {
  const { processInfo } = await cdp.send('SystemInfo.getProcessInfo') as { processInfo: Array<{ type: string, id: number, cpuTime: number }> }
  return processInfo
}

/**
 * CPU seconds so far of the threads of these processes, summed by thread
 * name (Linux /proc; empty elsewhere): which renderer threads an idle tab
 * keeps busy (main, compositor, WebRTC, the inference worker, …).
 */
export function threadCpu (pids: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const pid of pids) {
    let tids: string[]
    try { tids = readdirSync(`/proc/${pid}/task`) } catch { continue }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
        const open = stat.indexOf('(')
        const close = stat.lastIndexOf(')')
        // thread names carry a number per instance ("ThreadPoolForeg", "DedicatedWorker thread"): group by the stem
        const name = stat.slice(open + 1, close).replace(/[0-9]+$/, '').trim()
        const fields = stat.slice(close + 2).split(' ')
        const ticks = Number(fields[11]) + Number(fields[12])
        out[name] = (out[name] ?? 0) + ticks / 100
      } catch {}
    }
  }
  return out
}

export function cpuDelta (a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) out[k] = (b[k] ?? 0) - (a[k] ?? 0)
  return out
}
