/**
 * The example's own build (`npx vite build -c examples/library/vite.config.ts`
 * → examples/library/dist). `crosscheck` resolves to this repository through
 * package self-reference: its package.json `exports` point at dist-lib/, so run
 * `npm run build:lib` first. A page elsewhere would `npm install crosscheck`.
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  // the inference worker is an ES module worker (onnxruntime-web is ESM)
  worker: { format: 'es' },
  // pre-bundling would move crosscheck's worker and onnxruntime-web's wasm away from the files their URLs name
  optimizeDeps: { exclude: ['crosscheck', 'onnxruntime-web'] },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' }
})
