import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, it } from 'vitest'
import * as Y from 'yjs'
import { encodeMessage } from '@quire/protocol'
import { createLevelStorage } from '@quire/server'
import {
  assertConverged,
  docFromUpdates,
  findDivergence,
  readSeeds,
  runWithSeed,
  startQuireServer,
  type Prng,
  type QuireServerFixture
} from '@quire/testkit'
import { openRawClient, type RawClient } from './raw-client.js'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * Updates reach a server in any order: a client relays what it got from offline peers,
 * or sends edits that depend on structs the server has not seen yet. The room holds
 * them as encoded updates with gaps (no Y.Doc), so its state vector, its sync step 2
 * replies, its relays and its stored log must all stay right while dependencies are
 * missing, and the document must come out whole once they arrive.
 *
 * Seeded: several source docs edit and sync among themselves; every update they emit
 * is sent to the server in a shuffled order over several raw connections.
 */

const TEST_NAME = 'updates in any order'
const ROOM = 'out of order'
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function createSourceUpdates(prng: Prng): Uint8Array[] {
  const sources = [1, 2, 3].map((id) => {
    const doc = new Y.Doc()
    doc.clientID = id
    return doc
  })
  const updates: Uint8Array[] = []
  for (const doc of sources) {
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== 'exchange') updates.push(update)
    })
  }
  for (let step = 0; step < 150; step++) {
    const doc = prng.pick(sources)
    const text = doc.getText('t')
    const roll = prng.int(0, 9)
    if (roll < 5) text.insert(prng.int(0, text.length), prng.string(prng.int(1, 4)))
    else if (roll < 7 && text.length > 0) {
      const index = prng.int(0, text.length - 1)
      text.delete(index, prng.int(1, Math.min(3, text.length - index)))
    } else if (roll < 9) doc.getMap('m').set(`k${prng.int(0, 4)}`, prng.int(0, 99))
    else {
      // Sources sync with each other now and then, so later edits build on others' structs.
      const other = prng.pick(sources)
      if (other !== doc) Y.applyUpdate(doc, Y.encodeStateAsUpdate(other, Y.encodeStateVector(doc)), 'exchange')
    }
  }
  return updates
}

function shuffle<T>(prng: Prng, items: readonly T[]): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.int(0, i)
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}

async function runScenario(prng: Prng): Promise<void> {
  const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-order-'))
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
  let server: QuireServerFixture = await startQuireServer({ dataDir, compactAfter: 40 })
  cleanups.push(() => server.close())
  const stock: StockClient[] = []
  cleanups.push(() => {
    for (const c of stock) c.destroy()
  })

  const updates = createSourceUpdates(prng)
  const reference = docFromUpdates(updates)
  const shuffled = shuffle(prng, updates)

  const early = createStockClient(server.url, ROOM)
  stock.push(early)
  await early.synced()
  const senders: RawClient[] = []
  for (let i = 0; i < 3; i++) {
    const sender = await openRawClient(server.url, ROOM)
    cleanups.push(() => sender.close())
    senders.push(sender)
  }
  let middle: StockClient | null = null
  for (const [i, update] of shuffled.entries()) {
    await prng.pick(senders).send(encodeMessage({ type: 'sync-update', update }))
    if (i === Math.floor(shuffled.length / 2)) {
      // A client that joins while the server's state still has gaps.
      middle = createStockClient(server.url, ROOM)
      stock.push(middle)
    }
  }
  if (middle === null) throw new Error('unreachable')
  const late = createStockClient(server.url, ROOM)
  stock.push(late)
  await Promise.all(stock.map((c) => c.synced()))
  const docs = [reference, early.doc, middle.doc, late.doc]
  const names = ['reference', 'joined first', 'joined midway', 'joined last']
  await waitUntil(() => findDivergence(docs) === null, { describe: () => findDivergence(docs, { names }) ?? '' })
  assertConverged(docs, { names })

  for (const c of stock.splice(0)) c.destroy()
  for (const s of senders) s.close()
  await server.close()
  const storage = await createLevelStorage(dataDir)
  const stored = docFromUpdates((await storage.load(ROOM)).updates)
  await storage.close()
  server = await startQuireServer({ dataDir })
  const fresh = createStockClient(server.url, ROOM)
  stock.push(fresh)
  await fresh.synced()
  const all = [reference, stored, fresh.doc]
  await waitUntil(() => findDivergence(all) === null, { describe: () => findDivergence(all, { names: ['reference', 'stored log', 'fresh client'] }) ?? '' })
  assertConverged(all, { names: ['reference', 'stored log', 'fresh client after restart'] })
}

describe('out-of-order updates through the server', () => {
  it.each(readSeeds([1, 2, 3]))(`${TEST_NAME} (seed %i)`, (seed) => runWithSeed(TEST_NAME, seed, runScenario), 60_000)
})
