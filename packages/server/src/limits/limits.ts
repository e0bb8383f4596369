import { getHeapStatistics } from 'node:v8'

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
  /**
   * Open connections from one client address (loopback included; behind a trusted proxy,
   * the address it forwarded for). Default 512: see below.
   */
  readonly maxConnectionsPerIp: number
  /** New connections one client address may open per second, sustained. Default 16. */
  readonly maxNewConnectionsPerSecondPerIp: number
  /** New connections one client address may open in a burst before the rate applies. Default 512. */
  readonly newConnectionBurstPerIp: number
  /**
   * Open connections in this process. Default 10000. `listen()` also asks the kernel to
   * hold as many connection attempts (see create-server.ts: a restart brings them all).
   */
  readonly maxConnections: number
  /** Rooms (documents) held open in memory by this process. Default 10000. */
  readonly maxRooms: number
  /** Unsent bytes above which a peer counts as slow. Default 16 MiB. */
  readonly slowConsumerBytes: number
  /** How long a peer may stay above `slowConsumerBytes` before it is dropped. Default 10 s. */
  readonly slowConsumerGraceMs: number
  /**
   * Unsent bytes summed over every peer of the server. When the sum stays above it for a
   * second, the peers with the largest backlogs are dropped until it is back under (see
   * limits/unsent-bytes-budget.ts). Default a quarter of V8's heap limit (see
   * `defaultMaxUnsentBytes`).
   */
  readonly maxUnsentBytes: number
}

/**
 * A quarter of V8's heap limit: the memory the process was sized for, whether the operator
 * set it (`--max-old-space-size`) or V8 derived it from the machine's memory (4144 MiB for
 * Node 20.20 on a 24 GiB VM like the bench's, so 1036 MiB).
 *
 * Unsent bytes do not count against that limit: `bufferedAmount` is the Buffers queued in
 * the socket's stream (a write the kernel took only part of still holds all of its
 * Buffer), plus `ws`'s own queue, and their memory is outside the JS heap. So they add to
 * the RSS on top of whatever the heap holds, and a quarter lets the process reach 1.25
 * times its heap limit from this source at worst. Node's documentation
 * suggests giving the heap three quarters of a machine's memory (1536 MiB of 2 GiB),
 * which leaves a third of the heap limit for everything outside the heap: a quarter goes
 * to unsent bytes and the rest stays for code, stacks, LevelDB's caches and the documents'
 * bytes. What the kernel holds in each socket's send buffer (up to `net.ipv4.tcp_wmem`'s
 * maximum, 4 MiB by default on Linux) is not in `bufferedAmount` and not in the RSS; it is bounded
 * per socket by the kernel.
 *
 * The budget is usually far from the memory used: an update relayed to n stalled peers of
 * a room is one Buffer they all hold (wire-frames.ts) but counts n times. It is reached
 * with memory to match when stalled peers hold different bytes, such as many clients of
 * different rooms, or each one's own sync reply to a large document. At 64 MiB per peer
 * (`maxBufferedBytes`), the default lets about 16 peers (with the VMs' heap limit) sit at
 * their own bound before the budget acts.
 */
export function defaultMaxUnsentBytes(): number {
  return Math.floor(getHeapStatistics().heap_size_limit / 4)
}

/*
 * Per address: one address is often many people. An office of 40 behind one NAT, each
 * with two tabs, is 80 connections; a school or a company's egress, a few hundred; and a
 * reverse proxy that is not trusted (`trustProxy`) is everyone. The old cap of 64 open
 * connections refused all of those, and did little against an attacker, who can open
 * and close sockets in a loop without ever holding 64, or hold 64 per address from many.
 *
 * So the open cap is now 512 (about 250 people with two tabs each), and a second limit
 * bounds what an attacker does and an office does not: *new* connections per address,
 * 16 per second sustained with a burst of 512. The burst equals the open cap, so a whole
 * address's worth of clients can reconnect at once after a restart (and one refused
 * for the rate is not lost: stock y-websocket 3 retries after 200 ms, backing off to
 * 2.5 s, and gets in as the bucket refills). 16 per second is a reconnect every 32 s for every one of
 * 512 connections, far more churn than editors make, while a socket-opening loop is cut
 * to 16 upgrades (authenticate calls, room loads, initial syncs) per second per address.
 * An idle connection costs about 8 KiB of memory (README, Performance), so 512 from one
 * address hold about 4 MiB; an attacker with many addresses is bounded by `maxConnections`.
 */
export const DEFAULT_LIMITS: Limits = {
  maxMessagesPerSecond: 200,
  messageBurst: 1000,
  maxBytesPerSecond: 8 * 1024 * 1024,
  byteBurst: 32 * 1024 * 1024,
  maxAwarenessPerSecond: 60,
  awarenessBurst: 600,
  maxConnectionsPerIp: 512,
  maxNewConnectionsPerSecondPerIp: 16,
  newConnectionBurstPerIp: 512,
  maxConnections: 10_000,
  maxRooms: 10_000,
  slowConsumerBytes: 16 * 1024 * 1024,
  slowConsumerGraceMs: 10_000,
  maxUnsentBytes: defaultMaxUnsentBytes()
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
