import { readdirSync } from 'node:fs'
import { readlink } from 'node:fs/promises'
import { getPriority, setPriority } from 'node:os'
import type { Log } from '../log.js'

/**
 * `quire serve` gives the background threads of its process a higher nice value than the
 * event loop's: V8's garbage-collection helpers, LevelDB's own compaction thread, and the
 * compaction and render workers. On a core they share (a clone pinned to a core, a
 * container with one CPU's quota), the scheduler otherwise hands them the core for whole
 * time slices while the relay waits with deliveries in hand. Measured with the fan-out at
 * 30,000 deliveries/s (100 rooms x 10 clients) on a 2-vCPU AMD EPYC VM, the server pinned
 * to one core (2026-12-01), each against the same build with every thread at one priority,
 * 8 steps each: 10 nicer, the deliveries' p99 fell from 32 to 14 ms (median) and the event
 * loop's wait for its core from 4-12% to 2-3% of a step; 5 nicer, from 33 to 24 ms.
 *
 * Why 5 and not 10: background work must still progress while the event loop is busy
 * throughout, as in a reconnect storm (5,000 clients joining at once). A thread 10 nicer
 * gets about a tenth of a core the event loop wants whole, 5 nicer about a quarter; with 10
 * the storm took 4.0 s against 3.5 (median of 3, `pnpm bench --scenario storm`), and 5.0
 * against 3.9 with the thread pool left alone; with 5, 4.2 against 4.2.
 *
 * libuv's thread pool keeps the event loop's priority: what it does (reading a room from
 * LevelDB when a client joins, the group commit's fsync before an acknowledgement) is
 * work a client waits for. Its threads are found by asking them: a readlink of
 * /proc/thread-self runs on a pool thread and names it.
 *
 * Linux only: there a thread's nice value is its own (setpriority on a thread id, which
 * is how `os.setPriority` sets it), and /proc/self/task lists the threads. Threads start
 * later (workers start on the first compaction or render, LevelDB's thread on its first
 * compaction), so the threads are looked at again every second and whenever a worker
 * starts.
 */
export interface BackgroundThreads {
  /** Lowers the threads started since the last look (a worker just started, say). */
  lowerNew(): void
  stop(): void
}

/** How much nicer than the event loop the background threads run unless `--background-nice` says otherwise. */
export const DEFAULT_BACKGROUND_NICE = 5
const LOOK_EVERY_MS = 1000
const MAX_NICE = 19
const TASKS = '/proc/self/task'

export const NO_BACKGROUND_THREADS: BackgroundThreads = { lowerNew: () => {}, stop: () => {} }

/** libuv's default pool size, used when UV_THREADPOOL_SIZE does not say. */
const DEFAULT_POOL_SIZE = 4

/**
 * The ids of libuv's thread-pool threads: each asynchronous readlink runs on one of them,
 * and /proc/thread-self is the thread that reads it. Asked in rounds of many at once until
 * every thread of the pool has answered (a round may keep some of them busy).
 */
async function threadPoolThreads(): Promise<Set<number>> {
  const size = Math.min(1024, Number(process.env.UV_THREADPOOL_SIZE) || DEFAULT_POOL_SIZE)
  const found = new Set<number>()
  for (let round = 0; round < 20 && found.size < size; round++) {
    const links = await Promise.all(Array.from({ length: size * 8 }, () => readlink('/proc/thread-self')))
    for (const link of links) found.add(Number(link.slice(link.lastIndexOf('/') + 1)))
  }
  return found
}

/**
 * Sets every thread but the main one and the thread pool's at least `by` nicer than the
 * main thread (capped at 19). `by` 0 or a platform without per-thread priorities: nothing
 * is done, and the log says why when it is the platform.
 */
export async function lowerBackgroundThreads(by: number, log: Log): Promise<BackgroundThreads> {
  if (by === 0) return NO_BACKGROUND_THREADS
  if (process.platform !== 'linux') {
    log('info', `--background-nice has no effect on ${process.platform}: threads have no priorities of their own there`)
    return NO_BACKGROUND_THREADS
  }
  const mainThread = process.pid
  const pool = await threadPoolThreads()
  const nice = Math.min(MAX_NICE, getPriority(mainThread) + by)
  let warned = false
  const lowerNew = (): void => {
    for (const name of readdirSync(TASKS)) {
      const thread = Number(name)
      if (thread === mainThread || pool.has(thread)) continue
      try {
        // Only threads not nice enough yet: those started since the last look, and never the
        // other way (a thread that made itself nicer still, the render worker at 19, stays so).
        if (getPriority(thread) < nice) setPriority(thread, nice)
      } catch (error) {
        // ESRCH: the thread ended since the listing. Anything else is worth one line.
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH' && !warned) {
          warned = true
          log('warn', `cannot lower the priority of background thread ${thread}: ${(error as Error).message}; the relay may wait behind them`)
        }
      }
    }
  }
  lowerNew()
  const timer = setInterval(lowerNew, LOOK_EVERY_MS)
  timer.unref()
  return { lowerNew, stop: () => clearInterval(timer) }
}
