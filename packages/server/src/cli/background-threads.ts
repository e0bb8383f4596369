import { readdirSync } from 'node:fs'
import { getPriority, setPriority } from 'node:os'
import type { Log } from '../log.js'

/**
 * `quire serve` gives every thread of its process but the event loop's a higher nice
 * value: V8's garbage-collection helpers, libuv's thread pool (LevelDB's fsync'd group
 * commits), LevelDB's own compaction thread, and the compaction and render workers. On
 * a core they share (a clone pinned to a core, a container with one CPU's quota), the
 * scheduler otherwise hands them the core for whole time slices while the relay waits
 * with deliveries in hand. Measured with the fan-out at 30,000 deliveries/s on a 2-vCPU
 * AMD EPYC VM, the server pinned to one core (2026-12-01): the event loop waited for the
 * core 4-12% of each step, and the deliveries' p99 was 32 ms (median of 8 steps); with
 * the other threads 10 nicer, it waited 2-3% and the p99 was 14 ms, for the same CPU.
 * Background work still progresses (a nice-10 thread gets about a tenth of a core the
 * event loop wants whole); it just no longer preempts the relay.
 *
 * Linux only: there a thread's nice value is its own (setpriority on a thread id, which
 * is how `os.setPriority` sets it), and /proc/self/task lists the threads. Threads start
 * later (the thread pool grows on demand, workers start on the first compaction), so
 * the threads are looked at again every second and whenever a worker starts.
 */
export interface BackgroundThreads {
  /** Lowers the threads started since the last look (a worker just started, say). */
  lowerNew(): void
  stop(): void
}

/** How much nicer than the event loop the other threads run unless `--background-nice` says otherwise. */
export const DEFAULT_BACKGROUND_NICE = 10
const LOOK_EVERY_MS = 1000
const MAX_NICE = 19
const TASKS = '/proc/self/task'

export const NO_BACKGROUND_THREADS: BackgroundThreads = { lowerNew: () => {}, stop: () => {} }

/**
 * Sets every thread but the main one at least `by` nicer than the main thread (capped at 19). `by`
 * 0 or a platform without per-thread priorities: nothing is done, and the log says why
 * when it is the platform.
 */
export function lowerBackgroundThreads(by: number, log: Log): BackgroundThreads {
  if (by === 0) return NO_BACKGROUND_THREADS
  if (process.platform !== 'linux') {
    log('info', `--background-nice has no effect on ${process.platform}: threads have no priorities of their own there`)
    return NO_BACKGROUND_THREADS
  }
  const mainThread = process.pid
  const nice = Math.min(MAX_NICE, getPriority(mainThread) + by)
  let lowered = new Set<number>()
  let warned = false
  const lowerNew = (): void => {
    const seen = new Set<number>()
    for (const name of readdirSync(TASKS)) {
      const thread = Number(name)
      if (thread === mainThread) continue
      seen.add(thread)
      if (lowered.has(thread)) continue
      try {
        // Never the other way: a thread that made itself nicer still (the render worker, at 19) stays so.
        if (getPriority(thread) < nice) setPriority(thread, nice)
      } catch (error) {
        // ESRCH: the thread ended since the listing. Anything else is worth one line.
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH' && !warned) {
          warned = true
          log('warn', `cannot lower the priority of background thread ${thread}: ${(error as Error).message}; the relay may wait behind them`)
        }
      }
    }
    // Only live threads: ids of ended ones are reused, and the set stays small.
    lowered = seen
  }
  lowerNew()
  const timer = setInterval(lowerNew, LOOK_EVERY_MS)
  timer.unref()
  return { lowerNew, stop: () => clearInterval(timer) }
}
