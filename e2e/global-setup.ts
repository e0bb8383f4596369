/**
 * The suite runs the built server CLI and the built demo. `pnpm test` builds
 * both first. For a direct `playwright test`, the CLI is rebuilt whenever its sources
 * changed since the last build (the same check as the vitest global setup), so no test
 * runs an old server; the demo, and the PostgreSQL and Redis packages the clones load,
 * are built when they are missing.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { ensureCliBuilt } from '@quire/testkit'
import { demoDistDir, repositoryRoot, scaleOutBuildPaths } from './support/paths.js'

export default function globalSetup(): void {
  if (!existsSync('/usr/bin/chromium')) {
    throw new Error('Chromium is missing at /usr/bin/chromium: run `node scripts/ensure-chromium.mjs` (as root it installs it)')
  }
  const build = (...filters: string[]): void => {
    const args = filters.flatMap((name) => ['--filter', name])
    console.log(`e2e: building ${filters.join(', ')}`)
    execFileSync('pnpm', [...args, 'run', 'build'], { cwd: repositoryRoot, stdio: 'inherit' })
  }
  ensureCliBuilt()
  // The demo compiles the workspace packages from their sources: only Vite has to run.
  if (!existsSync(`${demoDistDir}/index.html`)) build('@quire/demo')
  if (!scaleOutBuildPaths.every((path) => existsSync(path))) build('@quire/postgres', '@quire/redis')
}
