import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts', 'workers/**/*.spec.ts'],
    environment: 'node',
    testTimeout: 30_000
  }
})
