/**
 * How long to wait before reconnect attempt number `attempt` (0 for the first retry
 * after a connection was lost or refused), in milliseconds. The counter resets once a
 * connection completes its first sync.
 */
export type BackoffPolicy = (attempt: number) => number

export interface FullJitterBackoffOptions {
  /** Upper bound of the first delay. Default 250 ms. */
  readonly baseMs?: number
  /** Upper bound of any delay. Default 10 s. */
  readonly maxMs?: number
  /** Source of randomness in [0, 1). Default `Math.random`. */
  readonly random?: () => number
}

/**
 * Exponential backoff with full jitter: a uniform delay in [0, min(max, base * 2^attempt)).
 * When a server restarts under many clients, every client loses its socket at the same
 * instant; spreading the retries uniformly over the window, instead of retrying after
 * the same fixed delays, keeps them from arriving as one wave on each step.
 */
export function createFullJitterBackoff(options: FullJitterBackoffOptions = {}): BackoffPolicy {
  const baseMs = options.baseMs ?? 250
  const maxMs = options.maxMs ?? 10_000
  const random = options.random ?? Math.random
  return (attempt) => {
    const window = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
    return Math.floor(random() * window)
  }
}
