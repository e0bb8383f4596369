import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { QUIRE_BIN } from '@quire/testkit'
import { describeUnsaved, foldSaved } from './saved-state.js'
import { createStockClient } from './stock-client.js'
import { runTraced } from './traced-process.js'
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
 * call is the guarantee itself, whatever code asks for it (see traced-process.ts).
 *
 * Three subjects, each with its defaults: `quire serve`, `createServer({ dataDir })` and
 * `createLevelStorage(dir)`. `quire serve --no-fsync` is the control: the same count is 0
 * there, so the check can tell the difference.
 */

const COMMITS = 5
const SYNC_CALLS = { calls: ['fsync', 'fdatasync'], decode: '-y' } as const
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
  const traced = await runTraced(args.map((arg) => (arg === '<data>' ? dataDir : arg)), SYNC_CALLS, cleanups)
  const [, url] = await traced.waitFor(/quire listening on http:\/\/(127\.0\.0\.1:\d+)/)
  await commitOneByOne(`ws://${url}`)
  return { dataDir, syncs: await traced.killAndReadCalls() }
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
    const traced = await runTraced([CHILD, 'storage', dataDir, String(COMMITS)], SYNC_CALLS, cleanups)
    await traced.waitFor(new RegExp(`appended ${COMMITS}`))
    const syncs = await traced.killAndReadCalls()
    expect(logSyncs(syncs, dataDir).length, `sync calls seen:\n${syncs.join('\n')}`).toBeGreaterThanOrEqual(COMMITS)
  })
})
