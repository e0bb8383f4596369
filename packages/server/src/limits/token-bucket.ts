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
  return new LazyTokenBucket(ratePerSecond, capacity, options.now ?? performanceNow)
}

const performanceNow = (): number => performance.now()

// A class, not closures: every connection has three buckets, and methods on a prototype
// cost nothing per instance.
class LazyTokenBucket implements TokenBucket {
  private tokens: number
  private last: number

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
    private readonly now: () => number
  ) {
    this.tokens = capacity
    this.last = now()
  }

  take(amount = 1): boolean {
    this.refill()
    if (this.tokens < amount) return false
    this.tokens -= amount
    return true
  }

  available(): number {
    this.refill()
    return this.tokens
  }

  private refill(): void {
    const t = this.now()
    if (t > this.last) this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) * this.ratePerSecond) / 1000)
    this.last = t
  }
}
