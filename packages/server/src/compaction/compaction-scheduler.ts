import type { CommitQueue } from '../commit/commit-queue.js'
import type { Log } from '../log.js'
import type { EvictionReason } from '../room/room-registry.js'
import type { Room } from '../room/room.js'
import type { Storage, StoredLog } from '../storage/storage.js'
import { addToGrowth, deferredWhileBusy, growthOfLog, needsCompaction, needsQuietCompaction, type CompactionPolicy, type LogGrowth } from './compaction-policy.js'
import type { CompactionThread } from './compaction-thread.js'

/**
 * Decides when a stored log is worth compacting (compaction-policy.ts) and runs one
 * compaction at a time: mark the open room's state, wait until its writes are durable,
 * read the log, compact it on the worker thread, replace the log's prefix by the
 * snapshot, then swap the room's in-memory state for the snapshot plus what the room
 * accepted since the mark. So a busy room serves joining clients a snapshot too, not
 * only the rooms that happened to be quiet while their compaction ran.
 *
 * A room about to open from a log that needs compaction waits for it: the worker's
 * snapshot of a 200-update, 2 MB log is ready about when the merged log would have been
 * applied by the client, and the relay's event loop never merges that log itself. Such
 * compactions go before those of open rooms.
 *
 * Compactions queued because a log grew or its room went quiet run in the background:
 * they pause between each other (BACKGROUND_PAUSE_FACTOR) and wait while the process is
 * busy, unless a log outgrew even the busy bounds. One whose room has gone quiet skips
 * the pause while the process is not busy (see Job.quiet).
 */
export interface CompactionScheduler {
  /**
   * A room is about to open from `log`: resolves with the log to open it from, compacted
   * first when it needs it (or as it was, if that compaction fails).
   */
  prepareOpen(doc: string, log: StoredLog): Promise<StoredLog>
  /** `updates` of `doc` became durable; `joinableStructs` is theirs summed (see `UpdateMeta`). */
  noteAppended(doc: string, updates: readonly Uint8Array[], joinableStructs: number): void
  /**
   * `doc`'s room has gone quiet: compacts it if a lower bound calls for it, or else folds
   * a large in-memory state on the worker (see FOLD_ON_WORKER_BYTES). True when a job is
   * queued or running whose snapshot will replace the room's state.
   */
  noteQuiet(doc: string): boolean
  /**
   * `doc`'s room left memory; its growth is read again from storage when it reopens. A
   * room that left because its last peer did (`idle`), with a log a quiet compaction calls
   * for, has that compaction queued now (see Job.leftForLater).
   */
  noteEvicted(doc: string, reason: EvictionReason): void
  /** Compacts `doc` now, whatever its length; resolves when done. */
  compact(doc: string): Promise<void>
  /** Waits for running and queued compactions; drops those left for later (see Job.leftForLater). */
  idle(): Promise<void>
  /** Compactions that replaced a log by its snapshot, and those that failed, since the scheduler was made. */
  readonly completed: number
  readonly failed: number
}

export interface CompactionSchedulerOptions {
  readonly storage: Storage
  readonly commitQueue: CommitQueue
  readonly thread: CompactionThread
  readonly log: Log
  readonly policy: CompactionPolicy
  /** The open room of that name, if any. */
  readonly openRoom: (doc: string) => Room | undefined
  /** Whether the process is busy now (see `CompactionPolicy.busyFactor`). */
  readonly busy?: () => boolean
}

interface Job {
  readonly doc: string
  /**
   * 'compact': the stored log is replaced by a snapshot, which the open room takes too.
   * 'fold': only the open room's in-memory state is replaced, by the worker's snapshot of
   * its parts; storage is left as it is.
   */
  kind: 'compact' | 'fold'
  /** A room waits to open from this log. */
  urgent: boolean
  /** Queued because the log grew or its room went quiet, not asked for: paced and deferred while busy. */
  background: boolean
  /**
   * Its room has gone quiet since: it adds no more work, and whoever opens the document
   * now is served the state this job replaces. While the process is not busy such a job
   * does not wait out the pause (after an upload of 40,000 keystrokes, warm loads were
   * served the merged tail for the 2.5 s the pause lasted, 100-250 ms to apply each
   * instead of 10-20).
   */
  quiet: boolean
  /**
   * Queued as a room left memory, its log grown past the quiet bounds only (appended to,
   * or opened so): nobody has the document open or waits for its state. A room evicted as
   * its last peer leaves never waits out the quiet spell (FOLD_DELAY_MS) that compacts
   * it, so most documents, edited for a while and then closed, stayed a log of a few
   * hundred small updates that every later open merged on the event loop (0.76 ms a room
   * for 160 updates of 25 characters, reconnect-storm bench, AMD EPYC VM, 2026-12-01). A
   * server that closes does not wait for these: the log is served as it is until its room
   * leaves memory again.
   */
  leftForLater: boolean
  readonly done: Promise<void>
  readonly resolve: () => void
}

/**
 * After a background compaction that took d ms, the next one starts no sooner than
 * BACKGROUND_PAUSE_FACTOR × d later (at most MAX_BACKGROUND_PAUSE_MS): the worker shares
 * the cores of the relay (one core, when the server is pinned), and a hundred rooms that
 * grew in step once compacted back to back, taking most of the relay's core for two
 * seconds (p99 of deliveries over 250 ms at 60% load, fan-out bench on an Intel Xeon VM,
 * 2026-11-30). With 3, the worker takes at most a quarter of a core for them.
 */
const BACKGROUND_PAUSE_FACTOR = 3
/**
 * ...but never longer than this. The pause is for many short jobs that would otherwise
 * run back to back; a long job is paced by its own length already. Unbounded, it fed on
 * itself under a sustained upload to one room: the worker (nicer than the event loop)
 * ran slowly on a busy core, its long run bought a long pause, three times as many
 * updates piled up for the next one, and every sync reply meanwhile merged the growing
 * tail on the event loop. Uploading the automerge-paper trace one update per patch
 * (a sync round trip every 2,000 updates, AMD EPYC VM, 2026-12-01) compacted every
 * 3-8 s, 48,000-72,000 updates at a time, and took 22.9-25.0 s, most of it waiting for
 * sync replies; with the pause bounded to 250 ms it compacted every 0.4-0.8 s,
 * 12,000-14,000 updates at a time, and took 13.8-17.5 s. Jobs of up to 83 ms, what a
 * hundred rooms growing in step cost, are paused as before.
 */
const MAX_BACKGROUND_PAUSE_MS = 250
/** How soon a background job deferred while the process is busy is looked at again. */
const BUSY_RETRY_MS = 250
/**
 * A quiet room whose state holds at least this many bytes in more than one part is
 * folded by the worker, not by `Y.mergeUpdates` on the event loop: folding the
 * automerge-paper document (144 KiB) and the paragraphs a backend appended through the
 * API took 40-125 ms of the relay's thread (render bench, Intel Xeon VM, 2026-11-30),
 * a stall every other room's deliveries waited behind. Below it the room merges its
 * parts itself, as before: most rooms are small, and a job on the worker for each would
 * queue behind the compactions.
 */
const FOLD_ON_WORKER_BYTES = 64 * 1024

export function createCompactionScheduler(options: CompactionSchedulerOptions): CompactionScheduler {
  const { storage, policy } = options
  const busyPolicy = deferredWhileBusy(policy)
  // Growth of the logs of open rooms only: forgotten when a room is evicted.
  const growth = new Map<string, LogGrowth>()
  const jobs: Job[] = []
  let running: Job | null = null
  let idleWaiters: Array<() => void> = []
  // No background job starts before this (performance.now()); see BACKGROUND_PAUSE_FACTOR.
  let backgroundAllowedAt = 0
  let retry: ReturnType<typeof setTimeout> | null = null
  // Set by idle(): whoever waits for the queue to empty (a server closing) waits for no pacing.
  let draining = false
  let completed = 0
  let failed = 0

  /**
   * What both kinds of job do to the open room: from now on it keeps what it accepts
   * beside its state, `build` makes the snapshot (null: nothing to replace), and the room
   * takes it if it is still the open one; otherwise, or when `build` throws, it stops
   * keeping. `build` gets the room (none when the document is not open) and runs at once,
   * so what it reads of the room is the state at the mark.
   */
  const swapSnapshotIn = async (doc: string, build: (room: Room | undefined) => Promise<Uint8Array | null>): Promise<void> => {
    const room = options.openRoom(doc)
    room?.prepareSnapshotSwap()
    let replaced = false
    try {
      const snapshot = await build(room)
      if (snapshot !== null && room !== undefined && options.openRoom(doc) === room) {
        room.swapInSnapshot(snapshot)
        replaced = true
      }
    } finally {
      if (!replaced) room?.cancelSnapshotSwap()
    }
  }

  const run = async (doc: string): Promise<void> => {
    try {
      await swapSnapshotIn(doc, async () => {
        await options.commitQueue.whenCommitted()
        const log = await storage.load(doc)
        if (log.updates.length === 0 || (log.updates.length === 1 && log.startsWithSnapshot)) return null
        const compacted = growthOfLog(log)
        const snapshot = await options.thread.compact(log.updates)
        await storage.replace(doc, snapshot, log.lastSeq)
        completed++
        const known = growth.get(doc)
        if (known) {
          known.updatesSinceSnapshot = Math.max(0, known.updatesSinceSnapshot - compacted.updatesSinceSnapshot)
          known.bytesSinceSnapshot = Math.max(0, known.bytesSinceSnapshot - compacted.bytesSinceSnapshot)
          known.joinableSinceSnapshot = Math.max(0, known.joinableSinceSnapshot - compacted.joinableSinceSnapshot)
          known.snapshotBytes = snapshot.byteLength
        }
        options.log(
          'info',
          `compacted "${doc}": ${log.updates.length} updates of ${compacted.bytesSinceSnapshot + compacted.snapshotBytes} bytes -> 1 snapshot of ${snapshot.byteLength} bytes`,
          { room: doc, updates: log.updates.length, snapshotBytes: snapshot.byteLength }
        )
        return snapshot
      })
    } catch (error) {
      failed++
      // Not again before as much has been appended once more: a log that cannot be
      // compacted (or a storage that keeps failing) must not take the worker in a loop.
      const known = growth.get(doc)
      if (known) {
        known.snapshotBytes += known.bytesSinceSnapshot
        known.updatesSinceSnapshot = 0
        known.bytesSinceSnapshot = 0
        known.joinableSinceSnapshot = 0
      }
      options.log('error', `compaction of "${doc}" failed, the log stays as it was: ${error instanceof Error ? error.message : String(error)}`, { room: doc })
    }
  }

  /** The open room's state, replaced by the worker's snapshot of its parts (see Job.kind). */
  const fold = async (doc: string): Promise<void> => {
    try {
      await swapSnapshotIn(doc, async (room) => {
        const parts = room?.parts() ?? []
        return parts.length <= 1 ? null : await options.thread.compact(parts)
      })
    } catch (error) {
      // The room keeps its parts; it merges them itself when a joining peer needs them.
      options.log('error', `folding the state of "${doc}" failed, it stays as it was: ${error instanceof Error ? error.message : String(error)}`, { room: doc })
    }
  }

  const pumpLater = (delayMs: number): void => {
    if (retry !== null) return
    retry = setTimeout(() => {
      retry = null
      pump()
    }, delayMs)
    retry.unref()
  }

  /**
   * The job to run now: a room waiting to open first, then one asked for, then a
   * background one, unless the worker must pause (BACKGROUND_PAUSE_FACTOR) or the process
   * is busy and the log has not grown past the bounds for a busy process.
   */
  const nextJob = (): Job | undefined => {
    const foreground = jobs.find((job) => job.urgent) ?? jobs.find((job) => !job.background)
    if (foreground !== undefined || draining) return foreground ?? jobs[0]
    const busy = options.busy?.() === true
    const quiet = busy ? undefined : jobs.find((job) => job.quiet)
    if (quiet !== undefined) return quiet
    const wait = backgroundAllowedAt - performance.now()
    if (wait > 0) {
      pumpLater(wait)
      return undefined
    }
    if (!busy) return jobs[0]
    const overgrown = jobs.find((job) => {
      const known = growth.get(job.doc)
      return known !== undefined && needsCompaction(known, busyPolicy)
    })
    if (overgrown === undefined) pumpLater(BUSY_RETRY_MS)
    return overgrown
  }

  const pump = (): void => {
    if (running !== null) return
    if (jobs.length === 0) {
      const waiters = idleWaiters
      idleWaiters = []
      draining = false
      for (const resolve of waiters) resolve()
      return
    }
    const next = nextJob()
    if (next === undefined) return
    jobs.splice(jobs.indexOf(next), 1)
    running = next
    const startedAt = performance.now()
    void (next.kind === 'fold' ? fold(next.doc) : run(next.doc)).finally(() => {
      running = null
      if (next.background) backgroundAllowedAt = performance.now() + Math.min(MAX_BACKGROUND_PAUSE_MS, BACKGROUND_PAUSE_FACTOR * (performance.now() - startedAt))
      next.resolve()
      // What arrived while it ran may already call for the next one.
      check(next.doc)
      pump()
    })
  }

  /** Queues a job for `doc` (or merges `how` into the one queued); resolves when it has run, or was dropped. */
  const enqueue = (doc: string, how: Partial<Pick<Job, 'kind' | 'urgent' | 'background' | 'quiet' | 'leftForLater'>> = {}): Promise<void> => {
    const { kind = 'compact', urgent = false, background = false, quiet = false, leftForLater = false } = how
    const queued = jobs.find((job) => job.doc === doc)
    if (queued) {
      queued.urgent ||= urgent
      queued.background &&= background
      queued.quiet ||= quiet
      queued.leftForLater &&= leftForLater
      // A compaction replaces the room's state too: it does what a queued fold would.
      if (kind === 'compact') queued.kind = 'compact'
      pump()
      return queued.done
    }
    let resolve: () => void = () => {}
    const done = new Promise<void>((r) => (resolve = r))
    jobs.push({ doc, kind, urgent, background, quiet, leftForLater, done, resolve })
    pump()
    return done
  }

  const check = (doc: string): void => {
    const known = growth.get(doc)
    if (known === undefined || running?.doc === doc || !needsCompaction(known, options.busy?.() === true ? busyPolicy : policy)) return
    void enqueue(doc, { background: true })
  }

  return {
    async prepareOpen(doc, log) {
      const loaded = growthOfLog(log)
      growth.set(doc, loaded)
      if (!needsCompaction(loaded, policy)) return log
      await enqueue(doc, { urgent: true })
      return await storage.load(doc)
    },
    noteAppended(doc, updates, joinableStructs) {
      const known = growth.get(doc)
      if (known === undefined) return
      addToGrowth(known, updates, joinableStructs)
      check(doc)
    },
    noteQuiet(doc) {
      if (running?.doc === doc) return true
      const queued = jobs.find((job) => job.doc === doc)
      if (queued !== undefined) {
        queued.quiet = true
        pump()
        return true
      }
      const known = growth.get(doc)
      if (known !== undefined && needsQuietCompaction(known, policy)) {
        void enqueue(doc, { background: true, quiet: true })
        return true
      }
      const parts = options.openRoom(doc)?.parts() ?? []
      if (parts.length <= 1 || parts.reduce((sum, part) => sum + part.byteLength, 0) < FOLD_ON_WORKER_BYTES) return false
      void enqueue(doc, { kind: 'fold', background: true, quiet: true })
      return true
    },
    noteEvicted(doc, reason) {
      const known = growth.get(doc)
      growth.delete(doc)
      if (reason === 'idle' && known !== undefined && needsQuietCompaction(known, policy)) {
        void enqueue(doc, { background: true, leftForLater: true })
      }
    },
    compact: (doc) => enqueue(doc),
    idle() {
      for (const job of jobs.filter((queued) => queued.leftForLater)) {
        jobs.splice(jobs.indexOf(job), 1)
        job.resolve()
      }
      if (running === null && jobs.length === 0) return Promise.resolve()
      draining = true
      if (retry !== null) {
        clearTimeout(retry)
        retry = null
      }
      const waiting = new Promise<void>((resolve) => idleWaiters.push(resolve))
      pump()
      return waiting
    },
    get completed() {
      return completed
    },
    get failed() {
      return failed
    }
  }
}
