import { performance, type EventLoopUtilization } from 'node:perf_hooks'

/**
 * When rooms relay what they accepted. Every relayed update costs each receiver one
 * socket write, the floor of a relay's cost (on the AMD EPYC VM this was measured on, a
 * loopback write is most of the CPU a delivery takes). While the process has time to
 * spare, rooms relay at the end of the event-loop turn, as soon as possible. Once the
 * event loop is busy (its utilization over the last quarter second above
 * `busyUtilization`), rooms relay at most every `busyDelayMs`: a receiver then gets the
 * updates of that window in one write instead of one write each, so the server carries
 * more at a small, bounded cost in latency, the trade a loaded server should make.
 *
 * One scheduler serves every room of a process: one timer or immediate flushes all the
 * rooms that have something to relay.
 */
export interface RelayScheduler {
  /** `room.relay()` runs once soon (at the end of this turn, or within `busyDelayMs` when busy). */
  schedule(room: RelayingRoom): void
  readonly busy: boolean
  close(): void
}

export interface RelayingRoom {
  relay(): void
}

export interface RelaySchedulerOptions {
  /** Longest a relay waits while the process is busy. Default 5 ms. */
  readonly busyDelayMs?: number
  /** Event-loop utilization above which the process counts as busy. Default 0.6. */
  readonly busyUtilization?: number
}

const MEASURE_EVERY_MS = 250
const DEFAULT_BUSY_DELAY_MS = 5
const DEFAULT_BUSY_UTILIZATION = 0.6

export function createRelayScheduler(options: RelaySchedulerOptions = {}): RelayScheduler {
  const busyDelayMs = options.busyDelayMs ?? DEFAULT_BUSY_DELAY_MS
  const busyUtilization = options.busyUtilization ?? DEFAULT_BUSY_UTILIZATION
  let dirty: RelayingRoom[] = []
  let flushPending = false
  let busy = false
  let last: EventLoopUtilization = performance.eventLoopUtilization()
  const meter = setInterval(() => {
    const now = performance.eventLoopUtilization()
    busy = performance.eventLoopUtilization(now, last).utilization > busyUtilization
    last = now
  }, MEASURE_EVERY_MS)
  meter.unref()

  const flush = (): void => {
    flushPending = false
    const rooms = dirty
    dirty = []
    for (const room of rooms) room.relay()
  }

  return {
    schedule(room) {
      dirty.push(room)
      if (flushPending) return
      flushPending = true
      if (busy) setTimeout(flush, busyDelayMs)
      else setImmediate(flush)
    },
    get busy() {
      return busy
    },
    close() {
      clearInterval(meter)
    }
  }
}
