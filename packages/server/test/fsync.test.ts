import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { QUIRE_BIN } from '@quire/testkit'
import { describeUnsaved, foldSaved } from './saved-state.js'
import { createStockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * fsync stays on. Every kill -9 test passes without it: the kernel's page cache outlives
 * the process, so only a power loss or a kernel crash tells a write that reached the disk
 * from one that reached the cache. No test can cut the power, so these watch the system
 * calls instead: the process runs under `strace -f -y -e trace=fsync,fdatasync`, and
 * each acknowledged commit must be matched by a sync of LevelDB's write-ahead log
 * (`<data dir>/NNNNNN.log`; LevelDB syncs it with fdatasync on Linux when a write asks
 * for `sync: true`, and never otherwise).
 *
 * Why strace and not an in-process spy on LevelDB's `batch` options: the spy would check
 * that we pass `{ sync: true }` to one API we happen to use today, and would miss a write
 * path that goes around it (another call, a chained batch, a new storage). The system
 * call is the guarantee itself, whatever code asks for it. strace comes from Debian
 * (scripts/ensure-system-packages.mjs installs it; `pnpm test` and .ci/run call it).
 *
 * Three subjects, each with its defaults: `quire serve`, `createServer({ dataDir })` and
 * `createLevelStorage(dir)`. `quire serve --no-fsync` is the control: the same count is 0
 * there, so the check can tell the difference.
 */

const COMMITS = 5
const CHILD = fileURLToPath(new URL('./fixtures/default-storage-child.mjs', import.meta.url))

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(joinPath(tmpdir(), 'quire-fsync-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function requireStrace(): void {
  const probe = spawnSync('strace', ['-V'], { encoding: 'utf8' })
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(`strace is needed to watch fsync calls and is missing: run \`node scripts/ensure-system-packages.mjs\` (as root it installs Debian's strace) (${String(probe.error ?? probe.stderr)})`)
  }
}

interface Traced {
  readonly output: () => string
  /** Resolves with the first stdout match of `pattern`. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>
  /** kill -9 the traced node process, wait for strace to exit, and return the sync calls it saw, one per line. */
  killAndReadSyncs(): Promise<string[]>
}

/** Runs `node ...args` under strace, writing the trace to a file. */
async function runTraced(args: readonly string[]): Promise<Traced> {
  requireStrace()
  const traceFile = joinPath(await tempDir(), 'strace.txt')
  const child: ChildProcess = spawn('strace', ['-f', '-qq', '-y', '-e', 'trace=fsync,fdatasync', '-o', traceFile, '--', process.execPath, ...args], {
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
  return {
    output: () => output,
    async waitFor(pattern) {
      let match: RegExpExecArray | null = null
      await waitUntil(() => (match = pattern.exec(output)) !== null || exitedNow, { describe: () => `no ${pattern} in:\n${output}` })
      if (match === null) throw new Error(`the traced process exited before printing ${pattern}:\n${output}`)
      return match
    },
    async killAndReadSyncs() {
      process.kill(nodePid(), 'SIGKILL')
      await exited
      return (await readFile(traceFile, 'utf8')).split('\n').filter((line) => /\b(fsync|fdatasync)\(/.test(line))
    }
  }
}

/** The sync calls on LevelDB's write-ahead log in `dataDir`. */
function logSyncs(syncs: readonly string[], dataDir: string): string[] {
  const log = new RegExp(`\\b(fsync|fdatasync)\\(\\d+<${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\d+\\.log>\\) = 0`)
  return syncs.filter((line) => log.test(line))
}

/** COMMITS edits, each acknowledged before the next is made, so each is its own group commit. */
async function commitOneByOne(url: string): Promise<void> {
  const writer = createStockClient(url, 'durable', { quire: true })
  cleanups.push(() => writer.destroy())
  await writer.synced()
  for (let i = 0; i < COMMITS; i++) {
    writer.doc.getText('t').insert(0, `edit ${i} `)
    await waitUntil(() => describeUnsaved(writer.doc, foldSaved(writer.quireMessages)) === null, {
      describe: () => `edit ${i}: ${describeUnsaved(writer.doc, foldSaved(writer.quireMessages))}`
    })
  }
}

async function serveAndCommit(args: readonly string[]): Promise<{ dataDir: string; syncs: string[] }> {
  const dataDir = await tempDir()
  const traced = await runTraced(args.map((arg) => (arg === '<data>' ? dataDir : arg)))
  const [, url] = await traced.waitFor(/quire listening on http:\/\/(127\.0\.0\.1:\d+)/)
  await commitOneByOne(`ws://${url}`)
  return { dataDir, syncs: await traced.killAndReadSyncs() }
}

describe('fsync is on by default', () => {
  it('quire serve syncs LevelDB\'s log for every acknowledged commit', async () => {
    const { dataDir, syncs } = await serveAndCommit([QUIRE_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', '<data>'])
    expect(logSyncs(syncs, dataDir).length, `sync calls seen:\n${syncs.join('\n')}`).toBeGreaterThanOrEqual(COMMITS)
  })

  it('quire serve --no-fsync does not (the control: the count above can tell the difference)', async () => {
    const { dataDir, syncs } = await serveAndCommit([QUIRE_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', '<data>', '--no-fsync'])
    expect(logSyncs(syncs, dataDir), `sync calls seen:\n${syncs.join('\n')}`).toEqual([])
  })

  it('createServer({ dataDir }) syncs LevelDB\'s log for every acknowledged commit', async () => {
    const { dataDir, syncs } = await serveAndCommit([CHILD, 'server', '<data>'])
    expect(logSyncs(syncs, dataDir).length, `sync calls seen:\n${syncs.join('\n')}`).toBeGreaterThanOrEqual(COMMITS)
  })

  it('createLevelStorage(dir) syncs its log on every append', async () => {
    const dataDir = await tempDir()
    const traced = await runTraced([CHILD, 'storage', dataDir, String(COMMITS)])
    await traced.waitFor(new RegExp(`appended ${COMMITS}`))
    const syncs = await traced.killAndReadSyncs()
    expect(logSyncs(syncs, dataDir).length, `sync calls seen:\n${syncs.join('\n')}`).toBeGreaterThanOrEqual(COMMITS)
  })
})
