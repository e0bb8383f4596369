/**
 * The limits that keep one process safe from strangers and broken clients. Every one
 * has a default meant to never bother a real editor (a fast typist produces a few
 * dozen messages per second) while keeping a hostile client's cost bounded. Exceeding
 * a per-connection limit closes that connection with a reason saying which one (a slow
 * consumer's is dropped, and the reason logged: see transport/connection.ts).
 */
export interface Limits {
  /** Messages one connection may send per second, sustained. Default 200. */
  readonly maxMessagesPerSecond: number
  /** Messages one connection may send in a burst before the rate applies. Default 1000. */
  readonly messageBurst: number
  /** Bytes one connection may send per second, sustained. Default 8 MiB. */
  readonly maxBytesPerSecond: number
  /**
   * Bytes one connection may send in a burst. Default 32 MiB; always raised to at least
   * the largest accepted message, or a single legal message could never pass.
   */
  readonly byteBurst: number
  /** Awareness (presence) updates one connection may send per second, sustained. Default 60. */
  readonly maxAwarenessPerSecond: number
  /** Awareness updates one connection may send in a burst. Default 600. */
  readonly awarenessBurst: number
  /** Open connections from one IP address (loopback included). Default 64. */
  readonly maxConnectionsPerIp: number
  /** Open connections in this process. Default 10000. */
  readonly maxConnections: number
  /** Rooms (documents) held open in memory by this process. Default 10000. */
  readonly maxRooms: number
  /** Unsent bytes above which a peer counts as slow. Default 16 MiB. */
  readonly slowConsumerBytes: number
  /** How long a peer may stay above `slowConsumerBytes` before it is dropped. Default 10 s. */
  readonly slowConsumerGraceMs: number
}

export const DEFAULT_LIMITS: Limits = {
  maxMessagesPerSecond: 200,
  messageBurst: 1000,
  maxBytesPerSecond: 8 * 1024 * 1024,
  byteBurst: 32 * 1024 * 1024,
  maxAwarenessPerSecond: 60,
  awarenessBurst: 600,
  maxConnectionsPerIp: 64,
  maxConnections: 10_000,
  maxRooms: 10_000,
  slowConsumerBytes: 16 * 1024 * 1024,
  slowConsumerGraceMs: 10_000
}

/** Fills in defaults and checks that every limit is a positive number. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS }
  for (const [key, value] of Object.entries(overrides) as [keyof Limits, number | undefined][]) {
    if (value === undefined) continue
    if (!(key in DEFAULT_LIMITS)) throw new RangeError(`unknown limit "${key}"`)
    if (typeof value !== 'number' || !(value > 0)) throw new RangeError(`limit ${key} must be a positive number, got ${String(value)}`)
    ;(limits as Record<keyof Limits, number>)[key] = value
  }
  return limits
}
