/**
 * What the popup says about the node, from the status the service worker
 * returns. Pure, so the wording rules are tested without a browser. The word
 * is 'contributing' only when the node itself says it is contributing.
 */
import type { ExtensionStatus, NodeView } from './messages.js'

export type StateWord = 'stopped' | 'starting' | 'stopping' | 'error' | 'locked' | 'unreachable' | 'paused' | 'contributing' | 'requesting only'

export interface PopupState {
  word: StateWord
  detail: string
  /** Start is offered (the node is not running or starting). */
  canStart: boolean
}

const PAUSE_TEXT: Record<string, string> = {
  user: 'by you',
  hidden: 'hidden',
  battery: 'on battery',
  pressure: 'the computer is under heavy load'
}

export function describeState (s: ExtensionStatus): PopupState {
  const off = s.offscreen
  const node = off?.node ?? null
  if (off == null) {
    return s.settings.contribute
      ? { word: 'starting', detail: 'Opening the node…', canStart: false }
      : { word: 'stopped', detail: 'Not contributing. Press Start to join the network.', canStart: true }
  }
  if (node == null) {
    return off.error != null
      ? { word: 'error', detail: `Could not join: ${off.error.name}: ${off.error.message}`, canStart: true }
      : { word: 'starting', detail: 'Opening the node…', canStart: false }
  }
  switch (node.state) {
    case 'stopped': return { word: 'stopped', detail: 'Not contributing. Press Start to join the network.', canStart: true }
    case 'stopping': return { word: 'stopping', detail: '', canStart: false }
    case 'starting': return { word: 'starting', detail: 'Joining the relay and testing the inference runtime…', canStart: false }
    case 'locked': return { word: 'locked', detail: 'This browser profile\'s Crosscheck identity is in use elsewhere.', canStart: true }
    case 'running': return running(node)
  }
}

function running (node: NodeView): PopupState {
  if (!node.reachable) {
    const up = node.relays.some(r => r.connected)
    return {
      word: 'unreachable',
      detail: up ? 'Connected to the relay, which holds no reservation for this peer yet.' : 'No relay connection: reconnecting.',
      canStart: false
    }
  }
  if (node.paused.length > 0) return { word: 'paused', detail: `Paused: ${node.paused.map(r => PAUSE_TEXT[r] ?? r).join(', ')}.`, canStart: false }
  if (node.contributing) {
    return {
      word: 'contributing',
      detail: node.linked > 0 ? `Linked directly to ${node.linked} peer${node.linked === 1 ? '' : 's'}; taking jobs.` : 'Reachable and taking jobs; no direct link to another peer yet.',
      canStart: false
    }
  }
  return { word: 'requesting only', detail: '', canStart: false }
}

/** "WASM, 2 threads" and, when relevant, why not more. */
export function describeBackend (node: NodeView | null, crossOriginIsolated: boolean | undefined): string {
  const r = node?.runtime
  if (r == null) return '–'
  const name = r.backend === 'webgpu' ? 'WebGPU' : 'WASM'
  const isolation = (r.crossOriginIsolated ?? crossOriginIsolated) === false ? ' (not cross-origin isolated: 1 thread)' : ''
  return `${name}, ${r.threads} thread${r.threads === 1 ? '' : 's'}${isolation}`
}

export function shortId (id: string): string {
  return id.length > 20 ? `${id.slice(0, 10)}…${id.slice(-6)}` : id
}
