#!/usr/bin/env node
// Makes sure the services the tests drive are up: PostgreSQL on 127.0.0.1:5432 (trust
// auth, database `test`) and Redis on 127.0.0.1:6379 (the scale-out tests). When one
// is installed but stopped, it is started with the command this machine kind documents;
// when it cannot be reached after that, this fails (the suite must not skip them).
// Idempotent: nothing happens when both answer.
import { execSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { connect } from 'node:net'

const services = [
  {
    name: 'PostgreSQL',
    port: 5432,
    start: () => {
      if (!existsSync('/etc/postgresql')) return 'PostgreSQL is not installed (Debian: apt-get install -y postgresql)'
      const version = readdirSync('/etc/postgresql')[0]
      execSync(`pg_ctlcluster --skip-systemctl-redirect ${version} main start`, { stdio: 'inherit' })
      return null
    }
  },
  {
    name: 'Redis',
    port: 6379,
    start: () => {
      if (!existsSync('/usr/bin/redis-server')) return 'Redis is not installed (Debian: apt-get install -y redis-server)'
      execSync(
        'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
        { stdio: 'inherit' }
      )
      return null
    }
  }
]

function reachable(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.setTimeout(1000)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(false))
  })
}

async function waitReachable(port, ms) {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await reachable(port)) return true
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return false
}

async function main() {
  let failed = false
  for (const service of services) {
    if (await reachable(service.port)) continue
    console.log(`${service.name} is not answering on 127.0.0.1:${service.port}; starting it`)
    let problem
    try {
      problem = service.start()
    } catch (error) {
      problem = `starting it failed: ${error instanceof Error ? error.message : String(error)}`
    }
    if (problem === null && (await waitReachable(service.port, 20_000))) continue
    console.error(`The tests need ${service.name} on 127.0.0.1:${service.port}: ${problem ?? 'it did not answer within 20 s of starting'}`)
    failed = true
  }
  return failed ? 1 : 0
}

process.exitCode = await main()
