import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts', 'workers/**/*.spec.ts', 'sim/**/*.spec.ts', 'bench/**/*.spec.ts'],
    environment: 'node',
    setupFiles: ['./vitest.setup.ts'],
    testTimeout: 30_000
  }
})
