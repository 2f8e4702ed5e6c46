// Node 20: libp2p needs Promise.withResolvers, and dials WebSockets through the
// global WebSocket (vitest is started with --experimental-websocket; see package.json).
import './e2e/fixtures/polyfill.js'
