import type { CompactionThread } from '../compaction/compaction-thread.js'
import type { Log } from '../log.js'
import { mergeUpdates } from '../room/merge-updates.js'
import type { Room } from '../room/room.js'
import type { Storage } from '../storage/storage.js'
import type { RebasedVersion, VersionInfo, VersionStore } from '../storage/version-store.js'
import { versionsToThin, type RetentionPolicy } from './retention-policy.js'

/**
 * The documents' version histories: when a version is recorded, what is stored for it,
 * and which automatic versions are thinned away.
 *
 * **When.** Every commit of a document marks it changed (`noteCommitted`, from the
 * commit queue). An automatic version is recorded once no commit came for `idleMs` (a
 * burst of editing ended), and at the latest `maxIntervalMs` after the first change
 * since the last version (a long session), if the document changed. A room leaving
 * memory does not cut a version: its authors (kept by the room) are kept here and the
 * timers run on, reading the document from storage when they fire. (Recording at
 * eviction made one version per write of a backend using the HTTP API, whose room opens
 * and closes for each write.) A server that closes records what changed first. Named
 * versions and restores are recorded on request, changed or not.
 *
 * **What.** Each version is stored as the diff from the previous version's state, made
 * in the worker by a Y.Doc (compaction/version-diff.js), with the whole state once the
 * diffs since the last one weigh as much as it, or after `checkpointEvery` diffs, so
 * that rebuilding one reads and applies a bounded chain. A version's
 * `base` names the version its diff applies to, so a chain is followed, not assumed.
 *
 * **Thinning.** After each version, the retention policy picks automatic versions to
 * drop; a version whose base is dropped gets the dropped diffs merged into its own
 * (`Y.mergeUpdates`, in order: the merge of consecutive diffs turns the older base's
 * state into its own), in the same atomic write as the removal.
 *
 * Recording runs one at a time per document (a queue per document), so two versions
 * never diff against the same predecessor. With several server clones each records
 * versions of the edits it committed; see the README.
 */
export interface VersionHistory {
  /** `doc`'s updates were committed (by this process). */
  noteCommitted(doc: string): void
  /** `doc`'s room left memory; `authors` are who wrote since its last version (kept for it). */
  roomEvicted(doc: string, authors: readonly string[]): void
  /**
   * Records a version of `doc` as it is now. An automatic one only if it changed since
   * the last version (null otherwise); a named or restore one always. Null also for a
   * document that is not stored.
   */
  record(doc: string, request: VersionRequest): Promise<VersionInfo | null>
  /** `doc`'s versions, oldest first. */
  list(doc: string): Promise<VersionInfo[]>
  /** The version, or null when `doc` has none of that id. */
  find(doc: string, id: number): Promise<VersionInfo | null>
  /** The document at version `id` as one update, or null when there is no such version. */
  content(doc: string, id: number): Promise<Uint8Array | null>
  /** The forward update turning `current` into version `id`'s content, or null when there is no such version. */
  restoreUpdate(doc: string, id: number, current: Uint8Array): Promise<Uint8Array | null>
  /** `doc` was deleted: its pending timers and authors go (its versions went with it in storage). */
  forget(doc: string): void
  /** Records the documents that changed since their last version, stops the timers and waits. */
  close(): Promise<void>
}

export type VersionRequest =
  | { readonly kind: 'auto' }
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'restore'; readonly name: string; readonly restoredFrom: number }

export interface VersionHistoryOptions {
  readonly versions: VersionStore
  readonly storage: Storage
  readonly thread: CompactionThread
  /** The open room of `doc`, if any: its state and its authors. */
  readonly openRoom: (doc: string) => Room | undefined
  readonly idleMs: number
  readonly maxIntervalMs: number
  readonly retention: RetentionPolicy
  /** A checkpoint (the whole state) every this many versions. */
  readonly checkpointEvery: number
  readonly log: Log
  /** The clock, for tests of retention. Default Date.now. */
  readonly now?: () => number
}

/**
 * The longest chain of diffs after a checkpoint (see needsCheckpoint). On the
 * automerge-paper trace (the README's "Version history") a checkpoint costs the whole
 * document (219 KiB) and the diff of a small edit about 50 bytes: a copy every 200
 * versions is about 1 KiB per version, and a rebuild applies at most 200 small updates.
 */
export const DEFAULT_CHECKPOINT_EVERY = 200

/**
 * Whether the next version should be stored whole: once the diffs since the chain's
 * checkpoint weigh as much as the checkpoint itself (a rebuild then reads at most about
 * two copies of the document, and a copy is what a new checkpoint costs), or once the
 * chain is `maxLength` long (a rebuild applies that many updates). So a long document
 * edited a little stores a copy every `maxLength` versions, and one rewritten often
 * stores one about as often as a diff would cost as much.
 */
function needsCheckpoint(all: readonly VersionInfo[], chain: readonly number[], maxLength: number): boolean {
  if (chain.length >= maxLength) return true
  const bytesOf = new Map(all.map((v) => [v.id, v.bytes]))
  const [checkpoint, ...diffs] = chain
  const diffBytes = diffs.reduce((sum, id) => sum + (bytesOf.get(id) ?? 0), 0)
  return diffBytes >= (bytesOf.get(checkpoint as number) ?? 0)
}

interface Pending {
  idle: ReturnType<typeof setTimeout> | null
  max: ReturnType<typeof setTimeout> | null
}

export function createVersionHistory(options: VersionHistoryOptions): VersionHistory {
  const { versions, thread, log } = options
  const now = options.now ?? Date.now
  const changed = new Map<string, Pending>()
  // Authors of changes not yet in a version, of rooms that left memory.
  const pendingAuthors = new Map<string, Set<string>>()
  const queues = new Map<string, Promise<unknown>>()
  let closed = false

  const inQueue = <T>(doc: string, work: () => Promise<T>): Promise<T> => {
    const result = (queues.get(doc) ?? Promise.resolve()).then(work)
    const tail = result.catch(() => {})
    queues.set(doc, tail)
    void tail.then(() => {
      if (queues.get(doc) === tail) queues.delete(doc)
    })
    return result
  }

  const clearTimers = (doc: string): void => {
    const pending = changed.get(doc)
    if (!pending) return
    if (pending.idle) clearTimeout(pending.idle)
    if (pending.max) clearTimeout(pending.max)
    changed.delete(doc)
  }

  const recordAuto = (doc: string): void => {
    if (closed) return
    history.record(doc, { kind: 'auto' }).catch((error: unknown) => {
      log('error', `recording a version failed; trying again after the next change: ${error instanceof Error ? error.message : String(error)}`, { room: doc })
    })
  }

  /** The chain of `id` (its checkpoint first), as ids. */
  const chainOf = (all: readonly VersionInfo[], id: number): number[] => {
    const byId = new Map(all.map((v) => [v.id, v]))
    const chain: number[] = []
    for (let at: number | null = id; at !== null; ) {
      const version = byId.get(at)
      if (!version) throw new Error(`version ${id} of the history has a broken chain: version ${at} is missing`)
      chain.push(at)
      at = version.base
    }
    return chain.reverse()
  }

  const readChain = async (doc: string, ids: readonly number[]): Promise<Uint8Array[]> => {
    const updates = await versions.read(doc, ids)
    return updates.map((update, i) => {
      if (update === null) throw new Error(`version ${ids[i]} of the history is missing its update`)
      return update
    })
  }

  /** The document now, as one update; null when it is not stored (and not open). */
  const currentState = async (doc: string): Promise<Uint8Array | null> => {
    const room = options.openRoom(doc)
    if (room) return room.snapshot()
    const stored = await options.storage.load(doc)
    if (stored.updates.length === 0) return (await options.storage.info(doc)) === null ? null : Uint8Array.of(0, 0)
    return mergeUpdates(stored.updates)
  }

  /** Drops what the retention policy drops, rebasing the versions that diffed against them. */
  const thin = async (doc: string, all: readonly VersionInfo[]): Promise<void> => {
    const drop = new Set(versionsToThin(all, options.retention, now()))
    if (drop.size === 0) return
    const byId = new Map(all.map((v) => [v.id, v]))
    const rebase: RebasedVersion[] = []
    for (const version of all) {
      if (drop.has(version.id) || version.base === null || !drop.has(version.base)) continue
      // The dropped versions between this one and the nearest kept base (or a dropped checkpoint).
      const dropped: number[] = []
      let base: number | null = version.base
      while (base !== null && drop.has(base)) {
        dropped.unshift(base)
        base = byId.get(base)?.base ?? null
      }
      const [own] = await readChain(doc, [version.id])
      const merged = mergeUpdates([...(await readChain(doc, dropped)), own as Uint8Array])
      rebase.push({ id: version.id, base, update: merged })
    }
    await versions.thin(doc, [...drop], rebase)
  }

  const history: VersionHistory = {
    noteCommitted(doc) {
      if (closed) return
      let pending = changed.get(doc)
      if (!pending) changed.set(doc, (pending = { idle: null, max: null }))
      // Every commit of a busy document comes here: re-arm the same timer rather than
      // clear it and make another.
      if (pending.idle) pending.idle.refresh()
      else {
        pending.idle = setTimeout(recordAuto, options.idleMs, doc)
        pending.idle.unref()
      }
      if (!pending.max) {
        pending.max = setTimeout(recordAuto, options.maxIntervalMs, doc)
        pending.max.unref()
      }
    },

    roomEvicted(doc, authors) {
      if (authors.length > 0) {
        let pending = pendingAuthors.get(doc)
        if (!pending) pendingAuthors.set(doc, (pending = new Set()))
        for (const author of authors) pending.add(author)
      }
    },

    record(doc, request) {
      // Changes from here on belong to the next version.
      clearTimers(doc)
      return inQueue(doc, async () => {
        const authors = new Set(pendingAuthors.get(doc))
        pendingAuthors.delete(doc)
        for (const author of options.openRoom(doc)?.takeAuthors() ?? []) authors.add(author)
        const current = await currentState(doc)
        if (current === null) return null
        const all = await versions.list(doc)
        const last = all.at(-1)
        const chain = last ? chainOf(all, last.id) : []
        const checkpoint = last === undefined || needsCheckpoint(all, chain, options.checkpointEvery)
        const diff = await thread.versionDiff(current, await readChain(doc, chain), checkpoint)
        if (request.kind === 'auto' && !diff.changed) return null
        const version = await versions.add(doc, {
          createdAt: now(),
          name: request.kind === 'auto' ? null : request.name,
          kind: request.kind,
          restoredFrom: request.kind === 'restore' ? request.restoredFrom : null,
          authors: [...authors].sort(),
          summary: { inserted: diff.inserted, deleted: diff.deleted },
          base: checkpoint ? null : (last?.id ?? null),
          update: diff.update
        })
        await thin(doc, [...all, version]).catch((error: unknown) => {
          // Kept rather than thinned: nothing is lost, the next version tries again.
          log('error', `thinning the version history failed: ${error instanceof Error ? error.message : String(error)}`, { room: doc })
        })
        return version
      })
    },

    list(doc) {
      return versions.list(doc)
    },

    async find(doc, id) {
      return (await versions.list(doc)).find((v) => v.id === id) ?? null
    },

    async content(doc, id) {
      const all = await versions.list(doc)
      if (!all.some((v) => v.id === id)) return null
      return thread.versionContent(await readChain(doc, chainOf(all, id)))
    },

    async restoreUpdate(doc, id, current) {
      const all = await versions.list(doc)
      if (!all.some((v) => v.id === id)) return null
      return thread.restoreUpdate(current, await readChain(doc, chainOf(all, id)))
    },

    forget(doc) {
      clearTimers(doc)
      pendingAuthors.delete(doc)
    },

    async close() {
      // What changed since its last version is recorded now (the drain bounds the wait).
      const pending = [...changed.keys()]
      for (const doc of pending) recordAuto(doc)
      closed = true
      await Promise.all([...queues.values()])
    }
  }
  return history
}
