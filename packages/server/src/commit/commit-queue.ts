import type { UpdateMeta } from '@quire/protocol'
import type { Log } from '../log.js'
import type { Peer } from '../room/peer.js'
import type { AppendEntry, Storage } from '../storage/storage.js'
import type { ChangeMark } from '../webhooks/webhook-outbox.js'

/**
 * Group commit. Updates accepted across all rooms go to storage in one atomic batch; at
 * most one batch is in flight, and whatever arrives meanwhile forms the next one.
 * Batches start at least `minIntervalMs` apart: on this kind of machine an fsync costs
 * a few hundred µs of CPU whatever its size, so under steady load a short wait buys
 * far fewer, larger batches. After a batch of a single entry the next waits at most
 * `SINGLE_ENTRY_INTERVAL_MS`: one writer that waits for each acknowledgement before its
 * next write (an API client importing documents one at a time) gathers nothing by
 * waiting, and would only be slowed to one write per interval. After a quiet spell the
 * first update is written at once. Only after a batch is durable does each writer hear,
 * through `Peer.acknowledge`, which of its updates are safe. A failed batch is retried
 * (in order, before anything newer) and nobody is acknowledged for it.
 */
export interface CommitQueue extends RoomCommits {
  /** Resolves once everything enqueued before the call is durable. */
  whenCommitted(): Promise<void>
  /** Number of updates not yet durable. */
  readonly backlog: number
  /** Whether the last write to storage failed (it is being retried): storage is unreachable. */
  readonly failing: boolean
  /** Storage writes that failed since the queue was made (each retry counts). */
  readonly failedWrites: number
}

/** What a room hands the storage side of the data path: the commit queue, seen from a room. */
export interface RoomCommits {
  /**
   * Stores `update` of `doc` in the next batch. Once that batch is durable, `writer` (if
   * any, and if it asked for acknowledgements) hears that it is safe. `meta` is what
   * validation learned of it: the acknowledgement and compaction's bookkeeping read it.
   */
  store(doc: string, update: Uint8Array, meta: UpdateMeta, writer: Peer | null): void
  /**
   * Stores nothing, but tells `writer` that `sent` is safe once everything stored
   * before it is durable: a writer that re-sent what the room already held (after a
   * lost acknowledgement) still learns that all of it is safe.
   */
  acknowledgeAfterEarlier(doc: string, sent: Uint8Array, meta: UpdateMeta, writer: Peer): void
  /**
   * The bytes waiting to be stored passed the bound (`maxUnsavedBytes`): storage has
   * been failing for a while. Writers are refused until it catches up, rather than
   * holding ever more unsaved updates in memory.
   */
  readonly full: boolean
}

/** What one durable batch appended to one document. */
export interface CommittedUpdates extends AppendEntry {
  /** The updates' `UpdateMeta.joinableStructs`, summed. */
  readonly joinableStructs: number
}

export interface CommitQueueOptions {
  readonly storage: Storage
  readonly log: Log
  /** Told after each durable batch what it appended, per document. */
  readonly onCommitted?: (appended: readonly CommittedUpdates[]) => void
  /** Asked, per document of a batch being built, for a change mark it must carry (webhooks; see AppendEntry.changeMark). */
  readonly changeMarkFor?: (doc: string) => ChangeMark | undefined
  /** Delay before retrying a failed batch, by attempt number. */
  readonly retryDelay?: (attempt: number) => number
  /** Least time between the starts of two batches while they gather several entries each (the server's `commitIntervalMs`). */
  readonly minIntervalMs: number
  /** Bytes of updates waiting to be stored above which `full` is true. Default: no bound. */
  readonly maxUnsavedBytes?: number
  /** Told after each durable batch how it went (for the metrics): once per batch, not per update. */
  readonly observe?: (observation: CommitObservation) => void
}

/** One durable group commit, as the metrics see it. */
export interface CommitObservation {
  /** Entries in the batch (updates stored, and resends acknowledged after earlier ones). */
  readonly updates: number
  /** From the start of the storage write to its success. */
  readonly seconds: number
  /**
   * From the moment the batch's oldest entry was enqueued (when its update arrived: a
   * connection hands an update to the room and the room to this queue in the same
   * turn) to durability: the longest wait for an acknowledgement among its writers.
   * Measured per batch rather than per update, so the hot path reads no clock.
   */
  readonly oldestWaitSeconds: number
}

/** One update waiting for a batch: to store, to acknowledge, or both. It is what `Peer.acknowledge` gets. */
interface Entry {
  readonly doc: string
  readonly update: Uint8Array
  readonly meta: UpdateMeta
  readonly stored: boolean
  readonly writer: Peer | null
}

interface Waiter {
  readonly target: number
  readonly resolve: () => void
}

const defaultRetryDelay = (attempt: number): number => Math.min(5000, 100 * 2 ** attempt)
/** The least interval after a batch of one entry, when `minIntervalMs` is longer. */
const SINGLE_ENTRY_INTERVAL_MS = 10

export function createCommitQueue(options: CommitQueueOptions): CommitQueue {
  const retryDelay = options.retryDelay ?? defaultRetryDelay
  let pending: Entry[] = []
  let inFlight = false
  let scheduled = false
  let failedAttempts = 0
  let enqueued = 0
  let committed = 0
  let waiters: Waiter[] = []
  const { minIntervalMs } = options
  let lastStartedAt = Number.NEGATIVE_INFINITY
  // How long after `lastStartedAt` the next batch may start (see SINGLE_ENTRY_INTERVAL_MS).
  let interval = minIntervalMs
  const maxUnsavedBytes = options.maxUnsavedBytes ?? Number.POSITIVE_INFINITY
  // Bytes of the updates to store that are not durable yet (in `pending` or in flight).
  let unsavedBytes = 0
  let failedWrites = 0
  // When the oldest entry of `pending` was enqueued (performance.now()), read once per batch.
  let pendingSince = 0

  const schedule = (retryAfter = 0): void => {
    if (scheduled || inFlight || pending.length === 0) return
    scheduled = true
    const delay = Math.max(retryAfter, lastStartedAt + interval - performance.now())
    if (delay > 0) setTimeout(flush, delay)
    else setImmediate(flush)
  }

  const flush = (): void => {
    // Node fires a timer by libuv's millisecond loop clock, up to ~2 ms before
    // performance.now() reaches its due time (batches started 8.3 ms apart in
    // test/group-commit.test.ts): wait out the rest.
    const early = lastStartedAt + interval - performance.now()
    if (early > 0) {
      setTimeout(flush, early)
      return
    }
    scheduled = false
    lastStartedAt = performance.now()
    const startedAt = lastStartedAt
    const since = pendingSince
    const batch = pending
    pending = []
    interval = batch.length > 1 ? minIntervalMs : Math.min(minIntervalMs, SINGLE_ENTRY_INTERVAL_MS)
    inFlight = true
    const appended = groupByDoc(batch, options.changeMarkFor)
    options.storage.append(appended).then(
      () => {
        inFlight = false
        if (options.observe) {
          const now = performance.now()
          options.observe({ updates: batch.length, seconds: (now - startedAt) / 1000, oldestWaitSeconds: (now - since) / 1000 })
        }
        if (failedAttempts > 0) options.log('info', `storage writes succeed again after ${failedAttempts} failed attempts`)
        failedAttempts = 0
        committed += batch.length
        for (const entry of batch) if (entry.stored) unsavedBytes -= entry.update.byteLength
        acknowledge(batch)
        options.onCommitted?.(appended)
        releaseWaiters()
        schedule()
      },
      (error: unknown) => {
        inFlight = false
        failedWrites++
        const delay = retryDelay(failedAttempts++)
        options.log(
          'error',
          `storage write of ${batch.length} updates failed (attempt ${failedAttempts}), retrying in ${delay} ms: ${
            error instanceof Error ? error.message : String(error)
          }`,
          { updates: batch.length, attempt: failedAttempts, retryMs: delay }
        )
        pending = batch.concat(pending)
        // The batch goes first again, and so does its age.
        pendingSince = since
        schedule(delay)
      }
    )
  }

  const acknowledge = (batch: readonly Entry[]): void => {
    const byWriter = new Map<Peer, Entry[]>()
    for (const entry of batch) {
      if (!entry.writer) continue
      let entries = byWriter.get(entry.writer)
      if (!entries) byWriter.set(entry.writer, (entries = []))
      entries.push(entry)
    }
    for (const [writer, entries] of byWriter) writer.acknowledge(entries)
  }

  const releaseWaiters = (): void => {
    const ready = waiters.filter((w) => w.target <= committed)
    if (ready.length === 0) return
    waiters = waiters.filter((w) => w.target > committed)
    for (const w of ready) w.resolve()
  }

  const push = (entry: Entry): void => {
    if (pending.length === 0 && options.observe) pendingSince = performance.now()
    pending.push(entry)
    if (entry.stored) unsavedBytes += entry.update.byteLength
    enqueued++
    schedule()
  }

  return {
    store(doc, update, meta, writer) {
      // A writer that wants no acknowledgement costs no bookkeeping.
      push({ doc, update, meta, stored: true, writer: writer?.acknowledging === true ? writer : null })
    },
    acknowledgeAfterEarlier(doc, sent, meta, writer) {
      if (writer.acknowledging) push({ doc, update: sent, meta, stored: false, writer })
    },
    whenCommitted() {
      if (committed >= enqueued) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ target: enqueued, resolve }))
    },
    get backlog() {
      return enqueued - committed
    },
    get failing() {
      return failedAttempts > 0
    },
    get failedWrites() {
      return failedWrites
    },
    get full() {
      return unsavedBytes > maxUnsavedBytes
    }
  }
}

function groupByDoc(batch: readonly Entry[], changeMarkFor: CommitQueueOptions['changeMarkFor']): CommittedUpdates[] {
  const byDoc = new Map<string, { doc: string; updates: Uint8Array[]; joinableStructs: number; changeMark?: ChangeMark }>()
  for (const entry of batch) {
    if (!entry.stored) continue
    let appended = byDoc.get(entry.doc)
    if (!appended) {
      const changeMark = changeMarkFor?.(entry.doc)
      byDoc.set(entry.doc, (appended = { doc: entry.doc, updates: [], joinableStructs: 0, ...(changeMark ? { changeMark } : {}) }))
    }
    appended.updates.push(entry.update)
    appended.joinableStructs += entry.meta.joinableStructs
  }
  return [...byDoc.values()]
}
