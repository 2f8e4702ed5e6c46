#!/usr/bin/env node
// Launcher for the Crosscheck CLI. Node 20 lacks a global WebSocket (used by
// libp2p's websockets transport to dial) unless started with
// --experimental-websocket, and lacks Promise.withResolvers (used by libp2p):
// re-exec with the flag, polyfill, then run the TypeScript CLI through tsx.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

if (typeof globalThis.WebSocket === 'undefined' && !process.execArgv.includes('--experimental-websocket')) {
  const child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings=ExperimentalWarning', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { child.kill(sig) })
  child.on('exit', (code, signal) => { process.exit(code ?? (signal != null ? 1 : 0)) })
} else {
  if (typeof Promise.withResolvers !== 'function') {
    Promise.withResolvers = function withResolvers () {
      let resolve, reject
      const promise = new Promise((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  }
  const { register } = await import('tsx/esm/api')
  register()
  const { main } = await import('../src/cli/main.ts')
  // exit explicitly: libp2p and onnxruntime keep handles open after stop()
  process.exit(await main(process.argv.slice(2)))
}
