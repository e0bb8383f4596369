/**
 * When a failed delivery is tried again: exponential backoff from `baseMs` (10 s by
 * default: 10 s, 20 s, 40 s, ...), each delay capped at 360 bases (an hour), with
 * "equal jitter" (half the delay fixed, half random) so that deliveries that failed
 * together (a receiver was down) do not all come back in the same second. Attempts stop
 * once the nominal delays add up to a day's worth of bases (8640: 24 h at 10 s), which
 * with the default base is 1 attempt plus 31 retries over about 23 hours; the delivery
 * is then failed. Scaled by the base, the shape stays the same for a test's 50 ms.
 */
export interface RetrySchedule {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number
  /** The delay before the next attempt, after `attemptsMade` failed ones (1 or more). */
  delayAfter(attemptsMade: number): number
}

const CAP_BASES = 360
const SPAN_BASES = 8640

export function nominalRetryDelay(baseMs: number, attemptsMade: number): number {
  return baseMs * Math.min(CAP_BASES, 2 ** Math.max(0, attemptsMade - 1))
}

export function createRetrySchedule(baseMs: number, options: { maxAttempts?: number; random?: () => number } = {}): RetrySchedule {
  const random = options.random ?? Math.random
  let maxAttempts = options.maxAttempts ?? 0
  if (maxAttempts === 0) {
    let span = 0
    maxAttempts = 1
    while (span + nominalRetryDelay(baseMs, maxAttempts) <= baseMs * SPAN_BASES) span += nominalRetryDelay(baseMs, maxAttempts++)
  }
  return {
    maxAttempts,
    delayAfter(attemptsMade) {
      const nominal = nominalRetryDelay(baseMs, attemptsMade)
      return Math.round(nominal / 2 + random() * (nominal / 2))
    }
  }
}
