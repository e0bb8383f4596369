import { defineConfig } from 'vitest/config'
import base from './vitest.config.js'

// The tests that stop and restart the shared PostgreSQL and Redis (*.outage.test.ts):
// one file at a time, after the main suite, so no other test finds them gone.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['packages/*/test/**/*.outage.test.ts'],
    exclude: ['**/node_modules/**'],
    fileParallelism: false,
    testTimeout: 120_000
  }
})
