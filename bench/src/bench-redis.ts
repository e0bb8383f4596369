import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'

/**
 * The Redis the scale-out configurations share (127.0.0.1:6379, database 0, or
 * QUIRE_BENCH_REDIS_URL). Other engineers' tests use the same Redis, so every
 * configuration works under a key prefix of its own and deletes its keys after.
 */
export const BENCH_REDIS_URL = process.env['QUIRE_BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379/0'

/** A prefix no other run uses: `quire-bench:<label>:<random>:`. */
export function createRedisPrefix(label: string): string {
  return `quire-bench:${label}:${randomBytes(4).toString('hex')}:`
}

/** One short-lived connection, failing with where Redis was expected when it is not there. */
export async function withRedis<T>(use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(BENCH_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false })
  redis.on('error', () => {})
  try {
    await redis.connect()
  } catch (error) {
    throw new Error(`the scale-out configurations need Redis at ${BENCH_REDIS_URL}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error
    })
  }
  try {
    return await use(redis)
  } finally {
    redis.disconnect()
  }
}

async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    found.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return found
}

/** `INFO memory`'s used_memory: everything Redis holds, other users' keys and every client's buffers included. */
export async function readUsedMemory(): Promise<number> {
  return await withRedis(async (redis) => Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1] ?? Number.NaN))
}

export interface KeyUsage {
  keys: number
  /** Sum of `MEMORY USAGE <key> SAMPLES 0` (exact, every element counted). */
  bytes: number
  /** Entries in the keys that are streams. */
  streamEntries: number
}

/** What the keys under `prefix` hold now. */
export async function readKeyUsage(prefix: string): Promise<KeyUsage> {
  return await withRedis(async (redis) => {
    const usage: KeyUsage = { keys: 0, bytes: 0, streamEntries: 0 }
    for (const key of await keysUnder(redis, prefix)) {
      // A key may expire between the scan and these reads: it then counts nothing.
      const bytes = (await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) as number | null
      if (bytes === null) continue
      usage.keys++
      usage.bytes += bytes
      if ((await redis.type(key)) === 'stream') usage.streamEntries += await redis.xlen(key)
    }
    return usage
  })
}

export async function deleteKeysUnder(prefix: string): Promise<void> {
  await withRedis(async (redis) => {
    const keys = await keysUnder(redis, prefix)
    for (let start = 0; start < keys.length; start += 500) await redis.del(...keys.slice(start, start + 500))
  })
}
