import { fileURLToPath } from 'node:url'
import { BENCH_REDIS_URL, createRedisPrefix, deleteKeysUnder } from '../bench-redis.js'
import { startInstances, type ClusterKind } from '../server-cluster.js'
import { profileNodeOptions } from '../server-kind.js'
import { spawnPinnedServer } from '../server-process.js'

const SCRIPT = fileURLToPath(new URL('../../server-scripts/hocuspocus-redis.mjs', import.meta.url))

/**
 * `instances` Hocuspocus 4 servers with `@hocuspocus/extension-redis` on one Redis
 * prefix (server-scripts/hocuspocus-redis.mjs). The extension relays by Redis pub/sub:
 * a change publishes the document's state vector, and every other instance with the
 * document open answers with what the sender lacks and its own state vector, to which
 * the sender answers with the change: three messages and two Yjs diffs per change
 * (changes of one event-loop turn share them).
 */
export function hocuspocusRedisCluster(instances: number): ClusterKind {
  return {
    id: 'hocuspocus-redis',
    label: `Hocuspocus 4 + Redis, ${instances} instances`,
    dialect: 'hocuspocus',
    instances,
    acknowledgements: false,
    note: 'Hocuspocus 4 + Redis: @hocuspocus/extension-redis 4.7 (127.0.0.1, its own prefix), the defaults otherwise; no database extension, so nothing is persisted.',
    unavailable: () => undefined,
    start: async (options) => {
      const redisPrefix = createRedisPrefix('hocuspocus')
      return await startInstances(
        instances,
        // The extension puts ':' between its prefix and a document's name.
        () =>
          spawnPinnedServer({
            args: [SCRIPT, BENCH_REDIS_URL, redisPrefix.slice(0, -1)],
            nodeOptions: profileNodeOptions({ dataDir: '', profileDir: options.profileDir }),
            ready: /listening on (\d+)/
          }),
        redisPrefix,
        () => deleteKeysUnder(redisPrefix)
      )
    }
  }
}
