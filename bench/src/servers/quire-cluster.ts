import { fileURLToPath } from 'node:url'
import { BENCH_REDIS_URL, createRedisPrefix, deleteKeysUnder } from '../bench-redis.js'
import type { Placement } from '../fanout-load.js'
import { startInstances, type ClusterKind } from '../server-cluster.js'
import { createBenchSchema } from './quire-postgres.js'
import { quireServerAt, type BaselineCheckout } from './quire.js'

const CHECKOUT = fileURLToPath(new URL('../../../', import.meta.url))

/**
 * `instances` clones of `quire serve --postgres <url> --redis <url> --redis-prefix <p>`,
 * all on one PostgreSQL schema and one Redis key prefix that this start makes and
 * removes when it stops. One clone is the local path (it commits to PostgreSQL, and
 * publishes nothing to Redis since no other clone has its rooms open);
 * two clones carry every delivery between a room's halves over Redis; two clones with
 * each room's clients on one of them ('by-room', as HAProxy routes by document) are the
 * local path again, in the same two processes. With `baseline`, the same from another
 * checkout (QUIRE_BENCH_BASELINE), for A/B runs: ids `quire-baseline-1-clone`, ….
 */
export function quireCluster(instances: number, placement: Placement = 'spread', baseline?: BaselineCheckout): ClusterKind {
  const name = baseline === undefined ? 'quire' : 'quire-baseline'
  const base = instances === 1 ? `${name}-1-clone` : `${name}-${instances}-clones`
  const id = placement === 'by-room' ? `${base}-by-room` : base
  const product = baseline === undefined ? 'Quire' : `Quire baseline (${baseline.name})`
  const label = instances === 1 ? `${product}, 1 clone` : `${product}, ${instances} clones${placement === 'by-room' ? ', each room on one' : ''}`
  const root = baseline?.root ?? CHECKOUT
  const clone = quireServerAt(root, { id, label })
  return {
    id,
    label,
    dialect: 'y-websocket',
    instances,
    placement,
    acknowledgements: true,
    ...(baseline === undefined ? {} : { baseline: true }),
    note:
      'Quire clones: quire serve --postgres (PostgreSQL 127.0.0.1, synchronous_commit on) --redis (127.0.0.1) --redis-prefix, the defaults otherwise' +
      ' (group commits at least 10 ms apart, stream entries kept 60 s, a room\'s traffic published only while another clone has it open); rate limits raised as for Quire.',
    unavailable: () => baseline?.unavailable() ?? clone.unavailable(),
    start: async (options) => {
      const schema = await createBenchSchema()
      const redisPrefix = createRedisPrefix(id)
      // Every clone gets the same flags; the schema goes when the cluster stops, not a clone.
      const shared = { args: [...schema.args, '--redis', BENCH_REDIS_URL, '--redis-prefix', redisPrefix], release: async () => {} }
      const cloneOnShared = quireServerAt(root, { id, label }, async () => shared)
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
