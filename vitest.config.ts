import { defineConfig } from 'vitest/config'

// One vitest run for every package. Packages import each other through their
// `exports`, resolved to `src` by the `source` condition, so tests need no build.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default']
  }
})
