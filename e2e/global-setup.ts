/**
 * The suite runs the built server CLI and the built demo. `pnpm test` builds
 * both first; this only covers a direct `playwright test` on a fresh checkout.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { demoDistDir, quireCliPath, repositoryRoot } from './support/paths.js'

export default function globalSetup(): void {
  if (!existsSync('/usr/bin/chromium')) {
    throw new Error('Chromium is missing at /usr/bin/chromium: run `node scripts/ensure-chromium.mjs` (as root it installs it)')
  }
  const build = (...filters: string[]): void => {
    const args = filters.flatMap((name) => ['--filter', name])
    console.log(`e2e: building ${filters.join(', ')}`)
    execFileSync('pnpm', [...args, 'run', 'build'], { cwd: repositoryRoot, stdio: 'inherit' })
  }
  // The server CLI entry imports ../dist, so an absent dist means "never built".
  if (!existsSync(quireCliPath.replace(/bin\/quire\.js$/, 'dist/cli/index.js'))) {
    build('@quire/protocol', '@quire/server')
  }
  if (!existsSync(`${demoDistDir}/index.html`)) build('@quire/protocol', '@quire/client', '@quire/demo')
}
