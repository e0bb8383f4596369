import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { getPriority } from 'node:os'
import { readCpuSeconds, readRssBytes, readRunQueueWaitSeconds } from './process-stats.js'

/**
 * A server under test running as a child process pinned to core 0, so that it
 * competes with nothing but itself; the load generator runs pinned to core 1.
 */
export interface RunningServer {
  /** ws://127.0.0.1:<port>, without a trailing slash; rooms are appended as paths. */
  url: string
  pid: number
  rssBytes(): number
  cpuSeconds(): number
  /** Seconds its main thread waited for a core so far (see readRunQueueWaitSeconds). */
  waitSeconds(): number
  /** SIGTERM: the server shuts down its own way (flushes, writes its --cpu-prof). */
  stop(): Promise<void>
  /** SIGKILL, as a crash or an OOM kill: nothing is flushed. Resolves once it has exited. */
  kill(): Promise<void>
}

export interface SpawnOptions {
  args: string[]
  env?: Record<string, string>
  cwd?: string
  /** Matched against stdout; the first capture group, if any, is the port. */
  ready: RegExp
  port?: number
  nodeOptions?: string[]
}

export const SERVER_CORE = '0'
export const GENERATOR_CORE = '1'
const TARGET_NICENESS = -10

/**
 * The command prefix that pins a process to `core` and, when we may, raises its
 * priority (nice -10): on a shared two-core machine, other work preempting the
 * server or the generator shows up as latency that belongs to neither.
 */
export function pinnedCommand(core: string): string[] {
  // nice -n is relative to this process' own niceness; aim at -10 absolute.
  const raised = process.getuid?.() === 0 ? ['nice', '-n', String(TARGET_NICENESS - getPriority())] : []
  return ['taskset', '-c', core, ...raised]
}
const START_TIMEOUT_MS = 20_000
const STOP_TIMEOUT_MS = 10_000

export async function findFreePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      const port = typeof address === 'object' && address ? address.port : 0
      probe.close(() => resolve(port))
    })
  })
}

export async function spawnPinnedServer(options: SpawnOptions): Promise<RunningServer> {
  const [command, ...prefix] = pinnedCommand(SERVER_CORE)
  const child = spawn(command as string, [...prefix, process.execPath, ...(options.nodeOptions ?? []), ...options.args], {
    cwd: options.cwd,
    env: { ...process.env, NODE_OPTIONS: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const pid = child.pid
  if (pid === undefined) throw new Error(`could not spawn ${options.args.join(' ')}`)
  let output = ''
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`server did not become ready in ${START_TIMEOUT_MS} ms: ${options.args.join(' ')}\n${output}`))
    }, START_TIMEOUT_MS)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8')
      const match = options.ready.exec(output)
      if (!match) return
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      resolve(match[1] ? Number(match[1]) : (options.port ?? 0))
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8')
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`server exited before ready (code ${code}, signal ${signal}): ${options.args.join(' ')}\n${output}`))
    })
  })
  // A server must not outlive the benchmark, whatever ends it.
  const killOnExit = (): void => {
    child.kill('SIGKILL')
  }
  process.once('exit', killOnExit)
  child.once('exit', () => process.off('exit', killOnExit))
  // Keep draining the pipes so a chatty server never blocks on a full pipe.
  child.stdout?.resume()
  child.stderr?.on('data', (chunk: Buffer) => {
    if (process.env.BENCH_VERBOSE) process.stderr.write(chunk)
  })
  return {
    url: `ws://127.0.0.1:${port}`,
    pid,
    rssBytes: () => readRssBytes(pid),
    cpuSeconds: () => readCpuSeconds(pid),
    waitSeconds: () => readRunQueueWaitSeconds(pid),
    stop: async () => await stopChild(child),
    kill: async () => await killChild(child)
  }
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGKILL')
  await exited
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}
