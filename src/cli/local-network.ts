/**
 * The embedded default network of `npm start`: a relay on loopback and the
 * contributor web app (vite preview of the production build, COOP/COEP on).
 * The page learns the relay address from `/relay.json`, served by the
 * `crosscheckRelayInfo` plugin in vite.config.ts from CROSSCHECK_RELAY.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { startRelay } from '../network/relay.js'

export interface LocalNetworkInit {
  /** @default '127.0.0.1' */
  host?: string
  /** @default 9090 (0 = any free port) */
  relayPort?: number
  /** @default 8080 (0 = any free port) */
  webPort?: number
  /** Folder holding the built app. @default 'dist' */
  outDir?: string
}

export interface LocalNetwork {
  url: string
  relay: string
  stop: () => Promise<void>
}

export async function startLocalNetwork (init: LocalNetworkInit = {}): Promise<LocalNetwork> {
  const host = init.host ?? '127.0.0.1'
  const outDir = resolve(init.outDir ?? 'dist')
  if (!existsSync(resolve(outDir, 'index.html'))) {
    throw new Error(`no built app in ${outDir}: run \`npm run build\` first (npm start does this)`)
  }
  const relay = await startRelay({ host, port: init.relayPort ?? 9090 })
  const relayAddr = relay.multiaddrs.find(a => a.includes('/ws')) ?? relay.multiaddrs[0]
  process.env.CROSSCHECK_RELAY = relayAddr
  const { preview } = await import('vite')
  let server: Awaited<ReturnType<typeof preview>>
  try {
    server = await preview({ build: { outDir }, preview: { host, port: init.webPort ?? 8080, strictPort: true, open: false }, logLevel: 'warn' })
  } catch (err) {
    await relay.stop()
    throw err
  }
  const url = server.resolvedUrls?.local[0] ?? `http://${host}:${init.webPort ?? 8080}/`
  return {
    url,
    relay: relayAddr,
    stop: async () => {
      await server.close()
      await relay.stop()
    }
  }
}
