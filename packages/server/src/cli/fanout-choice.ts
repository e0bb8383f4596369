import type { Fanout } from '../fanout/fanout.js'
import type { Log } from '../log.js'
import { describeServiceUrl } from './storage-choice.js'

/**
 * The traffic between clones, when `quire serve` is given a Redis URL (`--redis`, or
 * QUIRE_REDIS_URL). Like PostgreSQL, Redis support is its own package, `@quire/redis`,
 * loaded only when asked for.
 */
interface RedisModule {
  createRedisFanout(options: { url: string; prefix?: string; heartbeatMs?: number; log?: Log }): Fanout & { whenConnected(timeoutMs: number): Promise<boolean> }
}

/** How long a starting clone waits for Redis before it serves without it (and catches up once it is there). */
const CONNECT_WAIT_MS = 10_000

/** The Redis URL from a flag, else from the environment. */
export function redisUrlFrom(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const url = flag ?? env['QUIRE_REDIS_URL']
  return url === '' ? undefined : url
}

export interface RedisChoice {
  readonly url: string | undefined
  readonly prefix: string | undefined
  readonly heartbeatMs: number | undefined
}

export async function openRedisFanout({ url, prefix, heartbeatMs }: RedisChoice, log: Log): Promise<Fanout | null> {
  if (url === undefined) return null
  const specifier = '@quire/redis'
  let redis: RedisModule
  try {
    redis = (await import(specifier)) as RedisModule
  } catch (error) {
    throw new Error('--redis needs the @quire/redis package next to @quire/server (npm install @quire/redis)', { cause: error })
  }
  const fanout = redis.createRedisFanout({
    url,
    ...(prefix === undefined ? {} : { prefix }),
    ...(heartbeatMs === undefined ? {} : { heartbeatMs }),
    log
  })
  if (!(await fanout.whenConnected(CONNECT_WAIT_MS))) {
    // Without its password: a log line is no place for a credential.
    log('warn', `Redis at ${describeServiceUrl(url)} did not answer within ${CONNECT_WAIT_MS / 1000} s: serving without the other clones' traffic until it does (rooms catch up from storage then)`)
  }
  return fanout
}
