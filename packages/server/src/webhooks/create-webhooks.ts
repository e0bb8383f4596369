import { randomUUID } from 'node:crypto'
import * as Y from 'yjs'
import type { RecordedDocumentEvents } from '../api/document-events.js'
import type { Log } from '../log.js'
import type { Storage } from '../storage/storage.js'
import { createRetrySchedule } from './retry-schedule.js'
import { createUpdateCoalescer } from './update-coalescer.js'
import { encodeStateVectorBase64, encodeWebhookBody } from './webhook-body.js'
import { createWebhookDispatcher, type WebhookCounters } from './webhook-dispatcher.js'
import type { ResolvedWebhookOptions } from './webhook-options.js'
import type { ChangeMark, DeliveryCounts, NewDelivery, StoredChangeMark, WebhookEvent, WebhookOutbox } from './webhook-outbox.js'

/**
 * Webhooks that are never lost. Events come from three places: the commit queue
 * (`document.updated`, and `document.created` for a document whose room opened empty),
 * and the HTTP API (`documentEvents.created` / `.deleted`). Each event becomes one
 * delivery per receiver in the outbox, in the store that holds the documents, and the
 * dispatcher sends them from there, retrying with backoff.
 *
 * **Why an acknowledged update is never left unannounced.** An update is acknowledged
 * once its group commit is durable, and a crash may come right after. Three ways were
 * weighed:
 *
 * 1. write a pending mark before the acknowledgement, in a write of its own: one more
 *    fsync on the acknowledgement's path for the first update of every window;
 * 2. scan at start-up for documents changed after the position last announced: nothing
 *    on the hot path, but the LevelDB store has no index of documents by position, so a
 *    start-up would read the last key of every document;
 * 3. write the mark in the commit's own atomic batch (`AppendEntry.changeMark`).
 *
 * This is (3): the first commit of a document in a coalescing window carries a change
 * mark; it costs one more operation in a batch written anyway (about 10 µs of LevelDB
 * CPU, one more row of the same PostgreSQL statement), once per document per window,
 * no extra write, no extra fsync, nothing more for the acknowledgement to wait for. When
 * the window closes, its events and the removal of its mark are one atomic write
 * (`WebhookOutbox.enqueue`), shared by the windows that closed in the same turn. A process that dies in between leaves the mark, and a
 * recovery scan turns it into the events: at start-up for a store of one process
 * (LevelDB, memory), and every few seconds for marks older than any live window could
 * leave (a clone that died, on PostgreSQL; an enqueue that kept failing). An event may
 * then be made twice; it is never missing. Receivers dedupe on the delivery id anyway.
 */
export interface Webhooks {
  /** For the commit queue: the change mark a batch must carry for `doc`, if any. */
  changeMarkFor(doc: string): ChangeMark | undefined
  /** For the commit queue: what a durable batch appended. */
  committed(appended: readonly { readonly doc: string; readonly changeMark?: ChangeMark }[]): void
  /** A room opened; `empty` if its stored log was (its first commit announces `document.created`). */
  roomOpened(doc: string, empty: boolean): void
  roomEvicted(doc: string): void
  /**
   * For the HTTP API, which creates and deletes documents: each resolves once the event
   * is durable in the outbox (so answer the request after it).
   */
  readonly documentEvents: RecordedDocumentEvents
  readonly outbox: WebhookOutbox
  /** Attempts by outcome since start (plain numbers, for the metrics registry). */
  readonly counters: Readonly<WebhookCounters>
  /** Deliveries pending and failed in the outbox (the queue's depth, for metrics). */
  queueDepth(): Promise<DeliveryCounts>
  /** Deliveries were re-queued: look for due ones now. */
  wake(): void
  /** Stops the dispatcher, announces every open window and waits for those outbox writes. */
  close(): Promise<void>
}

export interface CreateWebhooksOptions {
  readonly options: ResolvedWebhookOptions
  readonly outbox: WebhookOutbox
  /** The document's state vector now (its room's if open, else from storage). */
  readonly stateVectorOf: (doc: string) => Promise<Uint8Array>
  readonly log: Log
}

const SCAN_BATCH = 100
const ENQUEUE_RETRY_MAX_MS = 30_000

export function createWebhooks({ options, outbox, stateVectorOf, log }: CreateWebhooksOptions): Webhooks {
  const counters: WebhookCounters = { delivered: 0, retried: 0, failed: 0 }
  const schedule = createRetrySchedule(options.retryBaseMs, options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts })
  const dispatcher = createWebhookDispatcher({
    outbox,
    secret: options.secret,
    schedule,
    attemptTimeoutMs: options.attemptTimeoutMs,
    maxInFlight: options.maxInFlight,
    pollMs: options.pollMs,
    counters,
    log
  })
  // Older than any mark a live window holds (it is settled within maxWait of being
  // written, unless the outbox is failing): a mark this old was left behind.
  const staleMarkMs = options.maxWaitMs * 2 + 30_000
  const announcing = new Set<Promise<void>>()
  let closing = false

  const deliveriesFor = (events: readonly WebhookEvent[], doc: string, stateVector: Uint8Array | null): NewDelivery[] => {
    const createdAt = new Date().toISOString()
    const deliveries: NewDelivery[] = []
    for (const event of events) {
      for (const url of options.urls) {
        const id = randomUUID()
        const body = encodeWebhookBody({ id, event, room: doc, ...(stateVector === null ? {} : { stateVector: encodeStateVectorBase64(stateVector) }), createdAt })
        deliveries.push({ id, url, event, room: doc, body })
      }
    }
    return deliveries
  }

  /**
   * Events wait for the outbox's next write: one write (one fsync on LevelDB, one
   * statement on PostgreSQL) for every window that closed meanwhile, at most one write in
   * flight. It runs beside the commits, never before an acknowledgement.
   */
  let waiting: Array<{ deliveries: NewDelivery[]; settles: StoredChangeMark | undefined; resolve: () => void; reject: (error: unknown) => void }> = []
  let writing = false
  const writeWaiting = (): void => {
    if (writing || waiting.length === 0) return
    writing = true
    const batch = waiting
    waiting = []
    const settles = batch.flatMap((w) => (w.settles === undefined ? [] : [w.settles]))
    void outbox.enqueue(batch.flatMap((w) => w.deliveries), settles).then(
      () => {
        for (const w of batch) w.resolve()
        dispatcher.wake()
      },
      (error: unknown) => {
        for (const w of batch) w.reject(error)
      }
    ).finally(() => {
      writing = false
      writeWaiting()
    })
  }
  const enqueue = (deliveries: NewDelivery[], settles: StoredChangeMark | undefined): Promise<void> =>
    new Promise((resolve, reject) => {
      waiting.push({ deliveries, settles, resolve, reject })
      setImmediate(writeWaiting)
    })

  /** Writes the events to the outbox, trying again until it succeeds (or the server closes: a mark stays for the next start). */
  const announce = (events: readonly WebhookEvent[], doc: string, settles?: StoredChangeMark): Promise<void> => {
    const run = async (): Promise<void> => {
      for (let failures = 0; ; failures++) {
        try {
          const stateVector = events.includes('document.deleted') ? null : await stateVectorOf(doc)
          await enqueue(deliveriesFor(events, doc, stateVector), settles)
          return
        } catch (error) {
          const delay = Math.min(ENQUEUE_RETRY_MAX_MS, 500 * 2 ** failures)
          const message = error instanceof Error ? error.message : String(error)
          if (closing) {
            log('error', `webhook ${events.join(', ')} for ${JSON.stringify(doc)} not written to the outbox while closing: ${message}${settles ? ' (its change mark stays; the next start announces it)' : ''}`)
            throw error
          }
          log('error', `webhook ${events.join(', ')} for ${JSON.stringify(doc)}: writing to the outbox failed, retrying in ${delay} ms: ${message}`)
          await new Promise((resolve) => setTimeout(resolve, delay))
        }
      }
    }
    const done = run()
    announcing.add(done)
    void done.catch(() => {}).finally(() => announcing.delete(done))
    return done
  }

  const eventsOf = (mark: StoredChangeMark): WebhookEvent[] => (mark.created ? ['document.created', 'document.updated'] : ['document.updated'])

  const coalescer = createUpdateCoalescer({
    debounceMs: options.debounceMs,
    maxWaitMs: options.maxWaitMs,
    onClose: (mark) => void announce(eventsOf(mark), mark.doc, mark).catch(() => {})
  })

  /** Announces marks left behind (see the header). */
  const recover = async (olderThanMs: number, limit: number): Promise<void> => {
    for (let round = 0; round < 100 && !closing; round++) {
      const marks = await outbox.claimMarks(olderThanMs, limit)
      for (const mark of marks) if (!coalescer.owns(mark)) void announce(eventsOf(mark), mark.doc, mark).catch(() => {})
      if (marks.length < limit) return
    }
  }
  const recoveryFailed = (error: unknown): void => {
    log('error', `webhooks: reading change marks left behind failed (tried again in ${Math.round(staleMarkMs / 2000)} s): ${error instanceof Error ? error.message : String(error)}`)
  }
  // A store of one process: every mark found at start was left by the last one. Shared:
  // only marks too old for a live clone's window.
  void (outbox.shared ? recover(staleMarkMs, SCAN_BATCH) : recover(0, 10_000)).catch(recoveryFailed)
  const scan = setInterval(() => void recover(staleMarkMs, SCAN_BATCH).catch(recoveryFailed), staleMarkMs / 2)
  scan.unref()

  return {
    changeMarkFor: (doc) => coalescer.changeMarkFor(doc),
    committed: (appended) => coalescer.committed(appended),
    roomOpened: (doc, empty) => coalescer.opened(doc, empty),
    roomEvicted: (doc) => coalescer.forget(doc),
    documentEvents: {
      created(doc) {
        coalescer.createdElsewhere(doc)
        return announce(['document.created'], doc)
      },
      deleted(doc) {
        // An open window's changes are gone with the document: the deletion settles its mark.
        return announce(['document.deleted'], doc, coalescer.discard(doc))
      }
    },
    outbox,
    counters,
    queueDepth: () => outbox.count(),
    wake: () => dispatcher.wake(),
    async close() {
      clearInterval(scan)
      // First the dispatcher: attempts in flight are cut short and given back (sent again
      // after the restart, with the same delivery id), and the events written below wait
      // for the next start rather than being half sent now.
      await dispatcher.stop()
      coalescer.closeAll()
      closing = true
      await Promise.allSettled([...announcing])
      coalescer.stop()
    }
  }
}

/** The state vector of `doc` now: its open room's, else its stored log's (an empty one for a document with none). */
export function createStateVectorReader(
  storage: Storage,
  openRoom: (doc: string) => { stateVector(): Uint8Array } | undefined
): (doc: string) => Promise<Uint8Array> {
  return async (doc) => {
    const room = openRoom(doc)
    if (room !== undefined) return room.stateVector()
    const { updates } = await storage.load(doc)
    if (updates.length === 0) return Uint8Array.of(0)
    return Y.encodeStateVectorFromUpdate(updates.length === 1 ? (updates[0] as Uint8Array) : Y.mergeUpdates(updates))
  }
}
