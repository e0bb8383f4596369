import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createServer, type QuireServer } from '@quire/server'
import { createPostgresStorage } from '@quire/postgres'
import { createTestSchema, queryPostgres } from '@quire/testkit'
import { createStockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'
import { startWebhookReceiver } from './webhook-receiver.js'

/**
 * Two servers on one PostgreSQL schema (what two clones are, as far as the outbox goes):
 * both claim from the same outbox, often at the same moment, and still every delivery
 * is sent by exactly one of them, once.
 */

const SECRET = 'a webhook secret of at least thirty-two bytes'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('webhooks of two servers on one PostgreSQL schema', () => {
  it('each event is delivered by exactly one of them', async () => {
    const schema = await createTestSchema('webhook_clones')
    cleanups.push(() => schema.drop())
    const hook = await startWebhookReceiver(() => 'slow')
    cleanups.push(() => hook.close())
    const servers: QuireServer[] = []
    const urls: string[] = []
    for (let i = 0; i < 2; i++) {
      const storage = await createPostgresStorage({ connectionString: schema.url })
      // One attempt at a time each and a short poll: they keep claiming side by side.
      const server = createServer({ storage, webhooks: { urls: [hook.url], secret: SECRET, maxInFlight: 1, pollMs: 10, debounceMs: 20, maxWaitMs: 100 } })
      const { url } = await server.listen(0, '127.0.0.1')
      cleanups.push(async () => {
        await server.close()
        await storage.close()
      })
      servers.push(server)
      urls.push(url.replace(/^http/, 'ws'))
    }
    // Ten documents, each written through one server or the other: twenty events.
    const rooms = Array.from({ length: 10 }, (_, i) => `doc ${i}`)
    const writers = rooms.map((room, i) => {
      const client = createStockClient(urls[i % 2] as string, room)
      cleanups.push(() => client.destroy())
      return client
    })
    await Promise.all(writers.map((w) => w.synced()))
    for (const w of writers) w.doc.getText('t').insert(0, 'x')
    await waitUntil(() => hook.accepted.size === 20, { describe: () => `${hook.accepted.size} accepted` })
    const pending = async (): Promise<number | undefined> => (await servers[0]?.webhooks()?.queueDepth())?.pending
    await waitUntil(async () => (await pending()) === 0)
    expect(hook.requests).toHaveLength(20)
    for (const { times } of hook.accepted.values()) expect(times).toBe(1)
    // A server counts a delivery after its outbox row is marked, so the other server may
    // read the queue empty a moment before the last count lands.
    const delivered = (): number[] => servers.map((server) => server.webhooks()?.counters.delivered ?? 0)
    await waitUntil(() => delivered()[0]! + delivered()[1]! === 20, { describe: () => `delivered ${delivered().join(' + ')}` })
    expect(delivered()[0]! + delivered()[1]!).toBe(20)
    // Both took part: the other's events too, since either may claim any delivery.
    expect(delivered().every((n) => n > 0)).toBe(true)
    expect(hook.events().map((e) => e.event).filter((e) => e === 'document.created')).toHaveLength(10)
  })

  it("a change mark a dead clone left behind is announced by another, and a live clone's is left alone", async () => {
    const schema = await createTestSchema('webhook_orphans')
    cleanups.push(() => schema.drop())
    const hook = await startWebhookReceiver()
    cleanups.push(() => hook.close())
    const content = new Y.Doc()
    content.getText('t').insert(0, 'written by a clone that died')
    const update = Y.encodeStateAsUpdate(content)
    // What a clone's commits leave: one mark an hour old (its clone is gone), one just written.
    const writer = await createPostgresStorage({ connectionString: schema.url })
    await writer.append([
      { doc: 'orphan', updates: [update], changeMark: { token: 'dead.1', created: true } },
      { doc: 'alive', updates: [update], changeMark: { token: 'alive.1', created: false } }
    ])
    await writer.close()
    await queryPostgres(schema.url, `UPDATE quire_webhook_marks SET marked_at = now() - interval '1 hour' WHERE token = 'dead.1'`)

    const storage = await createPostgresStorage({ connectionString: schema.url })
    const server = createServer({ storage, webhooks: { urls: [hook.url], secret: SECRET, debounceMs: 20, maxWaitMs: 100 } })
    await server.listen(0, '127.0.0.1')
    cleanups.push(async () => {
      await server.close()
      await storage.close()
    })
    await waitUntil(() => hook.accepted.size === 2, { describe: () => `${hook.accepted.size} accepted` })
    expect(hook.events().map((e) => `${e.event} ${e.room}`).sort()).toEqual(['document.created orphan', 'document.updated orphan'])
    expect(hook.events()[0]?.stateVector).toBe(Buffer.from(Y.encodeStateVector(content)).toString('base64'))
    const rows = await queryPostgres<{ token: string }>(schema.url, 'SELECT token FROM quire_webhook_marks ORDER BY token')
    expect(rows.map((row) => row.token)).toEqual(['alive.1'])
  })
})
