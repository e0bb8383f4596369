export { createRedisFanout } from './redis-fanout.js'
export type { RedisFanout, RedisFanoutOptions } from './redis-fanout.js'
