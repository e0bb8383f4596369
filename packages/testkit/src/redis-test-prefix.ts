import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'

/**
 * The Redis the tests run against (as this machine kind and CI provide it: 127.0.0.1:6379,
 * nothing kept on disk); `QUIRE_TEST_REDIS_URL` points elsewhere.
 */
export const TEST_REDIS_URL = process.env['QUIRE_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379/0'

/** A key prefix that one test owns; `clear` deletes every key under it. */
export interface TestRedisPrefix {
  readonly prefix: string
  readonly url: string
  /** The keys under the prefix now (for memory and trimming checks). */
  keys(): Promise<string[]>
  clear(): Promise<void>
}

export function createTestRedisPrefix(label = 'test'): TestRedisPrefix {
  const prefix = `quire-test:${label}:${randomBytes(4).toString('hex')}:`
  const keys = async (): Promise<string[]> =>
    withRedis(async (redis) => {
      const found: string[] = []
      let cursor = '0'
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
        found.push(...batch)
        cursor = next
      } while (cursor !== '0')
      return found
    })
  return {
    prefix,
    url: TEST_REDIS_URL,
    keys,
    clear: async () => {
      const found = await keys()
      if (found.length > 0) await withRedis((redis) => redis.del(...found))
    }
  }
}

/** One short-lived connection, failing with what to do when Redis is not there. */
export async function withRedis<T>(use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false })
  redis.on('error', () => {})
  try {
    await redis.connect()
  } catch (error) {
    throw new Error(
      `the tests need Redis at ${TEST_REDIS_URL} (start it as scripts/ensure-services.mjs does): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error }
    )
  }
  try {
    return await use(redis)
  } finally {
    redis.disconnect()
  }
}
