import { defineConfig } from '@playwright/test'
import { chromiumLaunchOptions } from './e2e/fixtures/chromium.js'

const PORT = Number(process.env.CROSSCHECK_E2E_PORT ?? 4173)

export default defineConfig({
  testDir: 'e2e',
  testMatch: '*.spec.ts',
  // peers are whole browser contexts with WebRTC; on 2 cores run specs one at a time
  workers: 1,
  fullyParallel: false,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    launchOptions: chromiumLaunchOptions(),
    trace: 'retain-on-failure'
  },
  webServer: {
    // the production build (npm run test:e2e builds first) with COOP/COEP headers
    command: `npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort --outDir ${process.env.CROSSCHECK_OUT_DIR ?? 'dist'}`,
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: false,
    timeout: 60_000
  }
})
