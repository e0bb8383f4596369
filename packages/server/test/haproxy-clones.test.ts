import { afterEach, describe, expect, it } from 'vitest'
import { isMarkedDown, readConnectionCounts, spawnCloneBalancer, TEST_REDIS_URL, type SpawnedHaproxy } from '@quire/testkit'
import { converge, loadStored, startCluster, storedMatches, type Cleanups, type Cluster, type ClusterOptions } from './clone-cluster.js'
import { describeLostAcknowledged, describeUnsaved, foldSaved } from './saved-state.js'
import { createStockClient, type StockClient, type StockClientOptions } from './stock-client.js'
import { createTcpForwarder } from './tcp-forwarder.js'
import { pollUntil, waitUntil } from './wait-until.js'

/**
 * Three `quire serve` clones behind a real HAProxy configured by deploy/haproxy/quire.cfg,
 * the file the README tells users to copy, with only its ports replaced (see
 * clone-balancer.ts in @quire/testkit). What the routing promises: a document's clients
 * meet on one clone; a dead clone's clients are back on another within moments and lose
 * nothing acknowledged, while other documents stay where they are; and the clones keep
 * taking clients while none of them is ready.
 *
 * That correctness never depends on the routing (clients of one document on different
 * clones converge, and so does the store) is clones.test.ts's subject, not repeated here.
 *
 * Which clone a client landed on is read from the clones' `GET /healthz` connection
 * counts: clients are opened one at a time, and the clone whose count grew holds it.
 */

const cleanups: Cleanups = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface BalancedCluster {
  readonly cluster: Cluster
  readonly balancer: SpawnedHaproxy
}

async function startBalancedCluster(options: ClusterOptions = {}): Promise<BalancedCluster> {
  // As the README starts them: HAProxy on the same machine names the clients.
  const cluster = await startCluster(3, cleanups, ['--trust-proxy', 'loopback'], options)
  const balancer = await spawnCloneBalancer(cluster.clones.map((clone) => clone.port))
  cleanups.push(() => balancer.stop())
  return { cluster, balancer }
}

interface LocatedClient {
  readonly client: StockClient
  /** Index of the clone it landed on. */
  readonly clone: number
  /** Disconnects it for good (once; the test's cleanup does it otherwise). */
  leave(): void
}

/** A stock y-websocket client through HAProxy, reconnecting by itself within 100 ms. */
async function joinAndLocate({ cluster, balancer }: BalancedCluster, room: string, options: StockClientOptions = {}): Promise<LocatedClient> {
  const before = await readConnectionCounts(cluster.clones)
  const client = createStockClient(balancer.url, room, { maxBackoffTime: 100, ...options })
  let left = false
  const leave = (): void => {
    if (left) return
    left = true
    client.destroy()
  }
  cleanups.push(leave)
  await client.synced()
  let counts = before
  const clone = await pollUntil(
    async () => {
      counts = await readConnectionCounts(cluster.clones)
      const grown = counts.flatMap((count, i) => (count !== null && count === (before[i] ?? 0) + 1 ? [i] : []))
      const othersUnchanged = counts.every((count, i) => grown.includes(i) || count === before[i])
      return grown.length === 1 && othersUnchanged ? grown[0] : undefined
    },
    { describe: () => `connections per clone went from ${JSON.stringify(before)} to ${JSON.stringify(counts)}` }
  )
  return { client, clone, leave }
}

/** Leaves, and waits until the clone it was on no longer counts it. */
async function leaveAndWait({ cluster }: BalancedCluster, located: LocatedClient): Promise<void> {
  const before = await readConnectionCounts(cluster.clones)
  located.leave()
  await pollUntil(async () => ((await readConnectionCounts(cluster.clones))[located.clone] === (before[located.clone] ?? 0) - 1 ? true : undefined))
}

function type(client: StockClient, text: string): void {
  const t = client.doc.getText('t')
  for (const word of text.split(' ')) t.insert(t.length, `${word} `)
}

/** What of its own edits `client` has not been told are saved (others' edits are theirs to save), or null. */
const unsaved = (client: StockClient): string | null => describeUnsaved(client.doc, foldSaved(client.quireMessages), client.doc.clientID)

/** How many times `client` connected from now on (y-websocket's "connected" status events). */
function countConnects(client: StockClient): () => number {
  let connects = 0
  client.provider.on('status', ({ status }: { status: string }) => {
    if (status === 'connected') connects++
  })
  return () => connects
}

describe('three clones behind HAProxy, configured by deploy/haproxy/quire.cfg', () => {
  it('every client of a document lands on the same clone, whatever its query string, and documents spread over the clones', async () => {
    const balanced = await startBalancedCluster()
    // y-websocket's bare URL, Quire's extension (?quire=1), and the room parameter @quire/client adds.
    const variants: StockClientOptions[] = [{}, { quire: true }, { roomParam: true }, { quire: true, roomParam: true }, {}]
    const landed: number[] = []
    for (const options of variants) landed.push((await joinAndLocate(balanced, 'one document', options)).clone)
    expect(landed).toEqual(variants.map(() => landed[0]))

    const placement: number[] = []
    for (let i = 0; i < 9; i++) {
      const located = await joinAndLocate(balanced, `document ${i}`)
      placement.push(located.clone)
      await leaveAndWait(balanced, located)
    }
    expect(new Set(placement).size).toBeGreaterThan(1)
    // Later clients of those documents go where the first ones went.
    const later: number[] = []
    for (let i = 0; i < 6; i++) {
      const located = await joinAndLocate(balanced, `document ${i}`, { quire: true })
      later.push(located.clone)
      await leaveAndWait(balanced, located)
    }
    expect(later).toEqual(placement.slice(0, 6))
  })

  it('a clone killed with -9: its clients are back through HAProxy on one other clone before the health check has it down, converge, and lose nothing acknowledged; other documents keep their clone', async () => {
    const balanced = await startBalancedCluster()
    const { cluster, balancer } = balanced
    const rooms = Array.from({ length: 9 }, (_, i) => `bystander ${i}`)
    const placement = new Map<string, number>()
    for (const room of rooms) {
      const located = await joinAndLocate(balanced, room)
      placement.set(room, located.clone)
      await leaveAndWait(balanced, located)
    }

    const room = 'failover'
    const writers: LocatedClient[] = []
    for (let i = 0; i < 3; i++) writers.push(await joinAndLocate(balanced, room, { quire: true }))
    const doomed = writers[0]?.clone ?? -1
    expect(writers.map((writer) => writer.clone)).toEqual([doomed, doomed, doomed])
    const clients = writers.map((writer) => writer.client)
    clients.forEach((client, i) => type(client, `saved before the kill by writer ${i}.`))
    await waitUntil(() => clients.every((client) => unsaved(client) === null), { describe: () => clients.map(unsaved).join('; ') })
    const acknowledged = clients.map((client) => foldSaved(client.quireMessages))

    const connects = clients.map(countConnects)
    clients.forEach((client, i) => type(client, `in flight when the clone dies, writer ${i}.`))
    await cluster.clones[doomed]?.kill('SIGKILL')
    await waitUntil(() => connects.every((count) => count() > 0) && clients.every((client) => client.provider.synced), {
      describe: () => `reconnected: ${connects.map((count) => count()).join(', ')}\n${balancer.output()}`
    })
    // HAProxy's checks take three failures a second apart to mark the clone down: the
    // clients were back before, each connection retried on another clone at once
    // (option redispatch 1). Redispatched by the same hash, they are together again.
    expect(isMarkedDown(balancer, 'quire', doomed)).toBe(false)
    const counts = await readConnectionCounts(cluster.clones)
    expect(counts[doomed]).toBeNull()
    expect(counts.filter((count) => count !== null).sort()).toEqual([0, 3])

    await converge(clients.map((client) => client.doc))
    // Everything they typed is stored, and nothing they were told is saved, before or since, is missing.
    // (Stock clients are not told of their own edits another client resent first: @quire/client
    // resends those itself; see its resendUnacknowledged.)
    await storedMatches(cluster.schema, room, (clients[0] as StockClient).doc)
    const stored = await loadStored(cluster.schema, room)
    expect(acknowledged.map((saved) => describeLostAcknowledged(stored, saved))).toEqual([null, null, null])
    expect(clients.map((client) => describeLostAcknowledged(stored, foldSaved(client.quireMessages)))).toEqual([null, null, null])

    // Once the checks have it down, consistent hashing moves only the dead clone's documents.
    await waitUntil(() => isMarkedDown(balancer, 'quire', doomed), { describe: balancer.output })
    const moved: string[] = []
    for (const [bystander, clone] of placement) {
      const located = await joinAndLocate(balanced, bystander)
      if (located.clone === doomed || (clone !== doomed && located.clone !== clone)) moved.push(`${bystander}: clone ${clone} -> ${located.clone}`)
      await leaveAndWait(balanced, located)
    }
    expect(moved).toEqual([])
    // (The test only means something if some documents were on the dead clone and some were not.)
    expect(new Set(placement.values()).size).toBeGreaterThan(1)
  })

  it('while no clone is ready (Redis cut off from all of them), HAProxy still routes each document to a live clone, and back when they are ready', async () => {
    const redis = new URL(TEST_REDIS_URL)
    const redisLink = await createTcpForwarder(redis.hostname, Number(redis.port || 6379))
    cleanups.push(() => redisLink.close())
    const balanced = await startBalancedCluster({ redisUrl: `redis://127.0.0.1:${redisLink.port}${redis.pathname}` })
    const { balancer } = balanced
    const allMarked = (backend: 'quire' | 'quire_live', down: boolean) => () => [0, 1, 2].every((i) => isMarkedDown(balancer, backend, i) === down)
    const room = 'no clone ready'
    const first = await joinAndLocate(balanced, room, { quire: true })

    redisLink.sever()
    // /readyz answers 503 on every clone; /healthz (the fallback backend's check) 200.
    await waitUntil(allMarked('quire', true), { timeoutMs: 20_000, describe: balancer.output })
    expect(allMarked('quire_live', false)()).toBe(true)
    const second = await joinAndLocate(balanced, room, { quire: true })
    expect(second.clone).toBe(first.clone)
    // The clone relays between its own clients and saves their edits.
    type(first.client, 'typed while Redis is away.')
    type(second.client, 'also typed while Redis is away.')
    await converge([first.client.doc, second.client.doc])
    await waitUntil(() => unsaved(first.client) === null && unsaved(second.client) === null, {
      describe: () => `${unsaved(first.client)}; ${unsaved(second.client)}`
    })

    redisLink.restore()
    await waitUntil(allMarked('quire', false), { timeoutMs: 20_000, describe: balancer.output })
    const third = await joinAndLocate(balanced, room)
    expect(third.clone).toBe(first.clone)
    await converge([first.client.doc, second.client.doc, third.client.doc])
  })
})
