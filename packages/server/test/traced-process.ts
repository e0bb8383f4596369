import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { waitUntil } from './wait-until.js'

/**
 * A node process run under strace, for tests whose guarantee is a system call (an fsync,
 * the number of writes to a socket): the call is the guarantee itself, whatever code
 * asks for it. strace comes from Debian (scripts/ensure-system-packages.mjs installs it;
 * `pnpm test` and .ci/run call it).
 */
export interface Traced {
  readonly output: () => string
  /** Resolves with the first stdout match of `pattern`. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>
  /** kill -9 the traced node process, wait for strace to exit, and return the calls it saw, one per line. */
  killAndReadCalls(): Promise<string[]>
}

function requireStrace(): void {
  const probe = spawnSync('strace', ['-V'], { encoding: 'utf8' })
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(`strace is needed to watch system calls and is missing: run \`node scripts/ensure-system-packages.mjs\` (as root it installs Debian's strace) (${String(probe.error ?? probe.stderr)})`)
  }
}

/**
 * Runs `node ...args` under `strace -f -qq <decode> -e trace=<calls>`, writing the trace to a
 * file; `decode` is `-y` (file descriptors with their paths) or `-yy` (sockets with their
 * addresses too). `cleanups` gets what undoes it.
 */
export async function runTraced(
  args: readonly string[],
  trace: { readonly calls: readonly string[]; readonly decode: '-y' | '-yy' },
  cleanups: (() => Promise<void> | void)[]
): Promise<Traced> {
  requireStrace()
  const dir = await mkdtemp(joinPath(tmpdir(), 'quire-strace-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const traceFile = joinPath(dir, 'strace.txt')
  const child: ChildProcess = spawn('strace', ['-f', '-qq', trace.decode, '-e', `trace=${trace.calls.join(',')}`, '-o', traceFile, '--', process.execPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let exitedNow = false
  void exited.then(() => (exitedNow = true))
  // strace's own child is the node process.
  const nodePid = (): number => {
    const children = spawnSync('cat', [`/proc/${child.pid}/task/${child.pid}/children`], { encoding: 'utf8' }).stdout.trim().split(/\s+/)
    const pid = Number(children[0])
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`strace (${child.pid}) has no child process; output:\n${output}`)
    return pid
  }
  cleanups.push(async () => {
    if (!exitedNow) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const called = new RegExp(`\\b(${trace.calls.join('|')})\\(`)
  return {
    output: () => output,
    async waitFor(pattern) {
      let match: RegExpExecArray | null = null
      await waitUntil(() => (match = pattern.exec(output)) !== null || exitedNow, { describe: () => `no ${pattern} in:\n${output}` })
      if (match === null) throw new Error(`the traced process exited before printing ${pattern}:\n${output}`)
      return match
    },
    async killAndReadCalls() {
      process.kill(nodePid(), 'SIGKILL')
      await exited
      return (await readFile(traceFile, 'utf8')).split('\n').filter((line) => called.test(line))
    }
  }
}
