#!/usr/bin/env node
// Makes sure the tests have the Debian packages they drive besides Node: `strace`,
// which packages/server/test/fsync.test.ts runs the server under to see that every
// acknowledged commit is fsync'd (see that file for why a system call trace), and
// `haproxy`, the reverse proxy packages/server/test/behind-a-proxy.test.ts puts in front
// of `quire serve` (what --trust-proxy changes is seen through a real one), and that
// haproxy-clones.test.ts and the e2e test clone-failover.spec.ts put in front of three
// clones, configured by deploy/haproxy/quire.cfg; and `ss` (iproute2), which
// packages/server/test/reconnect-storm.test.ts reads a listening socket's backlog with. Idempotent:
// nothing happens when every tool is there. Installing needs root; otherwise we say what
// is missing. Chromium for the e2e suite has its own script (ensure-chromium.mjs).
import { execFileSync, spawnSync } from 'node:child_process'

/** Debian package -> a command that succeeds once it is installed. */
const packages = [
  { name: 'strace', probe: ['strace', '-V'] },
  // In /usr/sbin, which is not on a Debian user's PATH.
  { name: 'haproxy', probe: ['/usr/sbin/haproxy', '-v'] },
  { name: 'iproute2', probe: ['ss', '-V'] }
]

function isInstalled({ probe }) {
  const [command, ...args] = probe
  const result = spawnSync(command, args, { encoding: 'utf8' })
  return result.error === undefined && result.status === 0
}

function main() {
  const missing = packages.filter((pkg) => !isInstalled(pkg))
  if (missing.length === 0) return 0
  const names = missing.map((pkg) => pkg.name)

  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (!isRoot) {
    console.error(`The tests need ${names.join(', ')}. Install Debian's package as root:\n  apt-get update && apt-get install -y ${names.join(' ')}`)
    return 1
  }

  console.log(`installing Debian's ${names.join(', ')} for the tests`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env })
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...names], { stdio: 'inherit', env })
  const stillMissing = missing.filter((pkg) => !isInstalled(pkg))
  if (stillMissing.length > 0) {
    console.error(`apt-get finished but ${stillMissing.map((pkg) => pkg.probe.join(' ')).join(', ')} still fails`)
    return 1
  }
  return 0
}

process.exitCode = main()
