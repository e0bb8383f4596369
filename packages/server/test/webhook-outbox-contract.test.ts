import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createLevelStorage, createMemoryStorage, type NewDelivery, type Storage, type WebhookOutbox } from '@quire/server'
import { createPostgresStorage } from '@quire/postgres'
import { createTestSchema } from '@quire/testkit'
import { waitUntil } from './wait-until.js'

/**
 * One contract for the webhook outbox on every store that keeps one: change marks written
 * with a commit and settled by the events that announce them, deliveries claimed under a
 * lease, retried, failed, re-queued, and (for the durable stores) all of it still there
 * after the store is opened again.
 */

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Backend {
  readonly name: string
  /** Opens the store; `reopen` opens the same store again after `close` (null: not durable). */
  create(): Promise<{ open: () => Promise<Storage>; durable: boolean }>
}

const BACKENDS: readonly Backend[] = [
  {
    name: 'memory',
    async create() {
      const storage = createMemoryStorage()
      return { open: async () => storage, durable: false }
    }
  },
  {
    name: 'LevelDB',
    async create() {
      const dir = await mkdtemp(joinPath(tmpdir(), 'quire-outbox-'))
      cleanups.push(() => rm(dir, { recursive: true, force: true }))
      return { open: () => createLevelStorage(dir, { fsync: false }), durable: true }
    }
  },
  {
    name: 'PostgreSQL',
    async create() {
      const schema = await createTestSchema('outbox')
      cleanups.push(() => schema.drop())
      return { open: () => createPostgresStorage({ connectionString: schema.url }), durable: true }
    }
  }
]

const update = Uint8Array.of(0, 0) // an empty Yjs update: the store does not look inside

function delivery(id: string, room = 'doc'): NewDelivery {
  return { id, url: 'http://127.0.0.1:9/hook', event: 'document.updated', room, body: JSON.stringify({ id, event: 'document.updated', room }) }
}

function outboxOf(storage: Storage): WebhookOutbox {
  if (storage.webhookOutbox === undefined) throw new Error('no outbox')
  return storage.webhookOutbox
}

describe.each(BACKENDS)('the webhook outbox on $name', (backend) => {
  let storage: Storage
  const open = async (): Promise<{ reopen: () => Promise<Storage>; durable: boolean }> => {
    const { open: openStore, durable } = await backend.create()
    storage = await openStore()
    cleanups.push(() => storage.close())
    return { reopen: openStore, durable }
  }

  it('a commit writes its change mark; only the events of that mark settle it', async () => {
    await open()
    const outbox = outboxOf(storage)
    await storage.append([{ doc: 'a', updates: [update], changeMark: { token: 't1', created: true } }, { doc: 'b', updates: [update] }])
    expect(await outbox.claimMarks(0, 10)).toEqual([{ doc: 'a', token: 't1', created: true }])
    // A claimed mark counts as fresh: nobody claims it again before it is old again.
    expect(await outbox.claimMarks(60_000, 10)).toEqual([])
    // A later window's mark replaces it and keeps "created".
    await storage.append([{ doc: 'a', updates: [update], changeMark: { token: 't2', created: false } }])
    await outbox.enqueue([delivery('d1', 'a')], [{ doc: 'a', token: 't1', created: true }])
    expect(await outbox.claimMarks(0, 10)).toEqual([{ doc: 'a', token: 't2', created: true }])
    await outbox.enqueue([delivery('d2', 'a')], [{ doc: 'a', token: 't2', created: true }])
    expect(await outbox.claimMarks(0, 10)).toEqual([])
    // Several marks settled in one write, a stale one among them.
    await storage.append([
      { doc: 'c', updates: [update], changeMark: { token: 'c1', created: false } },
      { doc: 'd', updates: [update], changeMark: { token: 'd1', created: false } },
      { doc: 'e', updates: [update], changeMark: { token: 'e1', created: false } }
    ])
    await outbox.enqueue([delivery('d3', 'c'), delivery('d4', 'd')], [
      { doc: 'd', token: 'd1', created: false },
      { doc: 'c', token: 'c1', created: false },
      { doc: 'e', token: 'stale', created: false }
    ])
    expect(await outbox.claimMarks(0, 10)).toEqual([{ doc: 'e', token: 'e1', created: false }])
    expect(await outbox.count()).toEqual({ pending: 4, failed: 0 })
  })

  it('a claim leases deliveries to one owner until it settles, releases or outlives them', async () => {
    await open()
    const outbox = outboxOf(storage)
    expect(await outbox.nextDueInMs()).toBeNull()
    await outbox.enqueue([delivery('x'), delivery('y'), delivery('z')])
    expect(await outbox.nextDueInMs()).toBe(0)
    const first = await outbox.claim(2, 60_000, 'one')
    expect(first).toHaveLength(2)
    const second = await outbox.claim(5, 60_000, 'two')
    expect(second.map((d) => d.id)).toEqual(['x', 'y', 'z'].filter((id) => !first.some((d) => d.id === id)))
    expect(await outbox.claim(5, 60_000, 'three')).toEqual([])
    const [a, b] = first as unknown as [NewDelivery, NewDelivery]
    expect(await outbox.delivered(a.id, 'two')).toBe(false)
    expect(await outbox.delivered(a.id, 'one')).toBe(true)
    expect(await outbox.delivered(a.id, 'one')).toBe(false)
    await outbox.release(b.id, 'one')
    expect((await outbox.claim(5, 1, 'three')).map((d) => d.id)).toEqual([b.id])
    // A lease of 1 ms runs out: another owner takes it over, and the first one's outcome is refused.
    await waitUntil(async () => (await outbox.claim(5, 60_000, 'four')).length === 1)
    expect(await outbox.retry(b.id, 'three', 0, 'late')).toBe(false)
    expect(await outbox.delivered(b.id, 'four')).toBe(true)
    expect(await outbox.count()).toEqual({ pending: 1, failed: 0 })
  })

  it('a claim that runs while outcomes are being recorded never returns those deliveries', async () => {
    await open()
    const outbox = outboxOf(storage)
    const ids = Array.from({ length: 20 }, (_, i) => `race${i}`)
    await outbox.enqueue(ids.map((id) => delivery(id)))
    expect(await outbox.claim(50, 60_000, 'me')).toHaveLength(20)
    const recorded = ids.map((id, i) => (i % 2 === 0 ? outbox.retry(id, 'me', 60_000, 'HTTP 500') : outbox.delivered(id, 'me')))
    const claims = ids.map(() => outbox.claim(50, 60_000, 'other'))
    expect(await Promise.all(recorded)).toEqual(ids.map(() => true))
    expect((await Promise.all(claims)).flat()).toEqual([])
    expect(await outbox.count()).toEqual({ pending: 10, failed: 0 })
  })

  it('retries count attempts and wait their delay; the last failure stays failed until re-queued', async () => {
    const { reopen, durable } = await open()
    let outbox = outboxOf(storage)
    await outbox.enqueue([delivery('r'), delivery('s')])
    for (const d of await outbox.claim(5, 60_000, 'me')) expect(await outbox.retry(d.id, 'me', 60_000, 'HTTP 500')).toBe(true)
    expect(await outbox.claim(5, 60_000, 'me')).toEqual([])
    expect(await outbox.nextDueInMs()).toBeGreaterThan(50_000)
    const pending = await outbox.list('pending', 10)
    expect(pending.map((d) => [d.id, d.attempts, d.lastError, d.status])).toEqual(
      expect.arrayContaining([['r', 1, 'HTTP 500', 'pending'], ['s', 1, 'HTTP 500', 'pending']])
    )
    // Requeue touches failed deliveries only.
    expect(await outbox.requeue({ id: 'r' })).toBe(0)
    await outbox.enqueue([delivery('f1'), delivery('f2')])
    for (const d of await outbox.claim(5, 60_000, 'me')) expect(await outbox.fail(d.id, 'me', 'no answer')).toBe(true)
    expect(await outbox.count()).toEqual({ pending: 2, failed: 2 })
    if (durable) {
      await storage.close()
      storage = await reopen()
      outbox = outboxOf(storage)
    }
    const failed = await outbox.list('failed', 10)
    expect(failed.map((d) => [d.id, d.status, d.attempts, d.lastError]).sort()).toEqual([
      ['f1', 'failed', 1, 'no answer'],
      ['f2', 'failed', 1, 'no answer']
    ])
    expect(JSON.parse((failed[0] as NewDelivery).body)).toMatchObject({ event: 'document.updated' })
    expect(await outbox.requeue({ id: 'f1' })).toBe(1)
    expect(await outbox.requeue({ id: 'f1' })).toBe(0)
    expect(await outbox.requeue('failed')).toBe(1)
    const again = await outbox.claim(5, 60_000, 'me')
    expect(again.map((d) => [d.id, d.attempts]).sort()).toEqual([['f1', 0], ['f2', 0]])
    expect(await outbox.count()).toEqual({ pending: 4, failed: 0 })
  })

  it('change marks and deliveries outlive the store being closed and opened again', async () => {
    const { reopen, durable } = await open()
    if (!durable) return
    await storage.append([{ doc: 'kept', updates: [update], changeMark: { token: 'k', created: false } }])
    await outboxOf(storage).enqueue([delivery('p', 'kept')])
    await storage.close()
    storage = await reopen()
    expect(await outboxOf(storage).claimMarks(0, 10)).toEqual([{ doc: 'kept', token: 'k', created: false }])
    expect((await outboxOf(storage).claim(5, 60_000, 'me')).map((d) => [d.id, d.room])).toEqual([['p', 'kept']])
  })
})
