/**
 * Namespaced logger, the only way `src/` writes diagnostics. Enable with
 * `localStorage.debug = 'crosscheck:*'` in a browser or `DEBUG=crosscheck:*` in
 * Node (the same switch as libp2p's own logs).
 */
import { logger as libp2pLogger } from '@libp2p/logger'
import type { Logger } from '@libp2p/logger'

export type { Logger }

export function createLogger (name: string): Logger {
  return libp2pLogger(`crosscheck:${name}`)
}
