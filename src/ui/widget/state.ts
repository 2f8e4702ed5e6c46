/**
 * NodeStats → the coarse state the frame shows and tells its host. Pure, so
 * what a host can learn is exactly what this function returns (no peer id,
 * no peer list, no job contents).
 */
import type { NodeStats } from '../../index.js'
import type { WidgetState, WidgetStateDetail } from './protocol.js'

/** The one-word state; `idle` and `error` come from the frame itself (no node yet, or it failed). */
export function widgetStateOf (s: NodeStats): WidgetState {
  switch (s.state) {
    case 'starting': return 'starting'
    case 'locked': return 'locked'
    case 'stopping':
    case 'stopped': return 'stopped'
    case 'running':
      if (s.paused.length > 0) return 'paused'
      // joined, but no relay reservation: other peers cannot reach it yet
      return s.reachable ? 'running' : 'connecting'
  }
}

/** The whole message detail for a node (or for none: the frame before Start, after Stop, or on an error). */
export function widgetDetailOf (s: NodeStats | undefined, frame: { state?: WidgetState, crossOriginIsolated: boolean }): WidgetStateDetail {
  const backend = s?.runtime?.backend
  return {
    state: frame.state ?? (s != null ? widgetStateOf(s) : 'idle'),
    linked: s?.linked ?? 0,
    jobsDone: s?.jobsDone ?? 0,
    backend: backend === 'webgpu' ? 'webgpu' : backend != null ? 'wasm' : null,
    threads: s?.runtime != null ? Math.max(1, Math.min(256, Math.floor(s.runtime.threads))) : null,
    crossOriginIsolated: s?.runtime?.crossOriginIsolated ?? frame.crossOriginIsolated,
    paused: s != null && s.state === 'running' && s.paused.length > 0
  }
}

/** Same detail, same key: the frame posts only changes. */
export function detailKey (d: WidgetStateDetail): string {
  return JSON.stringify([d.state, d.linked, d.jobsDone, d.backend, d.threads, d.crossOriginIsolated, d.paused])
}
