import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Vitest global setup: builds `@quire/protocol`, `@quire/render`, `@quire/server`,
 * `@quire/postgres` and `@quire/redis` once, before any test
 * file runs, so every test that spawns the built CLI (`quire serve`, `quire token`,
 * `quire compact`, ...) runs the code in the working tree, never an older `dist`.
 *
 * Tests import the packages from `src` (the `source` condition) and need no build; only
 * the child processes run `bin/quire.js`, which imports `dist`. Building inside one test
 * file (as before) let other files, in parallel workers, spawn the previous build.
 *
 * The build is skipped when a stamp says `dist` was built from exactly these sources: a
 * hash of the sources and configs of these packages and a hash of their `dist`, so an
 * edit, a checkout, a deleted `dist` or a `pnpm build` of other sources all rebuild. A
 * failed build fails the run with the compiler's output. A test that starts a nested
 * vitest on fixtures that spawn no CLI sets QUIRE_TEST_SKIP_CLI_BUILD=1 for it.
 */

const root = fileURLToPath(new URL('../../..', import.meta.url))
// The CLI loads @quire/postgres and @quire/redis from their dist (--postgres, --redis):
// a test of clones must not run a build older than their sources. The server's render
// thread runs @quire/render's built worker, in tests as in production.
const packages = ['packages/protocol', 'packages/render', 'packages/server', 'packages/postgres', 'packages/redis']
const stampFile = join(root, 'node_modules/.cache/quire/cli-build-stamp.json')

interface Stamp {
  readonly sources: string
  readonly dist: string
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
}

function hashFiles(files: readonly string[]): string {
  const hash = createHash('sha256')
  for (const file of [...files].sort()) {
    hash.update(relative(root, file))
    hash.update('\0')
    hash.update(readFileSync(file))
    hash.update('\0')
  }
  return hash.digest('hex')
}

function currentStamp(): Stamp {
  const sources = [join(root, 'tsconfig.base.json')]
  const dist: string[] = []
  for (const pkg of packages) {
    const dir = join(root, pkg)
    sources.push(...filesUnder(join(dir, 'src')), ...filesUnder(join(dir, 'bin')))
    for (const config of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) {
      if (existsSync(join(dir, config))) sources.push(join(dir, config))
    }
    dist.push(...filesUnder(join(dir, 'dist')))
  }
  return { sources: hashFiles(sources), dist: dist.length === 0 ? 'missing' : hashFiles(dist) }
}

function readStamp(): Stamp | null {
  try {
    return JSON.parse(readFileSync(stampFile, 'utf8')) as Stamp
  } catch {
    return null
  }
}

export function ensureCliBuilt(): void {
  const before = currentStamp()
  const stamp = readStamp()
  if (stamp !== null && stamp.sources === before.sources && stamp.dist === before.dist) return
  const started = performance.now()
  try {
    // flock: one build at a time when several test runs start together on this machine.
    execFileSync('flock', [join(tmpdir(), 'quire-build.lock'), 'pnpm', ...packages.flatMap((pkg) => ['--filter', `./${pkg}`]), 'build'], {
      cwd: root,
      stdio: 'pipe',
      encoding: 'utf8'
    })
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string }
    throw new Error(`building the quire CLI for the tests failed:\n${stdout ?? ''}${stderr ?? ''}`, { cause: error })
  }
  // The sources as they were when the build started: if they changed during it, the
  // next run sees a different hash and builds again.
  const built: Stamp = { sources: before.sources, dist: currentStamp().dist }
  mkdirSync(join(stampFile, '..'), { recursive: true })
  writeFileSync(stampFile, JSON.stringify(built))
  console.log(`[quire] built ${packages.join(', ')} for the CLI tests in ${Math.round(performance.now() - started)} ms`)
}

export default function setup(): void {
  if (process.env['QUIRE_TEST_SKIP_CLI_BUILD'] === '1') return
  ensureCliBuilt()
}
