import { defineConfig, devices } from '@playwright/test'

/**
 * Real Chromium (Debian's package, see scripts/ensure-chromium.mjs) against a
 * real `quire serve` child process per test. One worker: each test kills and
 * restarts its own server, and two cores are better spent on the browsers.
 * No retries: a flaky test is a bug to fix.
 */
export default defineConfig({
  testDir: './tests',
  outputDir: './artifacts',
  globalSetup: './global-setup.ts',
  timeout: 90_000,
  expect: { timeout: 15_000 },
  workers: 1,
  retries: 0,
  fullyParallel: false,
  forbidOnly: true,
  reporter: [['list']],
  use: {
    ...devices['Desktop Chrome'],
    browserName: 'chromium',
    screenshot: 'only-on-failure',
    trace: 'off',
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
  }
})
