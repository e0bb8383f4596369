import type { Limits } from './limits.js'
import { createTokenBucket } from './token-bucket.js'

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

export function createConnectionRateLimit(
  limits: Limits,
  maxMessageBytes: number,
  now?: () => number
): ConnectionRateLimit {
  const clock = now === undefined ? {} : { now }
  const messages = createTokenBucket({ ratePerSecond: limits.maxMessagesPerSecond, capacity: limits.messageBurst, ...clock })
  const bytes = createTokenBucket({
    ratePerSecond: limits.maxBytesPerSecond,
    capacity: Math.max(limits.byteBurst, maxMessageBytes),
    ...clock
  })
  const awareness = createTokenBucket({ ratePerSecond: limits.maxAwarenessPerSecond, capacity: limits.awarenessBurst, ...clock })
  return {
    admitFrame(byteLength) {
      if (!messages.take(1)) return `rate limit: more than ${limits.maxMessagesPerSecond} messages per second`
      if (!bytes.take(byteLength)) return `rate limit: more than ${limits.maxBytesPerSecond} bytes per second`
      return null
    },
    admitAwareness() {
      return awareness.take(1) ? null : `rate limit: more than ${limits.maxAwarenessPerSecond} awareness updates per second`
    }
  }
}
