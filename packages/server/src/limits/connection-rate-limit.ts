import type { Limits } from './limits.js'
import { createTokenBucket, type TokenBucket } from './token-bucket.js'

/**
 * The per-connection rate limits: messages and bytes per second, checked on every
 * frame before it is decoded (so a flood costs the server a counter, not a parse), and
 * awareness updates per second, checked once a frame is known to be one. Each check
 * returns null when the frame may pass, or the close reason when it may not.
 */
export interface ConnectionRateLimit {
  admitFrame(byteLength: number): string | null
  admitAwareness(): string | null
}

export function createConnectionRateLimit(limits: Limits, maxMessageBytes: number, now?: () => number): ConnectionRateLimit {
  return new BucketRateLimit(limits, maxMessageBytes, now)
}

// A class, not closures: there is one per connection.
class BucketRateLimit implements ConnectionRateLimit {
  private readonly messages: TokenBucket
  private readonly bytes: TokenBucket
  private readonly awareness: TokenBucket

  constructor(
    private readonly limits: Limits,
    maxMessageBytes: number,
    now?: () => number
  ) {
    const clock = now === undefined ? {} : { now }
    this.messages = createTokenBucket({ ratePerSecond: limits.maxMessagesPerSecond, capacity: limits.messageBurst, ...clock })
    this.bytes = createTokenBucket({ ratePerSecond: limits.maxBytesPerSecond, capacity: Math.max(limits.byteBurst, maxMessageBytes), ...clock })
    this.awareness = createTokenBucket({ ratePerSecond: limits.maxAwarenessPerSecond, capacity: limits.awarenessBurst, ...clock })
  }

  admitFrame(byteLength: number): string | null {
    if (!this.messages.take(1)) return `rate limit: more than ${this.limits.maxMessagesPerSecond} messages per second`
    if (!this.bytes.take(byteLength)) return `rate limit: more than ${this.limits.maxBytesPerSecond} bytes per second`
    return null
  }

  admitAwareness(): string | null {
    return this.awareness.take(1) ? null : `rate limit: more than ${this.limits.maxAwarenessPerSecond} awareness updates per second`
  }
}
