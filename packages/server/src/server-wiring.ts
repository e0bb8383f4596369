import { encodeMessage } from '@quire/protocol'
import { notifyDocumentEvent } from './api/document-events.js'
import { createCommitQueue, type CommitQueue } from './commit/commit-queue.js'
import { DEFAULT_COMPACTION_POLICY } from './compaction/compaction-policy.js'
import { createCompactionScheduler, type CompactionScheduler } from './compaction/compaction-scheduler.js'
import { createCompactionThread, type CompactionThread } from './compaction/compaction-thread.js'
import { createDocumentRenderer, type DocumentRenderer } from './render/document-renderer.js'
import { createRenderThread } from './render/render-thread.js'
import { createRelayScheduler } from './room/relay-scheduler.js'
import { createRoomRegistry, type RoomRegistry } from './room/room-registry.js'
import type { ServerMetrics } from './metrics/server-metrics.js'
import type { ResolvedServerOptions } from './server-options.js'
import { createLevelStorage } from './storage/level-storage.js'
import type { Storage } from './storage/storage.js'
import { createVersionHistory, DEFAULT_CHECKPOINT_EVERY, type VersionHistory } from './history/version-history.js'
import { createStateVectorReader, createWebhooks, type Webhooks } from './webhooks/create-webhooks.js'
import type { LogFields } from './log.js'

/**
 * The parts behind the sockets, and who tells whom what: the commit queue tells the
 * compaction scheduler what it appended; the registry asks it for the log a room opens
 * from, and tells it when a room went quiet or left memory; the scheduler finds open
 * rooms in the registry and defers work while the relay scheduler says the event loop is
 * busy. Those that need storage exist once it is open, which is asynchronous for the
 * default LevelDB store.
 */
export interface ServerParts {
  readonly storage: Storage
  readonly commitQueue: CommitQueue
  readonly registry: RoomRegistry
  readonly compaction: CompactionScheduler
  /** The worker thread for whole-document work (compaction, the API's JSON). */
  readonly thread: CompactionThread
  /** Null without `webhooks` options. */
  readonly webhooks: Webhooks | null
  /** Null for a storage that keeps no versions. */
  readonly history: VersionHistory | null
  /** Renders a document (one update) as HTML, Markdown, text or ProseMirror JSON, in its own worker thread, cached. */
  readonly renderer: DocumentRenderer
}

export interface ServerWiring {
  /** Resolves once storage is open; rejects when it cannot open (the rejection is handled here). */
  readonly parts: Promise<ServerParts>
  /** The parts, or null until storage is open (and for good if it failed to). */
  readonly ready: ServerParts | null
  /** Waits for pending commits, evictions and compactions, then stops the worker thread and the relay scheduler. */
  drain(): Promise<void>
  /** Stops the worker thread and the relay scheduler without waiting for anything (a drain that ran out of time). */
  stop(): Promise<void>
  /** Closes the storage if the server opened it (never one the embedder gave). */
  closeOwnedStorage(): Promise<void>
}

const CATCH_UP_RETRY_MS = 2000

/** `metrics` is null when the server runs without them (`metrics: false`). */
export function createServerWiring(options: ResolvedServerOptions, metrics: ServerMetrics | null): ServerWiring {
  const { log, fanout } = options
  const ownsStorage = options.storage === undefined
  const storagePromise: Promise<Storage> = options.storage
    ? Promise.resolve(options.storage)
    : createLevelStorage(options.dataDir, { fsync: options.fsync, log })
  // Reported when used (listen, first upgrade), not as an unhandled rejection.
  storagePromise.catch(() => {})
  const thread = createCompactionThread({ onStarted: options.onWorkerStarted })
  const renderThread = createRenderThread({ extensionsModule: options.renderExtensionsModule, onStarted: options.onWorkerStarted })
  const renderer = createDocumentRenderer({ thread: renderThread, cacheBytes: options.renderCacheBytes })
  const relays = createRelayScheduler()

  const core = storagePromise.then((storage) => {
    const outbox = storage.webhookOutbox
    if (options.webhooks && outbox === undefined) {
      throw new Error('webhooks need a storage that keeps a webhook outbox (the LevelDB, PostgreSQL and memory stores do)')
    }
    const webhooks = options.webhooks && outbox
      ? createWebhooks({ options: options.webhooks, outbox, stateVectorOf: createStateVectorReader(storage, (doc) => registry.get(doc)), log })
      : null
    const commitQueue = createCommitQueue({
      storage,
      log,
      minIntervalMs: options.commitIntervalMs,
      maxUnsavedBytes: options.maxUnsavedBytes,
      ...(metrics ? { observe: metrics.observeCommit } : {}),
      ...(webhooks ? { changeMarkFor: (doc: string) => webhooks.changeMarkFor(doc) } : {}),
      onCommitted: (appended) => {
        webhooks?.committed(appended)
        for (const { doc, updates, joinableStructs } of appended) {
          compaction.noteAppended(doc, updates, joinableStructs)
          history?.noteCommitted(doc)
          registry.committed(doc)
          // Published only once durable: a clone that receives an update never stores it again.
          fanout?.publish(doc, updates.map((update) => encodeMessage({ type: 'sync-update', update })))
        }
      }
    })
    const registry = createRoomRegistry({
      storage,
      commitQueue,
      relays,
      prepareLog: (name, stored) => {
        webhooks?.roomOpened(name, stored.updates.length === 0)
        return compaction.prepareOpen(name, stored)
      },
      onEvicted: (name, room, reason) => {
        compaction.noteEvicted(name, reason)
        webhooks?.roomEvicted(name)
        history?.roomEvicted(name, room.takeAuthors())
      },
      onQuiet: (name) => compaction.noteQuiet(name),
      ...(options.documentEvents ? { onCreated: (name: string) => notifyDocumentEvent(options.documentEvents, 'created', name, log) } : {}),
      ...(fanout ? { fanout } : {}),
      counters: metrics?.counters ?? null,
      log
    })
    const compaction = createCompactionScheduler({
      storage,
      commitQueue,
      thread,
      log,
      policy: { ...DEFAULT_COMPACTION_POLICY, maxUpdates: options.compactAfter },
      openRoom: (doc) => registry.get(doc),
      busy: () => relays.busy
    })
    const history = storage.versions
      ? createVersionHistory({
          versions: storage.versions,
          storage,
          thread,
          openRoom: (doc) => registry.get(doc),
          idleMs: options.historyIdleMs,
          maxIntervalMs: options.historyMaxIntervalMs,
          retention: options.historyRetention,
          checkpointEvery: DEFAULT_CHECKPOINT_EVERY,
          log
        })
      : null
    // Until it succeeds: storage may be down too (both outages at once).
    const catchUp = async (what: string, run: () => Promise<void>, fields?: LogFields): Promise<void> => {
      for (;;) {
        try {
          return await run()
        } catch (error) {
          log('error', `catching up ${what} from storage failed, retrying in ${CATCH_UP_RETRY_MS} ms: ${error instanceof Error ? error.message : String(error)}`, fields)
          await new Promise((resolve) => setTimeout(resolve, CATCH_UP_RETRY_MS).unref())
        }
      }
    }
    const catchUpEveryRoom = (why: string): void => {
      void catchUp('every open room', () => registry.catchUpFromStorage()).then(() => log('info', `caught up every open room from storage after ${why}`))
    }
    fanout?.start({
      resync: () => catchUpEveryRoom('the traffic between clones was interrupted'),
      cloneGone: (clone) => {
        registry.removeClonePresence(clone)
        // It may have committed updates it died before publishing: only storage has them.
        catchUpEveryRoom(`clone ${clone} stopped`)
      },
      followed: (doc) => registry.publishLocalPresence(doc),
      catchUp: (doc) => void catchUp(JSON.stringify(doc), () => registry.catchUpRoom(doc), { room: doc })
    })
    return { storage, commitQueue, registry, compaction, thread, webhooks, history, renderer }
  })
  let ready: ServerParts | null = null
  core.then(
    (c) => {
      ready = c
    },
    () => {}
  )

  return {
    parts: core,
    get ready() {
      return ready
    },
    async drain() {
      const c = await core.catch(() => null)
      if (c) {
        await c.commitQueue.whenCommitted()
        // Before storage closes: open windows are announced (their state vectors read) now.
        await c.webhooks?.close()
        await c.registry.settled()
        await c.compaction.idle()
        // After the evictions: a room leaving with changes records its version first.
        await c.history?.close()
      }
      await Promise.all([thread.close(), renderThread.close()])
      relays.close()
    },
    async stop() {
      await Promise.all([thread.close(), renderThread.close()])
      relays.close()
    },
    async closeOwnedStorage() {
      const c = await core.catch(() => null)
      if (c && ownsStorage) await c.storage.close()
    }
  }
}
