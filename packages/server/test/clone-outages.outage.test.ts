import { execSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { SpawnedQuireServer } from '@quire/testkit'
import { converge, joinClone, readinessOf, startCluster, storedMatches, type Cleanups } from './clone-cluster.js'
import { describeUnsaved, foldSaved } from './saved-state.js'
import type { StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * Clones while Redis or PostgreSQL is restarted under them, with the commands this
 * machine kind documents. These stop the shared services, so they run in a vitest run
 * of their own, one file at a time, after the main suite (vitest.outage.config.ts).
 */

const cleanups: Cleanups = []
afterEach(async () => {
  // Whatever a failed test left stopped, the cleanups, the next test and the next suite need running.
  if (!(await reachable(6379))) startRedis()
  if (!(await reachable(5432))) startPostgres()
  await waitReachable(6379)
  await waitReachable(5432)
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const POSTGRES_VERSION = readdirSync('/etc/postgresql')[0] as string

function stopRedis(): void {
  execSync('redis-cli -h 127.0.0.1 -p 6379 shutdown nosave')
}

function startRedis(): void {
  execSync('redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log')
}

function stopPostgres(): void {
  execSync(`pg_ctlcluster --skip-systemctl-redirect ${POSTGRES_VERSION} main stop`)
}

function startPostgres(): void {
  execSync(`pg_ctlcluster --skip-systemctl-redirect ${POSTGRES_VERSION} main start`)
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

async function waitReachable(port: number, timeoutMs = 20_000): Promise<void> {
  const started = Date.now()
  while (!(await reachable(port))) {
    if (Date.now() - started > timeoutMs) throw new Error(`nothing answers on 127.0.0.1:${port} ${timeoutMs} ms after starting it`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function readinessBecomes(clone: SpawnedQuireServer, status: number, reason?: RegExp): Promise<void> {
  let last = { status: 0, reasons: [] as string[] }
  const started = Date.now()
  for (;;) {
    last = await readinessOf(clone)
    if (last.status === status && (reason === undefined || last.reasons.some((r) => reason.test(r)))) return
    if (Date.now() - started > 20_000) throw new Error(`/readyz stayed ${last.status} ${JSON.stringify(last.reasons)}, expected ${status}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** How often `client` (re)connected: y-websocket's "connected" status events. */
function countConnects(client: StockClient): () => number {
  let connects = 0
  client.provider.on('status', ({ status }: { status: string }) => {
    if (status === 'connected') connects++
  })
  return () => connects
}

function type(client: StockClient, text: string): void {
  const t = client.doc.getText('t')
  for (const word of text.split(' ')) t.insert(t.length, `${word} `)
}

/** Whether everything `client` typed itself is acknowledged (what others typed is theirs to save). */
const saved = (client: StockClient): boolean => unsaved(client) === null
const unsaved = (client: StockClient): string | null => describeUnsaved(client.doc, foldSaved(client.quireMessages), client.doc.clientID)

describe('clones through outages', () => {
  it('Redis restarted: each clone keeps serving and saving its own clients, and all converge afterwards without reconnecting', async () => {
    const { clones, schema } = await startCluster(2, cleanups)
    const [a, b] = clones as [SpawnedQuireServer, SpawnedQuireServer]
    const room = 'redis outage'
    const onA = joinClone(a, room, cleanups, { quire: true })
    const alsoOnA = joinClone(a, room, cleanups)
    const onB = joinClone(b, room, cleanups, { quire: true })
    await Promise.all([onA, alsoOnA, onB].map((client) => client.synced()))
    const connects = [onA, alsoOnA, onB].map(countConnects)
    // A room clone A has to itself (it publishes nothing for it), opened on B during the outage.
    const otherRoom = 'opened during the redis outage'
    const aloneOnA = joinClone(a, otherRoom, cleanups, { quire: true })
    await aloneOnA.synced()
    type(onA, 'before the outage from A')
    type(onB, 'before the outage from B')
    await converge([onA.doc, alsoOnA.doc, onB.doc])

    stopRedis()
    await readinessBecomes(a, 503, /Redis/)
    type(onA, 'during the outage from A')
    type(onB, 'during the outage from B')
    // A clone relays among its own clients and saves their edits.
    await converge([onA.doc, alsoOnA.doc])
    await waitUntil(() => saved(onA) && saved(onB), {
      describe: () =>
        `A: ${unsaved(onA)}; B: ${unsaved(onB)}\n${a.output().slice(-2000)}`
    })
    expect(onB.doc.getText('t').toString()).not.toContain('during the outage from A')
    type(aloneOnA, 'during the outage in the other room from A')
    const laterOnB = joinClone(b, otherRoom, cleanups, { quire: true })
    await laterOnB.synced()

    startRedis()
    await waitReachable(6379)
    await readinessBecomes(a, 200)
    await readinessBecomes(b, 200)
    // Each clone catches its open rooms up from storage: the clients converge where they are.
    await converge([onA.doc, alsoOnA.doc, onB.doc], 30_000)
    expect(connects.map((count) => count())).toEqual([0, 0, 0])
    type(onB, 'after the outage from B')
    await converge([onA.doc, alsoOnA.doc, onB.doc])
    await storedMatches(schema, room, onA.doc)
    // The clones found each other in the room B opened while its open mark could not be
    // appended, and each publishes for the other there.
    type(aloneOnA, 'after the outage in the other room from A')
    type(laterOnB, 'after the outage in the other room from B')
    await converge([aloneOnA.doc, laterOnB.doc], 30_000)
    await storedMatches(schema, otherRoom, aloneOnA.doc)
  })

  it('PostgreSQL restarted: relaying goes on, nothing is acknowledged meanwhile, writers past the bound are refused, and saving resumes', async () => {
    const { clones, schema } = await startCluster(2, cleanups, ['--max-unsaved-bytes', '50000'])
    const [a, b] = clones as [SpawnedQuireServer, SpawnedQuireServer]
    const room = 'postgres outage'
    const writer = joinClone(a, room, cleanups, { quire: true })
    const neighbour = joinClone(a, room, cleanups)
    const remote = joinClone(b, room, cleanups)
    await Promise.all([writer, neighbour, remote].map((client) => client.synced()))
    type(writer, 'saved before the outage')
    await waitUntil(() => saved(writer))
    await converge([writer.doc, neighbour.doc, remote.doc])

    stopPostgres()
    const closes: { code: number; reason: string }[] = []
    writer.provider.on('connection-close', (event: { code: number; reason: string } | null) => {
      if (event) closes.push({ code: event.code, reason: event.reason })
    })
    type(writer, 'typed while PostgreSQL is down')
    // Relayed at once to the clients of the same clone; not acknowledged.
    await converge([writer.doc, neighbour.doc])
    await readinessBecomes(a, 503, /storage/)
    expect(saved(writer)).toBe(false)
    // Past the bound of unsaved bytes, the writer is refused with a reason (and keeps its edits).
    writer.doc.getText('t').insert(0, 'x'.repeat(60_000))
    await converge([writer.doc, neighbour.doc])
    type(writer, 'one more')
    await waitUntil(() => closes.some((close) => close.code === 1013), { describe: () => JSON.stringify(closes) })
    expect(closes.find((close) => close.code === 1013)?.reason).toMatch(/cannot save right now/)

    startPostgres()
    await waitReachable(5432)
    // y-websocket reconnects by itself; the handshake carries what was refused.
    await waitUntil(() => saved(writer), { timeoutMs: 30_000, describe: () => unsaved(writer) ?? '' })
    await converge([writer.doc, neighbour.doc, remote.doc], 30_000)
    await storedMatches(schema, room, writer.doc)
    await readinessBecomes(a, 200)
    await readinessBecomes(b, 200)
  })
})
