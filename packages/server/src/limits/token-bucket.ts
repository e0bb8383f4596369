/**
 * A token bucket: `capacity` tokens, refilled continuously at `ratePerSecond`. A taker
 * may spend up to the capacity at once (a burst, e.g. the initial sync of a big
 * document) but no more than the rate over time. Refill is computed lazily from the
 * clock on each `take`, so an idle bucket costs nothing: no timers.
 */
export interface TokenBucket {
  /** Spends `amount` tokens if they are there; false (and nothing spent) otherwise. */
  take(amount?: number): boolean
  /** Tokens available now. */
  available(): number
}

export interface TokenBucketOptions {
  readonly ratePerSecond: number
  /** Most tokens the bucket holds; it starts full. */
  readonly capacity: number
  /** Milliseconds clock; injected by tests. Default `performance.now`. */
  readonly now?: () => number
}

export function createTokenBucket(options: TokenBucketOptions): TokenBucket {
  const { ratePerSecond, capacity } = options
  if (!(ratePerSecond > 0) || !(capacity > 0)) {
    throw new RangeError(`token bucket needs a positive rate and capacity, got ${ratePerSecond}/s and ${capacity}`)
  }
  const now = options.now ?? (() => performance.now())
  let tokens = capacity
  let last = now()

  const refill = (): void => {
    const t = now()
    if (t > last) tokens = Math.min(capacity, tokens + ((t - last) * ratePerSecond) / 1000)
    last = t
  }

  return {
    take(amount = 1) {
      refill()
      if (tokens < amount) return false
      tokens -= amount
      return true
    },
    available() {
      refill()
      return tokens
    }
  }
}
