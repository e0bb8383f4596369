import type { Log } from '../log.js'
import type { Peer } from '../room/peer.js'
import type { AppendEntry, Storage } from '../storage/storage.js'

/**
 * Group commit. Updates accepted across all rooms go to storage in one atomic batch; at
 * most one batch is in flight, and whatever arrives meanwhile forms the next one.
 * Batches start at least `minIntervalMs` apart: on this kind of machine an fsync costs
 * a few hundred µs of CPU whatever its size, so under steady load a short wait buys
 * far fewer, larger batches. After a quiet spell the first update is written at once. Only after a batch is durable does each writer hear,
 * through `Peer.acknowledge`, which of its updates are safe. A failed batch is retried
 * (in order, before anything newer) and nobody is acknowledged for it.
 */
export interface CommitQueue {
  /**
   * Stores `update` (unless null) in the next batch. Once that batch is durable,
   * `writer` is acknowledged for `acknowledged` (default: the stored update): a writer
   * that re-sent what the room already held is told it is safe once everything
   * enqueued before it is durable, though nothing new is stored for it.
   */
  enqueue(doc: string, update: Uint8Array | null, writer: Peer | null, acknowledged?: Uint8Array): void
  /** Resolves once everything enqueued before the call is durable. */
  whenCommitted(): Promise<void>
  /** Number of updates not yet durable. */
  readonly backlog: number
}

export interface CommitQueueOptions {
  readonly storage: Storage
  readonly log: Log
  /** Told after each durable batch what it appended, per document. */
  readonly onCommitted?: (appended: readonly AppendEntry[]) => void
  /** Delay before retrying a failed batch, by attempt number. */
  readonly retryDelay?: (attempt: number) => number
  /** Least time between the starts of two batches (default 10 ms). */
  readonly minIntervalMs?: number
}

interface Entry {
  readonly doc: string
  readonly update: Uint8Array | null
  readonly writer: Peer | null
  readonly acknowledged: Uint8Array | null
}

interface Waiter {
  readonly target: number
  readonly resolve: () => void
}

const defaultRetryDelay = (attempt: number): number => Math.min(5000, 100 * 2 ** attempt)
const DEFAULT_MIN_INTERVAL_MS = 10

export function createCommitQueue(options: CommitQueueOptions): CommitQueue {
  const retryDelay = options.retryDelay ?? defaultRetryDelay
  let pending: Entry[] = []
  let inFlight = false
  let scheduled = false
  let failedAttempts = 0
  let enqueued = 0
  let committed = 0
  let waiters: Waiter[] = []
  const minIntervalMs = options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS
  let lastStartedAt = Number.NEGATIVE_INFINITY

  const schedule = (retryAfter = 0): void => {
    if (scheduled || inFlight || pending.length === 0) return
    scheduled = true
    const delay = Math.max(retryAfter, lastStartedAt + minIntervalMs - performance.now())
    if (delay > 0) setTimeout(flush, delay)
    else setImmediate(flush)
  }

  const flush = (): void => {
    // Node fires a timer by libuv's millisecond loop clock, up to ~2 ms before
    // performance.now() reaches its due time (batches started 8.3 ms apart in
    // test/group-commit.test.ts): wait out the rest.
    const early = lastStartedAt + minIntervalMs - performance.now()
    if (early > 0) {
      setTimeout(flush, early)
      return
    }
    scheduled = false
    lastStartedAt = performance.now()
    const batch = pending
    pending = []
    inFlight = true
    const appended = groupByDoc(batch)
    options.storage.append(appended).then(
      () => {
        inFlight = false
        failedAttempts = 0
        committed += batch.length
        acknowledge(batch)
        options.onCommitted?.(appended)
        releaseWaiters()
        schedule()
      },
      (error: unknown) => {
        inFlight = false
        const delay = retryDelay(failedAttempts++)
        options.log(
          'error',
          `storage write of ${batch.length} updates failed (attempt ${failedAttempts}), retrying in ${delay} ms: ${
            error instanceof Error ? error.message : String(error)
          }`
        )
        pending = batch.concat(pending)
        schedule(delay)
      }
    )
  }

  const acknowledge = (batch: readonly Entry[]): void => {
    const byWriter = new Map<Peer, Uint8Array[]>()
    for (const entry of batch) {
      if (!entry.writer || !entry.acknowledged) continue
      let updates = byWriter.get(entry.writer)
      if (!updates) byWriter.set(entry.writer, (updates = []))
      updates.push(entry.acknowledged)
    }
    for (const [writer, updates] of byWriter) writer.acknowledge(updates)
  }

  const releaseWaiters = (): void => {
    const ready = waiters.filter((w) => w.target <= committed)
    if (ready.length === 0) return
    waiters = waiters.filter((w) => w.target > committed)
    for (const w of ready) w.resolve()
  }

  return {
    enqueue(doc, update, writer, acknowledged) {
      pending.push({ doc, update, writer, acknowledged: acknowledged ?? update })
      enqueued++
      schedule()
    },
    whenCommitted() {
      if (committed >= enqueued) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ target: enqueued, resolve }))
    },
    get backlog() {
      return enqueued - committed
    }
  }
}

function groupByDoc(batch: readonly Entry[]): AppendEntry[] {
  const byDoc = new Map<string, Uint8Array[]>()
  for (const entry of batch) {
    if (!entry.update) continue
    let updates = byDoc.get(entry.doc)
    if (!updates) byDoc.set(entry.doc, (updates = []))
    updates.push(entry.update)
  }
  return [...byDoc].map(([doc, updates]) => ({ doc, updates }))
}
