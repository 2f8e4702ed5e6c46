// Lint = module boundaries (who may import libp2p, idb, onnxruntime-web) plus
// typescript-eslint's recommended rules.
import tseslint from 'typescript-eslint'

const libp2p = { group: ['libp2p', 'libp2p/*', '@libp2p/*', '!@libp2p/logger', '@chainsafe/*', '@multiformats/*'], message: 'Only src/network imports libp2p.' }
const idb = { group: ['idb', 'idb/*'], message: 'Only src/storage imports idb.' }
const ortWeb = { group: ['onnxruntime-web', 'onnxruntime-web/*'], message: 'Only workers/ imports onnxruntime-web.' }
const ortNode = { group: ['onnxruntime-node'], message: 'onnxruntime-node is for Node-side code (src/models, src/cli) only.' }
const io = { group: ['node:*', 'fs', 'path', 'idb', 'libp2p', '@libp2p/*', 'onnxruntime-*'], message: 'src/consensus is pure: no I/O.' }

// Window messaging with other documents belongs to the widget, through src/ui/widget/protocol.ts (exact origin, source and shape checks).
const WINDOW = '/^(window|self|globalThis|parent|top|opener|contentWindow)$/'
const windowMessaging = ['error', ...[
  `CallExpression[callee.name='postMessage']`,
  `CallExpression[callee.property.name='postMessage'][callee.object.name=${WINDOW}]`,
  `CallExpression[callee.property.name='postMessage'][callee.object.property.name=${WINDOW}]`,
  `CallExpression[callee.name='addEventListener'][arguments.0.value='message']`,
  `CallExpression[callee.property.name='addEventListener'][callee.object.name=${WINDOW}][arguments.0.value='message']`,
  `AssignmentExpression[left.property.name='onmessage'][left.object.name=${WINDOW}]`
].map(selector => ({ selector, message: 'Only src/ui/widget/protocol.ts posts to or listens for other windows.' }))]

function restrict (...patterns) {
  return { 'no-restricted-imports': ['error', { patterns }] }
}

export default tseslint.config(
  { ignores: ['dist/**', 'dist-*/**', '**/*.tmp.ts', 'examples/*/dist/**', 'node_modules/**', 'test-results/**', 'playwright-report/**', 'bin/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error'
    }
  },
  { files: ['src/**/*.ts'], ignores: ['src/network/**', 'src/storage/**', 'src/consensus/**', 'src/models/**', 'src/cli/**'], rules: restrict(libp2p, idb, ortWeb, ortNode) },
  { files: ['src/network/**/*.ts'], rules: restrict(idb, ortWeb, ortNode) },
  { files: ['src/storage/**/*.ts'], rules: restrict(libp2p, ortWeb, ortNode) },
  { files: ['src/consensus/**/*.ts'], ignores: ['src/consensus/**/*.spec.ts', 'src/consensus/test-fixtures.ts'], rules: restrict(io, ortWeb) },
  { files: ['src/models/**/*.ts', 'src/cli/**/*.ts'], rules: restrict(idb, ortWeb) },
  { files: ['workers/**/*.ts'], rules: restrict(libp2p, idb) },
  // the chrome.* extension APIs belong to the extension's shells alone
  { files: ['src/**/*.ts', 'workers/**/*.ts'], ignores: ['src/ui/extension/**'], rules: { 'no-restricted-globals': ['error', { name: 'chrome', message: 'Only src/ui/extension touches the chrome.* extension APIs.' }] } },
  { files: ['src/**/*.ts'], ignores: ['src/ui/widget/protocol.ts', '**/*.spec.ts'], rules: { 'no-restricted-syntax': windowMessaging } },
  // tests, CLI, bench and simulation print
  { files: ['src/cli/**/*.ts', 'e2e/**/*.ts', 'bench/**/*.ts', 'sim/**/*.ts', 'scripts/**/*.ts', '**/*.spec.ts'], rules: { 'no-console': 'off' } }
)
