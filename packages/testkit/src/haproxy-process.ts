import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A real HAProxy (Debian's `haproxy`, which scripts/ensure-system-packages.mjs installs) as
 * a child process, on a free port of 127.0.0.1, with a configuration the caller writes for
 * that port. The configuration lives in a temp dir removed on stop; the process is stopped
 * by its PID. Server state changes ("Server quire/quire1 is DOWN") are in `output()`:
 * HAProxy prints them on stderr when it runs in the foreground.
 */
export interface SpawnedHaproxy {
  /** `ws://127.0.0.1:<port>`, the proxy's front. */
  readonly url: string
  /** `http://127.0.0.1:<port>`, the same front for pages and plain requests. */
  readonly httpUrl: string
  readonly port: number
  readonly pid: number
  /** Everything HAProxy printed so far. */
  output(): string
  stop(): Promise<void>
}

/** The whole configuration file, for HAProxy's front on 127.0.0.1:`frontPort`. */
export type HaproxyConfigFor = (frontPort: number) => string

// Debian's haproxy is in /usr/sbin, which is not on a Debian user's PATH; elsewhere, PATH.
const HAPROXY_BIN = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy'

export async function spawnHaproxyWithConfig(configFor: HaproxyConfigFor): Promise<SpawnedHaproxy> {
  const dir = await mkdtemp(join(tmpdir(), 'quire-haproxy-'))
  // The free port we found may be taken before HAProxy binds it; then try another.
  for (let attempt = 1; ; attempt++) {
    const port = await findFreePort()
    const configPath = join(dir, 'haproxy.cfg')
    await writeFile(configPath, configFor(port))
    try {
      return await startHaproxy(configPath, port, dir)
    } catch (error) {
      if (attempt >= 3) {
        await rm(dir, { recursive: true, force: true })
        throw error
      }
    }
  }
}

async function startHaproxy(configPath: string, port: number, dir: string): Promise<SpawnedHaproxy> {
  // -db: stay in the foreground, one process, so its PID is the one to stop.
  const child = spawn(HAPROXY_BIN, ['-db', '-f', configPath], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  // 'error' instead of 'exit' when haproxy could not be started at all (not installed).
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve())
  })
  let exitedEarly = false
  child.once('exit', () => (exitedEarly = true))
  child.once('error', (error) => {
    exitedEarly = true
    output += `${error.message} (node scripts/ensure-system-packages.mjs installs haproxy)\n`
  })

  const deadline = Date.now() + 10_000
  while (!(await acceptsConnections(port))) {
    if (exitedEarly || Date.now() > deadline) {
      if (!exitedEarly) child.kill('SIGKILL')
      await exited
      throw new Error(`haproxy did not start listening on 127.0.0.1:${port}:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  if (child.pid === undefined) throw new Error('haproxy has no pid')
  return {
    url: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
      await rm(dir, { recursive: true, force: true })
    }
  }
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
