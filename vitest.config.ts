import { defineConfig } from 'vitest/config'

// One vitest run for every package. Packages import each other through their
// `exports`, resolved to `src` by the `source` condition, so tests need no build. Tests
// that spawn the `quire` CLI run `dist`: the global setup builds it once, before any
// test file starts (see packages/testkit/src/vitest-global-setup.ts).
// `pnpm test:extensive` (QUIRE_EXTENSIVE=1) runs the randomized tests ten times longer;
// their own timeouts scale with them, and this is the ceiling for the rest.
const extensive = (process.env['QUIRE_EXTENSIVE'] ?? '') !== '' && process.env['QUIRE_EXTENSIVE'] !== '0'

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    // The examples' tests run them as users do (examples/node-bot spawns the bot against a real server).
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    // Run by vitest.outage.config.ts on their own: they stop PostgreSQL and Redis.
    exclude: ['**/node_modules/**', 'packages/*/test/**/*.outage.test.ts'],
    globalSetup: ['packages/testkit/src/vitest-global-setup.ts'],
    testTimeout: extensive ? 600_000 : 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default']
  }
})
