import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { Level } from 'level'
import { createLevelStorage } from '@quire/server'
import { docFromUpdates, readSeeds, runWithSeed } from '@quire/testkit'

/**
 * The LevelDB storage writes each group commit as one record across documents and
 * moves those records into each document's own log later (a checkpoint). A process
 * killed in between must lose nothing and resurrect nothing: the reopened store holds
 * exactly what every document held at the last write, update for update, whether the
 * updates were still in commit records, already checkpointed, written to a document's
 * log directly (large updates), covered by a compaction's snapshot, or deleted.
 */

// Commit keys start with 'c' (src/storage/document-key.ts).
const COMMIT_TAG = 0x63
const CHILD = fileURLToPath(new URL('./fixtures/level-storage-crash-child.mjs', import.meta.url))
// Enough commits to pass the checkpoint threshold (256) once, so both sides of it are crossed.
const OPERATIONS = 400

interface Expected {
  operations: number
  docs: Record<string, { text: string; updates: number; snapshot: boolean }>
}

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

async function runUntilKilled(dataDir: string, seed: number): Promise<Expected> {
  const child = spawn(process.execPath, [CHILD, dataDir, String(seed), String(OPERATIONS)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, sig) => resolve(sig)))
  if (signal !== 'SIGKILL') throw new Error(`the child should have killed itself, it exited with ${signal}: ${stderr}`)
  const expected = JSON.parse(stdout) as Expected
  expect(expected.operations).toBe(OPERATIONS)
  return expected
}

describe('LevelDB storage after kill -9', () => {
  for (const seed of readSeeds([1, 2, 3])) {
    it(`holds exactly what was written, whatever stage commit records were in (seed ${seed})`, () =>
      runWithSeed('LevelDB storage after kill -9', seed, async () => {
        const dataDir = await mkdtemp(join(tmpdir(), 'quire-recovery-'))
        dirs.push(dataDir)
        const expected = await runUntilKilled(dataDir, seed)
        const storage = await createLevelStorage(dataDir)
        try {
          expect((await storage.list()).sort()).toEqual(Object.keys(expected.docs).sort())
          for (const [name, want] of Object.entries(expected.docs)) {
            const log = await storage.load(name)
            expect(docFromUpdates(log.updates).getText('t').toString(), JSON.stringify(name)).toBe(want.text)
            // Update for update: nothing the checkpoint or a compaction covered comes back.
            expect({ updates: log.updates.length, snapshot: log.startsWithSnapshot }, JSON.stringify(name)).toEqual({ updates: want.updates, snapshot: want.snapshot })
          }
        } finally {
          await storage.close()
        }
        // And once more after a clean close, which checkpoints what recovery read back.
        const reopened = await createLevelStorage(dataDir)
        try {
          for (const [name, want] of Object.entries(expected.docs)) expect((await reopened.load(name)).updates).toHaveLength(want.updates)
        } finally {
          await reopened.close()
        }
        // Every commit record was moved into the documents' logs and deleted.
        const raw = new Level<Uint8Array, Uint8Array>(dataDir, { keyEncoding: 'view', valueEncoding: 'view' })
        try {
          expect(await raw.keys({ gte: Uint8Array.of(COMMIT_TAG), lt: Uint8Array.of(COMMIT_TAG + 1) }).all()).toEqual([])
        } finally {
          await raw.close()
        }
      }))
  }
})
