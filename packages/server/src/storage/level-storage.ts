import { Level } from 'level'
import type { Log } from '../log.js'
import type { AppendEntry, Storage, StoredLog } from './storage.js'
import { decodeCommitRecord, encodeCommitRecord, type CommitEntry } from './commit-record.js'
import {
  COMMIT_KEY_RANGE,
  DOC_KEY_RANGE,
  SEQUENCE_KEY,
  decodeCommitKey,
  decodeDocKey,
  decodeLogKey,
  decodeSeq,
  encodeCommitKey,
  encodeDocKey,
  encodePackKey,
  encodeSeq,
  encodeSnapshotKey,
  encodeUpdateKey,
  updateKeyRange
} from './document-key.js'
import { decodeUpdatePack, encodeUpdatePack } from './update-pack.js'

export interface LevelStorageOptions {
  /**
   * fsync every batch (LevelDB `sync: true`). On by default: an acknowledged write must
   * survive a machine crash, not only a process crash. Group commit amortises the cost.
   */
  readonly fsync?: boolean
  /** Where a failed checkpoint is reported (it is retried; nothing is lost). */
  readonly log?: Log
}

const WRITE_BUFFER_BYTES = 1024 * 1024
/**
 * A document's updates in one commit from this size on go to its own log at once, not
 * once in a commit record and again at the checkpoint. Commit records pay off for the
 * many small updates of typing; with a 64 KiB bound, a thousand clients each uploading a
 * 7.4 KiB document left the server 13 KiB per document larger (32.7 against 19.0 KiB in
 * a probe of the memory scenario, AMD EPYC VM, 2026-11-30), from writing every byte twice
 * in large records.
 */
const DIRECT_WRITE_BYTES = 4 * 1024
/** A checkpoint runs once this many commit records or bytes wait for one, or CHECKPOINT_DELAY_MS after the first. */
const CHECKPOINT_COMMITS = 256
const CHECKPOINT_BYTES = 1024 * 1024
const CHECKPOINT_DELAY_MS = 2000
const CHECKPOINT_RETRY_MS = 5000

type Db = Level<Uint8Array, Uint8Array>
type BatchOperation = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }

/** Updates of one document that are durable in a commit record, not yet in the document's own log. */
interface PendingEntry {
  readonly seq: number
  readonly updates: readonly Uint8Array[]
  readonly bytes: number
}

/**
 * The embedded default: one LevelDB directory holding every document (see
 * document-key.ts for the key layout). Sequence numbers are global and only grow, so an
 * update appended while a compaction runs always lands after that compaction's `upToSeq`.
 *
 * A group commit is one fsync'd LevelDB record across all its documents (a commit key),
 * not one record per document: classic-level costs about 10 µs of CPU per batch
 * operation (measured on an AMD EPYC VM, Node 20, 2026-11-30: a 100-operation batch
 * 1.3 ms, a 1-operation batch 0.22 ms, both fsync'd), and at a hundred busy documents
 * that was a sixth of the relay's main thread. A checkpoint later moves what the commit
 * records hold into each document's own log, one pack per document for many commits,
 * without fsync (the commit records stay until it is written), and removes them. Until
 * then `load` adds a document's pending updates from memory. On open, commit records
 * left by a crash are read back; an entry is pending only if its sequence number is past
 * the document's stored log (a checkpoint, a large direct write or a compaction that
 * covered it may have been written before the crash).
 */
export async function createLevelStorage(path: string, options: LevelStorageOptions = {}): Promise<Storage> {
  // A 1 MiB memtable instead of LevelDB's 4 MiB: the memtable is resident memory of the
  // server process, and a sync server's writes are small and already grouped.
  const db: Db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view', writeBufferSize: WRITE_BUFFER_BYTES })
  try {
    await db.open()
  } catch (error) {
    throw new Error(
      `cannot open the LevelDB store at ${path}: ${describeOpenError(error)}`,
      { cause: error }
    )
  }
  const writeOptions = { sync: options.fsync ?? true }
  const storedSeq = await db.get(SEQUENCE_KEY)
  let lastSeq = storedSeq === undefined ? 0 : decodeSeq(storedSeq)
  // Documents whose doc key (for list()) is known to be written, so a commit does not
  // rewrite it every time.
  const listed = new Set<string>()
  const pending = new Map<string, PendingEntry[]>()
  let pendingBytes = 0
  // Commit records on disk that a checkpoint has not removed yet, and the last of them.
  let pendingCommits = 0
  let lastCommitSeq = 0
  // Bumped whenever updates move between memory and the documents' logs, so that a load
  // that read both around such a move reads again.
  let epoch = 0
  let checkpointTimer: ReturnType<typeof setTimeout> | null = null
  // Writes run one at a time, so the pending map always matches what is on disk.
  let writes: Promise<unknown> = Promise.resolve()
  const serialized = <T>(write: () => Promise<T>): Promise<T> => {
    const result = writes.then(write)
    writes = result.catch(() => {})
    return result
  }

  const addPending = (doc: string, seq: number, updates: readonly Uint8Array[]): void => {
    const bytes = updates.reduce((sum, update) => sum + update.byteLength, 0)
    let entries = pending.get(doc)
    if (!entries) pending.set(doc, (entries = []))
    entries.push({ seq, updates, bytes })
    pendingBytes += bytes
  }

  const dropPending = (doc: string, upToSeq = Number.POSITIVE_INFINITY): void => {
    const entries = pending.get(doc)
    if (!entries) return
    const kept = entries.filter((entry) => entry.seq > upToSeq)
    for (const entry of entries) if (entry.seq <= upToSeq) pendingBytes -= entry.bytes
    if (kept.length > 0) pending.set(doc, kept)
    else pending.delete(doc)
  }

  const lastStoredSeq = async (doc: string): Promise<number> => {
    for await (const key of db.keys({ ...updateKeyRange(doc), reverse: true, limit: 1 })) return decodeLogKey(doc, key).seq
    return 0
  }

  /** Moves every pending update into its document's log and removes the commit records. Call inside `serialized`. */
  const checkpointNow = async (): Promise<void> => {
    if (checkpointTimer !== null) clearTimeout(checkpointTimer)
    checkpointTimer = null
    if (pendingCommits === 0) return
    const ops: BatchOperation[] = []
    for (const [doc, entries] of pending) {
      const seq = (entries[entries.length - 1] as PendingEntry).seq
      ops.push(logRecord(doc, seq, entries.flatMap((entry) => entry.updates)))
    }
    const upTo = lastCommitSeq
    // No fsync: until this batch is on disk, the commit records still hold everything.
    if (ops.length > 0) await db.batch(ops, { sync: false })
    pending.clear()
    pendingBytes = 0
    pendingCommits = 0
    epoch++
    await db.clear({ gte: COMMIT_KEY_RANGE.gte, lte: encodeCommitKey(upTo) })
  }

  const checkpoint = (): void => {
    void serialized(checkpointNow).catch((error: unknown) => {
      options.log?.('error', `storage checkpoint failed, retrying in ${CHECKPOINT_RETRY_MS} ms (nothing is lost: the commit records stay): ${error instanceof Error ? error.message : String(error)}`)
      scheduleCheckpoint(CHECKPOINT_RETRY_MS)
    })
  }

  const scheduleCheckpoint = (delay: number): void => {
    if (checkpointTimer !== null) return
    checkpointTimer = setTimeout(() => {
      checkpointTimer = null
      checkpoint()
    }, delay)
    checkpointTimer.unref()
  }

  // Commit records a crash left behind: pending again, except what a document's log
  // already holds.
  const storedSeqs = new Map<string, number>()
  for await (const [key, value] of db.iterator(COMMIT_KEY_RANGE)) {
    const seq = decodeCommitKey(key)
    pendingCommits++
    lastCommitSeq = Math.max(lastCommitSeq, seq)
    lastSeq = Math.max(lastSeq, seq)
    for (const entry of decodeCommitRecord(new Uint8Array(value.buffer, value.byteOffset, value.byteLength))) {
      let stored = storedSeqs.get(entry.doc)
      if (stored === undefined) storedSeqs.set(entry.doc, (stored = await lastStoredSeq(entry.doc)))
      if (seq > stored) addPending(entry.doc, seq, entry.updates)
    }
  }
  if (pendingCommits > 0) await serialized(checkpointNow)

  return {
    async load(doc: string): Promise<StoredLog> {
      for (;;) {
        const startEpoch = epoch
        const updates: Uint8Array[] = []
        let docLastSeq = 0
        let startsWithSnapshot = false
        for await (const [key, value] of db.iterator(updateKeyRange(doc))) {
          // classic-level hands out Buffers; callers get plain Uint8Array views of them.
          const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
          const { seq, kind } = decodeLogKey(doc, key)
          if (kind === 'snapshot' && updates.length === 0) startsWithSnapshot = true
          if (kind === 'pack') updates.push(...decodeUpdatePack(bytes))
          else updates.push(bytes)
          docLastSeq = seq
        }
        // A checkpoint or compaction moved updates meanwhile: what was read may miss them.
        if (epoch !== startEpoch) continue
        for (const entry of pending.get(doc) ?? []) {
          if (entry.seq <= docLastSeq) continue
          updates.push(...entry.updates)
          docLastSeq = entry.seq
        }
        if (updates.length > 0) listed.add(doc)
        return { updates, lastSeq: docLastSeq, startsWithSnapshot }
      }
    },

    append(batch: readonly AppendEntry[]): Promise<void> {
      return serialized(async () => {
        const ops: BatchOperation[] = []
        const seq = lastSeq + 1
        const committed: CommitEntry[] = []
        const direct: string[] = []
        const newlyListed: string[] = []
        for (const { doc, updates } of batch) {
          if (updates.length === 0) continue
          if (!listed.has(doc)) {
            newlyListed.push(doc)
            ops.push({ type: 'put', key: encodeDocKey(doc), value: new Uint8Array(0) })
          }
          let bytes = 0
          for (const update of updates) bytes += update.byteLength
          if (bytes < DIRECT_WRITE_BYTES) {
            committed.push({ doc, updates })
            continue
          }
          // Straight to the document's log, with what of it was pending, so that its
          // pending updates always come after its log.
          const earlier = (pending.get(doc) ?? []).flatMap((entry) => entry.updates)
          ops.push(logRecord(doc, seq, earlier.length > 0 ? [...earlier, ...updates] : updates))
          direct.push(doc)
        }
        if (ops.length === 0 && committed.length === 0) return
        if (committed.length > 0) ops.push({ type: 'put', key: encodeCommitKey(seq), value: encodeCommitRecord(committed) })
        ops.push({ type: 'put', key: SEQUENCE_KEY, value: encodeSeq(seq) })
        // Claim the number before awaiting, as a concurrent compaction reads it.
        lastSeq = seq
        await db.batch(ops, writeOptions)
        for (const doc of newlyListed) listed.add(doc)
        if (direct.length > 0) {
          for (const doc of direct) dropPending(doc)
          epoch++
        }
        if (committed.length > 0) {
          for (const { doc, updates } of committed) addPending(doc, seq, updates)
          pendingCommits++
          lastCommitSeq = seq
          if (pendingCommits >= CHECKPOINT_COMMITS || pendingBytes >= CHECKPOINT_BYTES) checkpoint()
          else scheduleCheckpoint(CHECKPOINT_DELAY_MS)
        }
      })
    },

    replace(doc: string, snapshot: Uint8Array, upToSeq: number): Promise<void> {
      return serialized(async () => {
        const ops: BatchOperation[] = []
        for await (const key of db.keys(updateKeyRange(doc, upToSeq))) ops.push({ type: 'del', key })
        // The snapshot takes the place of the last update it covers, so order is kept;
        // commit-record entries up to it are covered, and skipped after a crash.
        ops.push({ type: 'put', key: encodeSnapshotKey(doc, upToSeq), value: snapshot })
        await db.batch(ops, writeOptions)
        dropPending(doc, upToSeq)
        epoch++
      })
    },

    async list(): Promise<string[]> {
      const names: string[] = []
      for await (const key of db.keys(DOC_KEY_RANGE)) names.push(decodeDocKey(key))
      return names
    },

    delete(doc: string): Promise<void> {
      return serialized(async () => {
        // No commit record may still name the document once its log is gone.
        await checkpointNow()
        listed.delete(doc)
        const ops: BatchOperation[] = [{ type: 'del', key: encodeDocKey(doc) }]
        for await (const key of db.keys(updateKeyRange(doc))) ops.push({ type: 'del', key })
        await db.batch(ops, writeOptions)
        epoch++
      })
    },

    async close(): Promise<void> {
      await serialized(checkpointNow)
      await db.close()
    }
  }
}

/** One record of a document's log: a single update, or a pack of several. */
function logRecord(doc: string, seq: number, updates: readonly Uint8Array[]): BatchOperation {
  const only = updates.length === 1 ? updates[0] : undefined
  return only
    ? { type: 'put', key: encodeUpdateKey(doc, seq), value: only }
    : { type: 'put', key: encodePackKey(doc, seq), value: encodeUpdatePack(updates) }
}

function describeOpenError(error: unknown): string {
  const text = error instanceof Error ? `${error.message} ${String((error as { cause?: unknown }).cause ?? '')}` : String(error)
  if (/lock/i.test(text)) return 'it is locked by another process (is another quire server running on the same --data directory?)'
  return text
}
