/**
 * A real `quire serve` child process serving the built demo, for one test.
 * It can be killed with SIGKILL (no shutdown hook runs, nothing is flushed)
 * and started again on the same port and data directory, which is what the
 * pages must survive: they reconnect to the same address by themselves.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnQuireServer, type SpawnedQuireServer } from '@quire/testkit'
import { demoDistDir } from './paths.js'

export interface DemoServerOptions {
  /** Extra `quire serve` arguments, e.g. `['--secret-env', 'QUIRE_SECRET']`. */
  readonly args?: readonly string[]
  readonly env?: NodeJS.ProcessEnv
}

export interface DemoServer {
  /** `http://127.0.0.1:<port>`: the demo's origin, and its WebSocket endpoint. */
  readonly httpUrl: string
  readonly port: number
  readonly dataDir: string
  readonly isRunning: boolean
  /** kill -9 the server process and wait for it to exit. */
  crash(): Promise<void>
  /** Start again on the same port and data directory. */
  restart(): Promise<void>
  /** Everything every incarnation printed, for failure reports. */
  output(): string
  /** Kill the process (if running) and delete the data directory. */
  dispose(): Promise<void>
}

export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'quire-e2e-'))
  const args = ['--static', demoDistDir, ...(options.args ?? [])]
  const spawnOn = (port: number): Promise<SpawnedQuireServer> =>
    spawnQuireServer({ dataDir, port, args, ...(options.env === undefined ? {} : { env: options.env }) })

  let current: SpawnedQuireServer | null = await spawnOn(0)
  const port = current.port
  let previousOutput = ''

  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (current === null) return
    const stopping = current
    current = null
    await stopping.kill(signal)
    previousOutput += `${stopping.output()}--- ${signal} ---\n`
  }

  return {
    httpUrl: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    get isRunning() {
      return current !== null
    },
    crash: () => stop('SIGKILL'),
    async restart() {
      if (current !== null) throw new Error('restart() while the server is still running: crash() it first')
      current = await spawnOn(port)
    },
    output: () => previousOutput + (current?.output() ?? ''),
    async dispose() {
      await stop('SIGKILL')
      await rm(dataDir, { recursive: true, force: true })
    }
  }
}
