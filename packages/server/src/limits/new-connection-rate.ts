import { createTokenBucket, type TokenBucket } from './token-bucket.js'

/**
 * New connections per second from one address: a token bucket per client address,
 * spent by each admitted upgrade. It bounds what an address can make the server do
 * (upgrades, authenticate calls, room loads, initial syncs), which a cap on *open*
 * connections does not: a client that opens and closes sockets in a loop never holds
 * many. An office behind one NAT opens its connections over the morning, not all at
 * once, so a bucket of a whole address's worth of connections (see limits.ts) serves it,
 * even when everyone reconnects after a restart.
 *
 * A bucket that has refilled to its capacity is the same as a new one, so full buckets
 * are forgotten: the map holds only addresses that connected within the last
 * capacity / rate seconds. They are swept when the map has doubled since the last sweep,
 * which keeps the sweep's cost per connection constant and needs no timer.
 */
export interface NewConnectionRate {
  /** Spends one of `address`'s tokens; false (nothing spent) when it has none left. */
  tryTake(address: string): boolean
  /** Addresses with a bucket in memory. */
  readonly size: number
}

export interface NewConnectionRateOptions {
  readonly ratePerSecond: number
  readonly burst: number
  /** Milliseconds clock; injected by tests. Default `performance.now`. */
  readonly now?: () => number
}

/** Below this many addresses the map is not swept at all. */
const MIN_SWEEP_SIZE = 1024

export function createNewConnectionRate(options: NewConnectionRateOptions): NewConnectionRate {
  const { ratePerSecond, burst, now } = options
  const buckets = new Map<string, TokenBucket>()
  let sweepAt = MIN_SWEEP_SIZE

  const sweep = (): void => {
    for (const [address, bucket] of buckets) if (bucket.available() >= burst) buckets.delete(address)
    sweepAt = Math.max(MIN_SWEEP_SIZE, 2 * buckets.size)
  }

  return {
    tryTake(address) {
      let bucket = buckets.get(address)
      if (bucket === undefined) {
        if (buckets.size >= sweepAt) sweep()
        bucket = createTokenBucket({ ratePerSecond, capacity: burst, ...(now === undefined ? {} : { now }) })
        buckets.set(address, bucket)
      }
      return bucket.take(1)
    },
    get size() {
      return buckets.size
    }
  }
}
