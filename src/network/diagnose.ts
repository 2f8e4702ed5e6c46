/**
 * Says in words why dialling a relay failed. A WebSocket that cannot connect
 * only says "error" (browsers, by design) or "Received network error or
 * non-101 status code" (Node): the same for a closed port, an unreachable
 * host and a web server that is not a relay. In Node a plain TCP connection
 * to the same host and port tells them apart; browsers have no such probe, so
 * there the message lists the possibilities.
 *
 * @example
 * ```ts
 * const why = await describeDialFailure(multiaddr('/ip4/127.0.0.1/tcp/1/ws/p2p/12D3…'), err)
 * // 'connection refused (nothing listens on 127.0.0.1:1)'
 * ```
 */
import type { Multiaddr } from '@multiformats/multiaddr'

/** How long the TCP probe may take (ms). */
const PROBE_TIMEOUT_MS = 3_000

export interface DialTarget {
  /** ws:// or wss:// URL the WebSocket transport dials, when the address is a WebSocket one. */
  url?: string
  host?: string
  port?: number
}

/** Where a relay multiaddr points: host, port and the WebSocket URL. */
export function dialTarget (addr: Multiaddr): DialTarget {
  const parts = addr.getComponents()
  const host = parts.find(c => ['ip4', 'ip6', 'dns', 'dns4', 'dns6', 'dnsaddr'].includes(c.name))
  const tcp = parts.find(c => c.name === 'tcp')
  if (host?.value == null || tcp?.value == null) return {}
  const port = Number(tcp.value)
  const secure = parts.some(c => c.name === 'wss' || c.name === 'tls')
  const ws = secure || parts.some(c => c.name === 'ws')
  const h = host.name === 'ip6' ? `[${host.value}]` : host.value
  return { host: host.value, port, ...(ws ? { url: `${secure ? 'wss' : 'ws'}://${h}:${port}` } : {}) }
}

export type TcpProbe = 'open' | 'refused' | 'timeout' | 'unreachable' | 'unknown-host'

interface NetSocket {
  once: (event: string, fn: (err?: { code?: string }) => void) => void
  destroy: () => void
  setTimeout: (ms: number, fn: () => void) => void
}

/** A TCP connection attempt, Node only (undefined in browsers). */
export async function probeTcp (host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<TcpProbe | undefined> {
  // process.getBuiltinModule (Node ≥ 20.16) rather than an import, so that
  // browser bundles never see node:net
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  const net = proc?.getBuiltinModule?.('node:net') as { connect: (o: { host: string, port: number }) => NetSocket } | undefined
  if (net == null) return undefined
  return await new Promise<TcpProbe>((resolve) => {
    const socket = net.connect({ host, port })
    const done = (r: TcpProbe): void => { socket.destroy(); resolve(r) }
    socket.setTimeout(timeoutMs, () => { done('timeout') })
    socket.once('connect', () => { done('open') })
    socket.once('error', (err) => {
      const code = err?.code
      done(code === 'ECONNREFUSED' ? 'refused' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'unknown-host' : code === 'ETIMEDOUT' ? 'timeout' : 'unreachable')
    })
  })
}

/** A WebSocket error event (no name of its own), as the ws transport passes it on. */
function isWebSocketFailure (err: unknown): boolean {
  const e = err as { name?: unknown, type?: unknown, message?: unknown } | undefined
  if (e == null || typeof e !== 'object') return false
  if (e.type === 'error' && (e.name == null || e.name === '')) return true
  return typeof e.message === 'string' && /non-101 status code|websocket/i.test(e.message)
}

/**
 * What went wrong dialling `addr`, in a few words (without the address).
 * `timeoutMs` is the dial timeout, when the dial was cut short by it.
 */
export async function describeDialFailure (addr: Multiaddr, err: unknown, options: { timedOut?: number } = {}): Promise<string> {
  const target = dialTarget(addr)
  const where = target.host != null ? `${target.host}:${target.port ?? '?'}` : addr.toString()
  if (options.timedOut != null) return `no answer within ${options.timedOut} ms (${target.url ?? where})`
  const e = err as { name?: unknown, message?: unknown, code?: unknown } | undefined
  const name = typeof e?.name === 'string' ? e.name : ''
  const message = typeof e?.message === 'string' ? e.message : ''
  // noise's wording (libp2p/noise 17): "Payload identity key <actual> does not match expected remote identity key <expected>"
  const mismatch = /identity key (\S+) does not match expected remote identity key (\S+)/.exec(message)
  if (mismatch != null) {
    return `a peer other than the one in the address answered on ${where}: it is ${mismatch[1]}, not ${mismatch[2]} (a relay restarted without its saved key gets a new id)`
  }
  if (name === 'UnexpectedPeerError' || /unexpected peer|peer id/i.test(message)) {
    return `a peer other than the one in the address answered on ${where} (is the /p2p/ part current? a relay started without its saved key gets a new id)`
  }
  if (/aborted due to timeout|timed out/i.test(message)) {
    return `the connection to ${where} opened but the ${name === 'EncryptionFailedError' ? 'encryption handshake' : 'handshake'} timed out (the relay or this machine may be overloaded)`
  }
  if (isWebSocketFailure(err) && target.host != null && target.port != null) {
    const probe = await probeTcp(target.host, target.port)
    switch (probe) {
      case 'refused': return `connection refused (nothing listens on ${where})`
      case 'timeout': return `no answer from ${where} (host down or traffic filtered)`
      case 'unknown-host': return `unknown host ${target.host}`
      case 'unreachable': return `${where} is unreachable from here (no route)`
      case 'open': return `${where} accepts connections but the WebSocket handshake at ${target.url ?? where} failed (not a relay, or another service on that port)`
      default: return `the WebSocket connection to ${target.url ?? where} failed (refused, unreachable or not a relay: browsers do not say which)`
    }
  }
  if (name !== '' || message !== '') return `${name !== '' ? `${name}: ` : ''}${message !== '' ? message : 'dial failed'}`
  return `dial failed (${String(err)})`
}
