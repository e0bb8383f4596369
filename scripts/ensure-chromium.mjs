#!/usr/bin/env node
// Makes sure the e2e suite has a browser. We drive Debian's `chromium` package
// (not Playwright's downloaded build) so the tests run offline and on any
// Debian-based CI image. Installing needs root; otherwise we say what is missing.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

const chromiumPath = '/usr/bin/chromium'

function printVersion() {
  const result = spawnSync(chromiumPath, ['--no-sandbox', '--version'], { encoding: 'utf8' })
  if (result.status !== 0) {
    console.error(`${chromiumPath} exists but \`--version\` failed:\n${result.stderr}`)
    return false
  }
  console.log(`chromium: ${result.stdout.trim()} (${chromiumPath})`)
  return true
}

function main() {
  if (existsSync(chromiumPath)) return printVersion() ? 0 : 1

  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (!isRoot) {
    console.error(
      `The e2e tests need Chromium at ${chromiumPath}. Install Debian's package as root:\n` +
        '  apt-get update && apt-get install -y chromium'
    )
    return 1
  }

  console.log(`${chromiumPath} is missing; installing Debian's chromium package`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env })
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env })
  if (!existsSync(chromiumPath)) {
    console.error(`apt-get finished but ${chromiumPath} is still missing`)
    return 1
  }
  return printVersion() ? 0 : 1
}

process.exitCode = main()
