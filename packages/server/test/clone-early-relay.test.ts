import { afterEach, describe, expect, it } from 'vitest'
import type { Storage } from '@quire/server'
import { createPostgresStorage } from '@quire/postgres'
import { createRedisFanout } from '@quire/redis'
import { startQuireServer, withRedis, type QuireServerFixture, type TestRedisPrefix, type TestSchema } from '@quire/testkit'
import { describeUnsaved, foldSaved } from './saved-state.js'
import { joinClone, loadStored, ownStores } from './clone-cluster.js'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * A clone publishes what its peers send as soon as it accepts it, and says later which of
 * it is durable. Another clone relays it to its own peers at once, but takes it into the
 * room's state only once durable: what a room holds, it never stores again, and it
 * acknowledges a resend of it as saved. Here the publishing clone's storage writes are
 * held, so "accepted" and "durable" are far apart.
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** `inner`, except that while held, writes wait (in order) until released. */
function holdableAppends(inner: Storage): { storage: Storage; hold(): void; release(): void } {
  let gate: Promise<void> | null = null
  let open: () => void = () => {}
  return {
    storage: {
      ...inner,
      load: (doc) => inner.load(doc),
      append: async (batch) => {
        if (gate !== null) await gate
        return inner.append(batch)
      },
      replace: (doc, snapshot, upToSeq) => inner.replace(doc, snapshot, upToSeq),
      list: () => inner.list(),
      delete: (doc) => inner.delete(doc),
      close: () => inner.close()
    },
    hold() {
      gate ??= new Promise<void>((resolve) => (open = resolve))
    },
    release() {
      gate = null
      open()
    }
  }
}

interface Clone {
  readonly server: QuireServerFixture
  hold(): void
  release(): void
}

async function startClone(schemaUrl: string, redis: TestRedisPrefix): Promise<Clone> {
  const held = holdableAppends(await createPostgresStorage({ connectionString: schemaUrl }))
  const fanout = createRedisFanout({ url: redis.url, prefix: redis.prefix })
  expect(await fanout.whenConnected(5000)).toBe(true)
  const server = await startQuireServer({ storage: held.storage, fanout })
  cleanups.push(async () => {
    // Whatever is held is written before the clone stops (it drains its commits).
    held.release()
    await server.close()
    await fanout.close()
    await held.storage.close()
  })
  return { server, hold: () => held.hold(), release: () => held.release() }
}

const join = (clone: Clone, room: string, quire = false): StockClient => joinClone(clone.server, room, cleanups, { quire })
const textOf = (client: StockClient): string => client.doc.getText('t').toString()
const unsaved = (client: StockClient): string | null => describeUnsaved(client.doc, foldSaved(client.quireMessages))

async function startPair(tag: string): Promise<{ writerClone: Clone; otherClone: Clone; schema: TestSchema; redis: TestRedisPrefix }> {
  const { schema, redis } = await ownStores(tag, cleanups)
  // One after the other: the first creates the schema's tables.
  const writerClone = await startClone(schema.url, redis)
  const otherClone = await startClone(schema.url, redis)
  return { writerClone, otherClone, schema, redis }
}

describe('updates between clones before they are durable', () => {
  it('reach the other clone’s peers before they are durable, and peers that join before they are', async () => {
    const { writerClone, otherClone } = await startPair('early')
    const room = 'early'
    const writer = join(writerClone, room, true)
    const reader = join(otherClone, room)
    await Promise.all([writer.synced(), reader.synced()])

    writerClone.hold()
    writer.doc.getText('t').insert(0, 'before it is durable')
    await waitUntil(() => textOf(reader) === 'before it is durable', {
      describe: () => `the reader on the other clone has ${JSON.stringify(textOf(reader))}`
    })
    expect(unsaved(writer)).not.toBeNull()
    // Joins while the update is relayed but not durable: its sync reply (the room's state)
    // lacks it, so it must get it beside.
    const late = join(otherClone, room)
    await late.synced()
    await waitUntil(() => textOf(late) === 'before it is durable', {
      describe: () => `the peer that joined meanwhile has ${JSON.stringify(textOf(late))}`
    })

    writerClone.release()
    await waitUntil(() => unsaved(writer) === null, { describe: () => `the writer has unsaved changes: ${unsaved(writer)}` })
    // Durable now: in the other clone's state, so a newcomer's sync reply holds it.
    await waitUntil(async () => {
      const fresh = createStockClient(otherClone.server.url, room)
      try {
        await fresh.synced()
        return textOf(fresh) === 'before it is durable'
      } finally {
        fresh.destroy()
      }
    }, { describe: () => 'a newcomer on the other clone lacks the update once it is durable' })
  })

  it('are stored by the clone the writer moves to when the first never made them durable', async () => {
    const { writerClone, otherClone, schema } = await startPair('moved')
    const room = 'moved'
    const writer = join(writerClone, room, true)
    const reader = join(otherClone, room)
    await Promise.all([writer.synced(), reader.synced()])

    // The writer's clone never writes again (as if it died before its commit).
    writerClone.hold()
    writer.doc.getText('t').insert(0, 'never stored by its first clone')
    await waitUntil(() => textOf(reader) === 'never stored by its first clone', {
      describe: () => `the reader on the other clone has ${JSON.stringify(textOf(reader))}`
    })
    // The writer's client reconnects to the other clone with its document.
    writer.provider.destroy()
    const moved = createStockClient(otherClone.server.url, room, { doc: writer.doc, quire: true, maxBackoffTime: 100 })
    cleanups.push(() => moved.destroy())
    await moved.synced()
    await waitUntil(() => unsaved(moved) === null, { describe: () => `the moved writer has unsaved changes: ${unsaved(moved)}` })
    // Acknowledged, so in storage, written by the other clone (the first still holds its write).
    expect((await loadStored(schema, room)).getText('t').toString()).toBe('never stored by its first clone')
  })

  it('reach a clone that opens the room after they were published and loads before they are durable', async () => {
    const { writerClone, otherClone, redis } = await startPair('gap-early')
    const room = 'gap-early'
    const writer = join(writerClone, room, true)
    await writer.synced()

    writerClone.hold()
    writer.doc.getText('t').insert(0, 'published before the room opened there')
    // Published (not durable) before the other clone takes its position in the stream.
    const streamLength = async (): Promise<number> => {
      const stream = (await redis.keys()).find((key) => key.includes(':room:'))
      return stream === undefined ? 0 : withRedis((r) => r.xlen(stream))
    }
    await waitUntil(async () => (await streamLength()) > 0, { describe: () => 'the update never reached the stream' })
    const reader = join(otherClone, room)
    await reader.synced()
    expect(textOf(reader)).toBe('')

    // Durable now: the other clone hears of a tag it never saw, and reads storage.
    writerClone.release()
    await waitUntil(() => textOf(reader) === 'published before the room opened there', {
      timeoutMs: 5000,
      describe: () => `the reader has ${JSON.stringify(textOf(reader))}`
    })
  })
})
