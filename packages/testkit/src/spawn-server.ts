import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export interface SpawnedQuireServer {
  readonly url: string
  readonly httpUrl: string
  readonly port: number
  readonly pid: number
  /** Everything the process printed so far (stdout and stderr). */
  output(): string
  /**
   * The same, with each JSON log line (what `quire serve` writes when stdout is not a
   * terminal) replaced by its message: what a test matches server messages against.
   */
  logMessages(): string
  /** Sends `signal` (default SIGKILL) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** The exit code once the process has exited by itself (null while it runs, or when a signal ended it). */
  exitCode(): number | null
}

export interface SpawnQuireServerOptions {
  readonly dataDir: string
  readonly port?: number
  readonly args?: readonly string[]
  readonly env?: NodeJS.ProcessEnv
}

/** The built CLI: what a user runs (the vitest global setup builds it; `pnpm build` elsewhere). */
export const QUIRE_BIN = fileURLToPath(new URL('../../server/bin/quire.js', import.meta.url))

/**
 * Runs `quire serve` as a child process, for tests that kill -9 it. Resolves once it
 * prints its listening line; rejects with its output if it exits first.
 */
export function spawnQuireServer(options: SpawnQuireServerOptions): Promise<SpawnedQuireServer> {
  const args = ['serve', '--host', '127.0.0.1', '--port', String(options.port ?? 0), '--data', options.dataDir, ...(options.args ?? [])]
  const child: ChildProcess = spawn(process.execPath, [QUIRE_BIN, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      const match = /quire listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)
      if (match?.[1] && child.pid !== undefined) {
        child.stdout?.off('data', onData)
        child.stdout?.on('data', (more: Buffer) => (output += more.toString()))
        const port = Number(match[1])
        resolve({
          url: `ws://127.0.0.1:${port}`,
          httpUrl: `http://127.0.0.1:${port}`,
          port,
          pid: child.pid,
          output: () => output,
          exitCode: () => child.exitCode,
          logMessages: () => logMessagesOf(output),
          async kill(signal: NodeJS.Signals = 'SIGKILL') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal)
            await exited
          }
        })
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.once('exit', (code, signal) => reject(new Error(`quire serve exited (${code ?? signal}) before listening:\n${output}`)))
  })
}

/** `output` with every JSON line (pino's format) replaced by its `msg`; other lines as they are. */
export function logMessagesOf(output: string): string {
  return output
    .split('\n')
    .map((line) => {
      if (!line.startsWith('{')) return line
      try {
        const parsed = JSON.parse(line) as { msg?: unknown }
        return typeof parsed.msg === 'string' ? parsed.msg : line
      } catch {
        return line
      }
    })
    .join('\n')
}
