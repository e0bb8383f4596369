import type { CommitQueue } from '../commit/commit-queue.js'
import type { Log } from '../log.js'
import type { Room } from '../room/room.js'
import type { Storage } from '../storage/storage.js'
import type { CompactionThread } from './compaction-thread.js'

/**
 * Decides when a stored log is long enough to compact, and runs one compaction at a
 * time: wait until the room's writes are durable, read the log, compact it on the
 * worker thread, replace the log's prefix by the snapshot. If the room did not move
 * meanwhile, its in-memory state becomes the (garbage-collected) snapshot too.
 */
export interface CompactionScheduler {
  /** The log of `doc` now holds `length` updates (after a load). */
  noteLogLength(doc: string, length: number): void
  /** `count` more updates of `doc` became durable. */
  noteAppended(doc: string, count: number): void
  /** Compacts `doc` now, whatever its length; resolves when done. */
  compact(doc: string): Promise<void>
  /** Waits for running and queued compactions. */
  idle(): Promise<void>
}

export interface CompactionSchedulerOptions {
  readonly storage: Storage
  readonly commitQueue: CommitQueue
  readonly thread: CompactionThread
  readonly log: Log
  /**
   * Compact once a log holds more than this many updates. Not less often for a growing
   * document: a compaction rebuilds the document in a Y.Doc, which joins each run of
   * typed characters into one item, while merged updates keep an item per keystroke
   * (ten times the bytes on real traces), so the snapshot also keeps the room's
   * in-memory state and every later merge small.
   */
  readonly threshold: number
  /** The open room of that name, if any. */
  readonly openRoom: (doc: string) => Room | undefined
}

export function createCompactionScheduler(options: CompactionSchedulerOptions): CompactionScheduler {
  const lengths = new Map<string, number>()
  const queued = new Set<string>()
  let chain: Promise<void> = Promise.resolve()

  const run = async (doc: string): Promise<void> => {
    const room = options.openRoom(doc)
    const version = room?.version
    await options.commitQueue.whenCommitted()
    const { updates, lastSeq } = await options.storage.load(doc)
    if (updates.length <= 1) return
    const snapshot = await options.thread.compact(updates)
    await options.storage.replace(doc, snapshot, lastSeq)
    lengths.set(doc, (lengths.get(doc) ?? updates.length) - updates.length + 1)
    if (room && options.openRoom(doc) === room && room.version === version) room.state.reset(snapshot)
    options.log('info', `compacted "${doc}": ${updates.length} updates -> 1 snapshot of ${snapshot.byteLength} bytes`)
  }

  const enqueue = (doc: string): Promise<void> => {
    queued.add(doc)
    chain = chain.then(
      () => {
        queued.delete(doc)
        return run(doc).catch((error: unknown) => {
          options.log('error', `compaction of "${doc}" failed, the log stays as it was: ${error instanceof Error ? error.message : String(error)}`)
        })
      }
    )
    return chain
  }

  const check = (doc: string): void => {
    if ((lengths.get(doc) ?? 0) > options.threshold && !queued.has(doc)) void enqueue(doc)
  }

  return {
    noteLogLength(doc, length) {
      lengths.set(doc, length)
      check(doc)
    },
    noteAppended(doc, count) {
      lengths.set(doc, (lengths.get(doc) ?? 0) + count)
      check(doc)
    },
    compact: enqueue,
    idle() {
      return chain
    }
  }
}
