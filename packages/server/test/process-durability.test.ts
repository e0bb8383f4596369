import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createLevelStorage, type Storage } from '@quire/server'
import { createPostgresStorage } from '@quire/postgres'
import {
  assertConverged,
  createTestSchema,
  docFromUpdates,
  findDivergence,
  readSeeds,
  runWithSeed,
  spawnQuireServer,
  type Prng,
  type SpawnedQuireServer
} from '@quire/testkit'
import { describeLostAcknowledged, describeUnsaved, foldSaved, type SavedState } from './saved-state.js'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * Durability of the real CLI process (`quire serve`, built by the vitest global setup):
 * what the server acknowledged survives `kill -9`, unacknowledged edits come back
 * through the normal sync handshake when the client reconnects, and SIGTERM flushes
 * every received write before exiting. The same on the embedded LevelDB and on
 * PostgreSQL (`--postgres`, a schema of the test's own).
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(joinPath(tmpdir(), 'quire-process-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Where a test's server keeps documents: what `quire serve` is told, and how the test reads them back. */
interface Store {
  readonly dataDir: string
  readonly args: readonly string[]
  open(): Promise<Storage>
}

const STORES: ReadonlyArray<{ name: string; create: () => Promise<Store> }> = [
  {
    name: 'LevelDB',
    async create() {
      const dataDir = await tempDir()
      return { dataDir, args: [], open: () => createLevelStorage(dataDir) }
    }
  },
  {
    name: 'PostgreSQL',
    async create() {
      const schema = await createTestSchema('process')
      cleanups.push(() => schema.drop())
      // The data directory is still given, as clones are: it must not be what keeps the documents.
      const dataDir = await tempDir()
      return { dataDir, args: ['--postgres', schema.url], open: () => createPostgresStorage({ connectionString: schema.url }) }
    }
  }
]

let store: Store

async function spawn(port?: number): Promise<SpawnedQuireServer> {
  const { dataDir, args } = store
  const server = await spawnQuireServer(port === undefined ? { dataDir, args } : { dataDir, args, port })
  cleanups.push(() => server.kill('SIGKILL'))
  return server
}

function join(server: SpawnedQuireServer, room: string, options: { quire?: boolean } = {}): StockClient {
  const client = createStockClient(server.url, room, { ...options, maxBackoffTime: 100 })
  cleanups.push(() => client.destroy())
  return client
}

/** A burst of edits of every kind, each its own transaction (its own update on the wire). */
function editBurst(doc: Y.Doc, round: number): void {
  const text = doc.getText('t')
  for (let i = 0; i < 40; i++) text.insert(text.length, `r${round}w${i} `)
  text.delete(0, 5)
  doc.getMap('m').set(`round ${round}`, { edits: 40 })
  if (round > 0) doc.getMap('m').delete(`round ${round - 1}`)
  doc.getArray<number>('a').push([round])
}

async function loadStored(room: string): Promise<Y.Doc> {
  const storage = await store.open()
  try {
    return docFromUpdates((await storage.load(room)).updates)
  } finally {
    await storage.close()
  }
}

describe.each(STORES)('the quire serve process on $name', ({ create }) => {
  beforeEach(async () => {
    store = await create()
  })

  it('everything acknowledged survives kill -9', async () => {
    const room = 'acknowledged'
    let server = await spawn()
    const writer = join(server, room, { quire: true })
    await writer.synced()

    let acknowledged: SavedState = foldSaved([])
    for (let round = 0; round < 3; round++) {
      editBurst(writer.doc, round)
      await waitUntil(() => describeUnsaved(writer.doc, foldSaved(writer.quireMessages)) === null, {
        describe: () => describeUnsaved(writer.doc, foldSaved(writer.quireMessages)) ?? ''
      })
      acknowledged = foldSaved(writer.quireMessages)
    }
    // More edits in flight, unacknowledged, when the process dies.
    editBurst(writer.doc, 3)
    await server.kill('SIGKILL')
    writer.provider.disconnect()

    server = await spawn()
    const reader = join(server, room)
    await reader.synced()
    expect(describeLostAcknowledged(reader.doc, acknowledged)).toBeNull()
    // Spot checks on top of the exact coverage check: an acknowledged deletion and inserts.
    expect(reader.doc.getMap('m').has('round 1')).toBe(false)
    expect(reader.doc.getArray<number>('a').toArray().slice(0, 3)).toEqual([0, 1, 2])
    await server.kill('SIGKILL')
    expect(describeLostAcknowledged(await loadStored(room), acknowledged)).toBeNull()
  })

  it('after kill -9 and a restart on the same port, the writer resends what was not acknowledged', async () => {
    const room = 'resent'
    let server = await spawn()
    const port = server.port
    const writer = join(server, room, { quire: true })
    await writer.synced()
    for (let round = 0; round < 3; round++) {
      editBurst(writer.doc, round)
      if (round === 1) await server.kill('SIGKILL') // the writer keeps editing offline
    }
    server = await spawn(port)
    // y-websocket reconnects by itself; the sync handshake carries the missing edits.
    await writer.synced(30_000)
    await waitUntil(() => describeUnsaved(writer.doc, foldSaved(writer.quireMessages)) === null, {
      describe: () => describeUnsaved(writer.doc, foldSaved(writer.quireMessages)) ?? ''
    })
    const reader = join(server, room)
    await reader.synced()
    await waitUntil(() => findDivergence([writer.doc, reader.doc]) === null, { describe: () => findDivergence([writer.doc, reader.doc]) ?? '' })
    assertConverged([writer.doc, reader.doc])
  })

  it('SIGTERM flushes every received write before the process exits', async () => {
    const rooms = ['graceful one', 'graceful two']
    const server = await spawn()
    const writers = rooms.map((room) => join(server, room))
    const observers = rooms.map((room) => join(server, room))
    await Promise.all([...writers, ...observers].map((c) => c.synced()))
    writers.forEach((writer, i) => editBurst(writer.doc, i))
    // Once the observers hold the writers' edits, the server has received all of them.
    await waitUntil(() => writers.every((w, i) => findDivergence([w.doc, (observers[i] as StockClient).doc]) === null))
    const closeCodes: number[] = []
    for (const writer of writers) {
      writer.provider.on('connection-close', (event: { code: number } | null) => {
        if (event) closeCodes.push(event.code)
      })
    }
    await server.kill('SIGTERM')
    expect(server.output()).not.toMatch(/error/i)
    // 1012 (service restart): clients reconnect at once, behind a balancer to another clone.
    // The first close of each writer; then they retry the stopped server every 100 ms
    // (1006 each time), which on a loaded machine begins before the process has exited.
    await waitUntil(() => closeCodes.length >= writers.length, { describe: () => JSON.stringify(closeCodes) })
    expect(closeCodes.slice(0, writers.length)).toEqual(writers.map(() => 1012))
    for (const [i, room] of rooms.entries()) {
      const stored = await loadStored(room)
      assertConverged([(writers[i] as StockClient).doc, stored], { names: ['writer', 'stored after SIGTERM'] })
    }
  })

  // Writers keep typing while the process is killed at seeded random moments; after
  // each restart every writer's acknowledged state must be stored, and in the end all
  // writers (reconnecting by themselves) and the store agree.
  it.each(readSeeds([101, 202]))('kill -9 at random moments while several writers type (seed %i)', (seed) =>
    runWithSeed('kill -9 at random moments', seed, async (prng: Prng) => {
        const rooms = ['crash a', 'crash b']
      let server = await spawn()
      const port = server.port
      const writers = [0, 1, 2].map((i) => {
        const doc = new Y.Doc()
        doc.clientID = 1000 + i
        const client = createStockClient(server.url, rooms[i % 2] as string, { doc, quire: true, maxBackoffTime: 100 })
        cleanups.push(() => client.destroy())
        return client
      })
      await Promise.all(writers.map((w) => w.synced()))

      let typing = true
      const typists = writers.map(async (writer, i) => {
        let step = 0
        while (typing) {
          const text = writer.doc.getText('t')
          text.insert(prng.int(0, text.length), `${i}:${step++} `)
          if (prng.bool(0.2) && text.length > 10) text.delete(prng.int(0, text.length - 5), prng.int(1, 4))
          if (prng.bool(0.1)) writer.doc.getMap('m').set(`k${prng.int(0, 3)}`, step)
          // Typing pace (~100 keystrokes/s per writer): fast, but inside the server's per-connection rate limit.
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
      })

      for (let crash = 0; crash < 3; crash++) {
        const ackTarget = writers.map((w) => w.quireMessages.length + prng.int(1, 15))
        await waitUntil(() => writers.every((w, i) => w.quireMessages.length >= (ackTarget[i] as number)), {
          timeoutMs: 30_000,
          describe: () => `acks ${writers.map((w) => w.quireMessages.length).join('/')} of ${ackTarget.join('/')}; server output:\n${server.output().slice(-2000)}`
        })
        // What each writer was told is durable, taken in the same turn as the kill.
        const acknowledged = writers.map((w) => foldSaved(w.quireMessages))
        await server.kill('SIGKILL')
        for (const [i, room] of rooms.entries()) {
          const stored = await loadStored(room)
          for (const [w, writer] of writers.entries()) {
            if (w % 2 !== i) continue
            expect(describeLostAcknowledged(stored, acknowledged[w] as SavedState), `crash ${crash}, writer ${w}`).toBeNull()
            expect(writer.doc.clientID).toBe(1000 + w)
          }
        }
        server = await spawn(port)
      }

      typing = false
      await Promise.all(typists)
      await Promise.all(writers.map((w) => w.synced(30_000)))
      for (const [i, room] of rooms.entries()) {
        const group = writers.filter((_, w) => w % 2 === i).map((w) => w.doc)
        const reader = join(server, room)
        await reader.synced()
        const docs = [...group, reader.doc]
        await waitUntil(() => findDivergence(docs) === null, { timeoutMs: 30_000, describe: () => findDivergence(docs) ?? '' })
        assertConverged(docs)
      }
    }),
    120_000
  )
})
