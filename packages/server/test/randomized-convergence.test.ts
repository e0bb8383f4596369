import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { WebSocket } from 'ws'
import { createLevelStorage } from '@quire/server'
import {
  assertConverged,
  docFromUpdates,
  findDivergence,
  isExtensiveRun,
  readSeeds,
  runWithSeed,
  startQuireServer,
  type Prng,
  type QuireServerFixture
} from '@quire/testkit'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * Seeded randomized convergence through a real server: stock y-websocket clients make
 * random edits to Y.Text, Y.Map and Y.Array while randomly disconnecting (politely or by
 * dropping the socket) and reconnecting, with network delivery interleaved by yielding
 * to the event loop at random points. In the end every client, the log the server stored
 * (read straight from LevelDB after shutdown), and a fresh client of the restarted server
 * must hold the same document.
 *
 * Rerun one seed with the printed line, e.g. `QUIRE_SEED=2 pnpm vitest run -t "randomized convergence"`.
 */

const TEST_NAME = 'randomized convergence'
const extensive = isExtensiveRun()
const SEEDS = extensive ? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] : [1, 2, 3]
const CLIENTS = extensive ? 8 : 5
const OPERATIONS = extensive ? 10_000 : 1_000
const ROOM = 'randomized room'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** One random edit by `client`; returns a short description for the failure log. */
function randomEdit(prng: Prng, doc: Y.Doc): string {
  const text = doc.getText('text')
  const map = doc.getMap<unknown>('map')
  const array = doc.getArray<unknown>('array')
  const choice = prng.int(0, 9)
  switch (choice) {
    case 0:
    case 1:
    case 2: {
      const index = prng.int(0, text.length)
      const content = prng.string(prng.int(1, 6))
      text.insert(index, content)
      return `text.insert(${index}, ${JSON.stringify(content)})`
    }
    case 3: {
      if (text.length === 0) return 'noop'
      const index = prng.int(0, text.length - 1)
      const length = prng.int(1, Math.min(5, text.length - index))
      text.delete(index, length)
      return `text.delete(${index}, ${length})`
    }
    case 4: {
      if (text.length === 0) return 'noop'
      const index = prng.int(0, text.length - 1)
      const length = prng.int(1, text.length - index)
      text.format(index, length, { bold: prng.bool() ? true : null })
      return `text.format(${index}, ${length})`
    }
    case 5: {
      const key = `k${prng.int(0, 7)}`
      const value = prng.bool(0.8) ? prng.pick([prng.int(0, 1000), prng.string(3), [prng.int(0, 9)], { nested: prng.bool() }]) : new Y.Map([['inner', prng.string(2)]])
      map.set(key, value)
      return `map.set(${key})`
    }
    case 6: {
      const key = `k${prng.int(0, 7)}`
      map.delete(key)
      return `map.delete(${key})`
    }
    case 7:
    case 8: {
      const index = prng.int(0, array.length)
      const values = Array.from({ length: prng.int(1, 3) }, () => prng.int(0, 99))
      array.insert(index, values)
      return `array.insert(${index}, ${values.length})`
    }
    default: {
      if (array.length === 0) return 'noop'
      const index = prng.int(0, array.length - 1)
      const length = prng.int(1, Math.min(3, array.length - index))
      array.delete(index, length)
      return `array.delete(${index}, ${length})`
    }
  }
}

/** Lets sockets and the server run for a turn of the event loop. */
const yieldToNetwork = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function runScenario(prng: Prng): Promise<void> {
  const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-random-'))
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
  // A low compaction threshold makes log compaction run during the scenario too.
  const serverOptions = { dataDir, compactAfter: 150 }
  let server: QuireServerFixture = await startQuireServer(serverOptions)
  cleanups.push(() => server.close())

  const clients: StockClient[] = []
  cleanups.push(() => {
    for (const c of clients) c.provider.destroy()
  })
  for (let i = 0; i < CLIENTS; i++) {
    const doc = new Y.Doc()
    // Client ids decide tie-breaks between concurrent edits; seed them for reproducibility.
    doc.clientID = prng.int(1, 2 ** 31 - 1)
    clients.push(createStockClient(server.url, ROOM, { doc, maxBackoffTime: 50 }))
  }
  const names = clients.map((_, i) => `client ${i}`)
  const docs = clients.map((c) => c.doc)
  await Promise.all(clients.map((c) => c.synced()))

  let disconnects = 0
  let drops = 0
  for (let op = 0; op < OPERATIONS; op++) {
    const client = prng.pick(clients)
    const roll = prng.next()
    if (roll < 0.02) {
      if (client.provider.shouldConnect) {
        client.provider.disconnect()
        disconnects++
      } else {
        client.provider.connect()
      }
    } else if (roll < 0.03) {
      // The network vanishes under a connected client; y-websocket reconnects by itself.
      const socket = client.provider.ws as unknown as WebSocket | null
      if (socket !== null && client.provider.wsconnected) {
        socket.terminate()
        drops++
      }
    } else {
      randomEdit(prng, client.doc)
    }
    if (prng.bool(0.5)) await yieldToNetwork()
    if (prng.bool(0.02)) for (let i = prng.int(1, 20); i > 0; i--) await yieldToNetwork()
  }

  // Everyone back online; wait for the dust to settle.
  for (const client of clients) if (!client.provider.shouldConnect) client.provider.connect()
  await waitUntil(() => clients.every((c) => c.provider.synced) && findDivergence(docs, { names }) === null, {
    timeoutMs: 60_000,
    describe: () => `${clients.filter((c) => !c.provider.synced).length} clients unsynced; ${findDivergence(docs, { names }) ?? 'docs equal'}`
  })
  assertConverged(docs, { names })
  expect(disconnects + drops, 'the scenario exercised disconnects').toBeGreaterThan(0)

  // The stored log, read straight from LevelDB once the server has shut down.
  for (const c of clients) c.provider.destroy()
  await server.close()
  const storage = await createLevelStorage(dataDir)
  const stored = await storage.load(ROOM)
  await storage.close()
  const storedDoc = docFromUpdates(stored.updates)
  assertConverged([...docs, storedDoc], { names: [...names, 'stored log'] })

  // And what a restarted server serves to a new client.
  server = await startQuireServer(serverOptions)
  const fresh = createStockClient(server.url, ROOM)
  cleanups.push(() => fresh.destroy())
  await fresh.synced()
  await waitUntil(() => findDivergence([...docs, fresh.doc]) === null, {
    describe: () => findDivergence([...docs, fresh.doc], { names: [...names, 'fresh client'] }) ?? ''
  })
  assertConverged([...docs, storedDoc, fresh.doc], { names: [...names, 'stored log', 'fresh client after restart'] })
}

describe(`${CLIENTS} stock clients, ${OPERATIONS} random operations with disconnects`, () => {
  it.each(readSeeds(SEEDS))(`${TEST_NAME} (seed %i)`, (seed) => runWithSeed(TEST_NAME, seed, runScenario), extensive ? 600_000 : 120_000)
})
