import { fileURLToPath } from 'node:url'
import { BENCH_REDIS_URL, createRedisPrefix, deleteKeysUnder } from '../bench-redis.js'
import type { Placement } from '../fanout-load.js'
import { startInstances, type ClusterKind } from '../server-cluster.js'
import { createBenchSchema } from './quire-postgres.js'
import { quireServerAt } from './quire.js'

const CHECKOUT = fileURLToPath(new URL('../../../', import.meta.url))

/**
 * `instances` clones of `quire serve --postgres <url> --redis <url> --redis-prefix <p>`,
 * all on one PostgreSQL schema and one Redis key prefix that this start makes and
 * removes when it stops. One clone is the local path (it still commits to PostgreSQL
 * and publishes every committed update to its room's stream, with nobody reading);
 * two clones carry every delivery between a room's halves over Redis; two clones with
 * each room's clients on one of them ('by-room', as HAProxy routes by document) are the
 * local path again, in the same two processes.
 */
export function quireCluster(instances: number, placement: Placement = 'spread'): ClusterKind {
  const base = instances === 1 ? 'quire-1-clone' : `quire-${instances}-clones`
  const id = placement === 'by-room' ? `${base}-by-room` : base
  const label = instances === 1 ? 'Quire, 1 clone' : `Quire, ${instances} clones${placement === 'by-room' ? ', each room on one' : ''}`
  const clone = quireServerAt(CHECKOUT, { id, label })
  return {
    id,
    label,
    dialect: 'y-websocket',
    instances,
    placement,
    acknowledgements: true,
    note:
      'Quire clones: quire serve --postgres (PostgreSQL 127.0.0.1, synchronous_commit on) --redis (127.0.0.1) --redis-prefix, the defaults otherwise' +
      ' (group commit per event-loop turn, stream entries kept 60 s); rate limits raised as for Quire.',
    unavailable: () => clone.unavailable(),
    start: async (options) => {
      const schema = await createBenchSchema()
      const redisPrefix = createRedisPrefix(id)
      // Every clone gets the same flags; the schema goes when the cluster stops, not a clone.
      const shared = { args: [...schema.args, '--redis', BENCH_REDIS_URL, '--redis-prefix', redisPrefix], release: async () => {} }
      const cloneOnShared = quireServerAt(CHECKOUT, { id, label }, async () => shared)
      return await startInstances(
        instances,
        (index) => cloneOnShared.start({ dataDir: options.dataDir(index), profileDir: options.profileDir }),
        redisPrefix,
        async () => {
          await schema.release()
          await deleteKeysUnder(redisPrefix)
        }
      )
    }
  }
}
