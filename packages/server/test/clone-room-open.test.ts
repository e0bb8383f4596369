import { afterEach, describe, expect, it } from 'vitest'
import type { Storage } from '@quire/server'
import { createPostgresStorage } from '@quire/postgres'
import { createRedisFanout } from '@quire/redis'
import { startQuireServer, withRedis, type QuireServerFixture } from '@quire/testkit'
import { describeUnsaved, foldSaved } from './saved-state.js'
import { joinClone, ownStores } from './clone-cluster.js'
import type { StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * A clone opening a room must not miss an update another clone commits while it loads.
 * Here the load of one clone is held after its query ran, while a client of the other
 * clone writes. That clone has the room to itself, so it publishes nothing for it: the
 * update reaches the opening clone only through the exchange that follows its `open`
 * mark (the writer's clone answers, and the opener catches the room up from storage).
 * Without that catch-up the update is missed for good.
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** `inner`, except that the next load of `room` holds its result until `release()`. */
function holdNextLoad(inner: Storage, room: string): { storage: Storage; queried: Promise<void>; release(): void } {
  let release!: () => void
  let queried!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  const queriedPromise = new Promise<void>((resolve) => (queried = resolve))
  let held = false
  return {
    storage: {
      ...inner,
      load: async (doc) => {
        const log = await inner.load(doc)
        if (doc === room && !held) {
          held = true
          queried()
          await released
        }
        return log
      },
      append: (batch) => inner.append(batch),
      replace: (doc, snapshot, upToSeq) => inner.replace(doc, snapshot, upToSeq),
      list: () => inner.list(),
      delete: (doc) => inner.delete(doc),
      close: () => inner.close()
    },
    queried: queriedPromise,
    release
  }
}

async function startClone(storage: Storage, redisUrl: string, prefix: string): Promise<QuireServerFixture> {
  const fanout = createRedisFanout({ url: redisUrl, prefix })
  expect(await fanout.whenConnected(5000)).toBe(true)
  const clone = await startQuireServer({ storage, fanout })
  cleanups.push(async () => {
    await clone.close()
    await fanout.close()
    await storage.close()
  })
  return clone
}

const join = (server: QuireServerFixture, room: string, quire = false): StockClient => joinClone(server, room, cleanups, { quire })

describe('a clone opening a room', () => {
  it('does not miss an update another clone commits between its load and its subscription', async () => {
    const { schema, redis } = await ownStores('gap', cleanups)
    const room = 'gap'
    const writerClone = await startClone(await createPostgresStorage({ connectionString: schema.url }), redis.url, redis.prefix)
    const held = holdNextLoad(await createPostgresStorage({ connectionString: schema.url }), room)
    const openingClone = await startClone(held.storage, redis.url, redis.prefix)

    const writer = join(writerClone, room, true)
    await writer.synced()
    const reader = join(openingClone, room)
    // The opening clone has read the log; its result is held.
    await held.queried
    writer.doc.getText('t').insert(0, 'written while the other clone was loading')
    // Durable (acknowledged) before the opening clone goes on.
    await waitUntil(() => describeUnsaved(writer.doc, foldSaved(writer.quireMessages)) === null)
    // Nobody else had the room open: the writer's clone published nothing but its open mark.
    const entries = (await withRedis((r) => r.xrange(`${redis.prefix}rooms`, '-', '+'))) as [string, string[]][]
    expect(entries.map(([, fields]) => fields[5])).toEqual(['open'])
    expect((await redis.keys()).filter((key) => key.includes(':inbox:'))).toEqual([])
    held.release()
    await reader.synced()
    await waitUntil(() => reader.doc.getText('t').toString() === writer.doc.getText('t').toString(), {
      timeoutMs: 5000,
      describe: () => `the reader has ${JSON.stringify(reader.doc.getText('t').toString())}`
    })
  })
})
