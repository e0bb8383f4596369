import { afterEach, describe, expect, it } from 'vitest'
import type { Fanout } from '@quire/server'
import { createPostgresStorage } from '@quire/postgres'
import { createRedisFanout } from '@quire/redis'
import { startQuireServer, type QuireServerFixture } from '@quire/testkit'
import { describeUnsaved, foldSaved } from './saved-state.js'
import { joinClone, ownStores } from './clone-cluster.js'
import type { StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * A clone commits an update, acknowledges it, then publishes it to the other clones.
 * One that dies between the commit and the publish leaves the update in storage only:
 * the other clones must fetch it from there once they see the clone is gone, or their
 * clients lack it (and hold back every later update that depends on it) until they
 * reconnect. Here the dying clone's publishes are dropped from the start, so the others
 * never saw any traffic of it either: they must know of it from the heartbeats alone.
 */

const HEARTBEAT_MS = 100

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** `inner` with some of its methods replaced. */
function replacing(inner: Fanout, overrides: Partial<Omit<Fanout, 'cloneId' | 'connected'>>): Fanout {
  return {
    cloneId: inner.cloneId,
    position: (doc) => inner.position(doc),
    subscribe: (doc, from, receive) => inner.subscribe(doc, from, receive),
    unsubscribe: (doc) => inner.unsubscribe(doc),
    publish: (doc, frames, options) => inner.publish(doc, frames, options),
    start: (events) => inner.start(events),
    get connected() {
      return inner.connected
    },
    close: () => inner.close(),
    ...overrides
  }
}

/** `inner`, except that nothing is published: a clone that dies before each publish. */
const neverPublishing = (inner: Fanout): Fanout => replacing(inner, { publish: () => {} })

/** `inner`, noting each room another clone started publishing for (see `FanoutEvents.catchUp`). */
const noticingFollowers = (inner: Fanout, caughtUp: string[]): Fanout =>
  replacing(inner, {
    start: (events) =>
      inner.start({
        ...events,
        catchUp: (doc) => {
          events.catchUp(doc)
          caughtUp.push(doc)
        }
      })
  })

interface Clone {
  readonly server: QuireServerFixture
  stop(): Promise<void>
}

async function startClone(schemaUrl: string, redis: { url: string; prefix: string }, wrap: (fanout: Fanout) => Fanout = (f) => f): Promise<Clone> {
  const storage = await createPostgresStorage({ connectionString: schemaUrl })
  const fanout = createRedisFanout({ url: redis.url, prefix: redis.prefix, heartbeatMs: HEARTBEAT_MS })
  expect(await fanout.whenConnected(5000)).toBe(true)
  const server = await startQuireServer({ storage, fanout: wrap(fanout) })
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await server.close()
    await fanout.close()
    await storage.close()
  }
  cleanups.push(stop)
  return { server, stop }
}

const join = (server: QuireServerFixture, room: string, quire = false): StockClient => joinClone(server, room, cleanups, { quire })

describe('a clone that dies between committing an update and publishing it', () => {
  it("does not keep that update from the other clones' clients", async () => {
    const { schema, redis } = await ownStores('death', cleanups)
    const room = 'death'
    const caughtUp: string[] = []
    const survivor = await startClone(schema.url, redis, (fanout) => noticingFollowers(fanout, caughtUp))
    const dying = await startClone(schema.url, redis, neverPublishing)
    const watcher = join(survivor.server, room)
    await watcher.synced()
    watcher.doc.getText('t').insert(0, 'before ')
    const writer = join(dying.server, room, true)
    await writer.synced()
    await waitUntil(() => writer.doc.getText('t').toString() === 'before ')
    // The clones have told each other they have the room open (the survivor caught up
    // once, then): from here on the dying clone would publish, if it did.
    await waitUntil(() => caughtUp.includes(room))
    writer.doc.getText('t').insert(7, 'acknowledged')
    await waitUntil(() => describeUnsaved(writer.doc, foldSaved(writer.quireMessages), writer.doc.clientID) === null)
    // Committed and acknowledged, yet never published: the watcher has not seen it.
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 5))
    expect(watcher.doc.getText('t').toString()).toBe('before ')
    writer.destroy()
    await dying.stop()
    await waitUntil(() => watcher.doc.getText('t').toString() === 'before acknowledged', {
      timeoutMs: HEARTBEAT_MS * 3 * 20,
      describe: () => `the watcher has ${JSON.stringify(watcher.doc.getText('t').toString())}`
    })
  })
})
