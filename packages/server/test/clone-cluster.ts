import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import type * as Y from 'yjs'
import { createPostgresStorage } from '@quire/postgres'
import {
  assertConverged,
  createTestRedisPrefix,
  createTestSchema,
  docFromUpdates,
  findDivergence,
  spawnQuireServer,
  type SpawnedQuireServer,
  type TestRedisPrefix,
  type TestSchema
} from '@quire/testkit'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * Several `quire serve` clones (child processes) on one PostgreSQL schema and one Redis
 * key prefix of the test's own. Everything made is handed to `cleanups`, which the test
 * file runs after each test, last first.
 */
export interface Cluster {
  readonly schema: TestSchema
  readonly redis: TestRedisPrefix
  readonly clones: SpawnedQuireServer[]
  /** Starts one more clone on the same PostgreSQL and Redis, with extra flags. */
  spawnClone(args?: readonly string[]): Promise<SpawnedQuireServer>
}

export type Cleanups = (() => Promise<void> | void)[]

export interface ClusterOptions {
  /** Where the clones reach Redis: by default the test Redis; a forwarder a test can cut. */
  readonly redisUrl?: string
}

/** A PostgreSQL schema and a Redis key prefix of the test's own, removed by `cleanups`. */
export async function ownStores(tag: string, cleanups: Cleanups): Promise<{ schema: TestSchema; redis: TestRedisPrefix }> {
  const schema = await createTestSchema(tag)
  const redis = createTestRedisPrefix(tag)
  cleanups.push(() => schema.drop(), () => redis.clear())
  return { schema, redis }
}

export async function startCluster(size: number, cleanups: Cleanups, args: readonly string[] = [], options: ClusterOptions = {}): Promise<Cluster> {
  const { schema, redis } = await ownStores('clones', cleanups)
  const redisUrl = options.redisUrl ?? redis.url
  const spawnClone = async (extra: readonly string[] = args): Promise<SpawnedQuireServer> => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-clone-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const clone = await spawnQuireServer({ dataDir, args: ['--postgres', schema.url, '--redis', redisUrl, '--redis-prefix', redis.prefix, ...extra] })
    cleanups.push(() => clone.kill('SIGKILL'))
    return clone
  }
  const clones: SpawnedQuireServer[] = []
  // One after the other: the first creates the schema's tables.
  for (let i = 0; i < size; i++) clones.push(await spawnClone())
  return { schema, redis, clones, spawnClone }
}

/** A stock client of `room` on `clone` (a spawned clone, or one started in the test's process), destroyed by `cleanups`. */
export function joinClone(clone: { readonly url: string }, room: string, cleanups: Cleanups, options: { doc?: Y.Doc; quire?: boolean } = {}): StockClient {
  const client = createStockClient(clone.url, room, { ...options, maxBackoffTime: 100 })
  cleanups.push(() => client.destroy())
  return client
}

export async function loadStored(schema: TestSchema, room: string): Promise<Y.Doc> {
  const storage = await createPostgresStorage({ connectionString: schema.url })
  try {
    return docFromUpdates((await storage.load(room)).updates)
  } finally {
    await storage.close()
  }
}

export async function converge(docs: readonly Y.Doc[], timeoutMs = 20_000): Promise<void> {
  await waitUntil(() => findDivergence(docs) === null, { timeoutMs, describe: () => findDivergence(docs) ?? '' })
  assertConverged(docs)
}

/** Waits until the store holds `reference` (it lags the relay by a group commit). */
export async function storedMatches(schema: TestSchema, room: string, reference: Y.Doc, timeoutMs = 10_000): Promise<void> {
  const started = Date.now()
  for (;;) {
    const stored = await loadStored(schema, room)
    if (findDivergence([reference, stored]) === null) return
    if (Date.now() - started > timeoutMs) {
      assertConverged([reference, stored], { names: ['reference', 'stored'] })
      return
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Every update `client` makes itself, appended to `into` (for a reference document). */
export function recordLocalUpdates(client: StockClient, into: Uint8Array[]): void {
  client.doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (origin !== client.provider) into.push(update)
  })
}

/** `GET /readyz` of a clone: its status and reasons. */
export async function readinessOf(clone: SpawnedQuireServer): Promise<{ status: number; reasons: string[] }> {
  const response = await fetch(`${clone.httpUrl}/readyz`)
  const body = (await response.json()) as { reasons: string[] }
  return { status: response.status, reasons: body.reasons }
}
