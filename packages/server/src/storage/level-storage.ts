import { Level } from 'level'
import type { Log } from '../log.js'
import type { AppendEntry, DocumentInfo, DocumentPage, Storage, StoredLog } from './storage.js'
import { encodeCommitRecord, readCommitSpans, readUpdateList, type CommitEntry } from './commit-record.js'
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
  encodeTombstoneKey,
  encodeUpdateKey,
  updateKeyRange
} from './document-key.js'
import { decodeUpdatePack, encodeUpdatePack } from './update-pack.js'
import { changeMarkOperation, createLevelOutbox, readMarkCreated } from '../webhooks/level-outbox.js'
import { createLevelVersions, versionDeletes } from './level-versions.js'

export interface LevelStorageOptions {
  /**
   * fsync every batch (LevelDB `sync: true`). On by default: an acknowledged write must
   * survive a machine crash, not only a process crash. Group commit amortises the cost.
   */
  readonly fsync?: boolean
  /** Where a failed checkpoint is reported (it is retried; nothing is lost). */
  readonly log?: Log
  /** How long updates may wait in commit records for the checkpoint. Default 2000 ms. */
  readonly checkpointAgeMs?: number
  /** About how many bytes of updates one checkpoint step moves. Default 128 KiB. */
  readonly checkpointStepBytes?: number
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
/**
 * The checkpoint runs in small steps, every CHECKPOINT_TICK_MS while anything is pending:
 * each step moves the documents whose updates have waited CHECKPOINT_AGE_MS (all of them
 * once CHECKPOINT_BYTES are pending), at most about STEP_BYTES of updates. One step for
 * everything every two seconds held the event loop for tens of milliseconds with a
 * hundred busy documents, and every delivery in flight waited (p99 over 50 ms at 60% CPU).
 */
const CHECKPOINT_TICK_MS = 100
const CHECKPOINT_AGE_MS = 2000
const CHECKPOINT_BYTES = 1024 * 1024
const STEP_BYTES = 128 * 1024
const CHECKPOINT_RETRY_MS = 5000

type Db = Level<Uint8Array, Uint8Array>
type BatchOperation = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }

/** A commit record whose updates are not all in their documents' logs yet. */
interface PendingRecord {
  readonly record: Uint8Array
  /** When it was written (Date.now()), for the checkpoint's age bound. */
  readonly at: number
  /** Documents still waiting for some of its updates. */
  refs: number
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
 * without fsync, and deletes a commit record in the same batch as the last document
 * that needed it. Until then `load` adds a document's pending updates from memory: the
 * commit records' bytes and, per document, where in which records its updates lie. Not
 * the updates' own arrays: kept for seconds, thousands of small objects a second were
 * promoted to V8's old generation.
 *
 * On open, commit records a crash left behind are read back; an entry is pending only
 * if its sequence number is past the document's stored log (a checkpoint, a large direct
 * write or a compaction that covered it may have been written before the crash).
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
  const checkpointAgeMs = options.checkpointAgeMs ?? CHECKPOINT_AGE_MS
  const stepBytes = options.checkpointStepBytes ?? STEP_BYTES
  const storedSeq = await db.get(SEQUENCE_KEY)
  let lastSeq = storedSeq === undefined ? 0 : decodeSeq(storedSeq)
  // Documents whose doc key (for list()) is known to be written, so a commit does not
  // rewrite it every time.
  const listed = new Set<string>()
  // Commit records by sequence number, and per document where its pending updates lie:
  // flat triples of (sequence number, start, end) in order. A document's place in this
  // map is the order it began waiting in, oldest first.
  const records = new Map<number, PendingRecord>()
  const pending = new Map<string, number[]>()
  let pendingBytes = 0
  // Bumped whenever updates move between memory and the documents' logs, so that a load
  // that read both around such a move reads again.
  let epoch = 0
  let checkpointTimer: ReturnType<typeof setTimeout> | null = null
  // Writes run one at a time, so the pending maps always match what is on disk.
  let writes: Promise<unknown> = Promise.resolve()
  const serialized = <T>(write: () => Promise<T>): Promise<T> => {
    const result = writes.then(write)
    writes = result.catch(() => {})
    return result
  }

  const addPending = (doc: string, seq: number, start: number, end: number): void => {
    let spans = pending.get(doc)
    if (!spans) pending.set(doc, (spans = []))
    spans.push(seq, start, end)
  }

  /** When `doc`'s newest pending update was committed, or 0 when none is pending. */
  const pendingSince = (doc: string): number => {
    const spans = pending.get(doc)
    if (!spans || spans.length === 0) return 0
    return (records.get(spans[spans.length - 3] as number) as PendingRecord).at
  }

  /** `doc`'s pending updates after `afterSeq`, in order, as views into the commit records. */
  const pendingUpdates = (doc: string, afterSeq = 0): { updates: Uint8Array[]; lastSeq: number } => {
    const updates: Uint8Array[] = []
    let last = 0
    const spans = pending.get(doc) ?? []
    for (let i = 0; i < spans.length; i += 3) {
      const seq = spans[i] as number
      if (seq <= afterSeq) continue
      const { record } = records.get(seq) as PendingRecord
      updates.push(...readUpdateList(record, spans[i + 1] as number, spans[i + 2] as number))
      last = seq
    }
    return { updates, lastSeq: last }
  }

  /**
   * What taking `doc`'s spans up to `upToSeq` out of the pending maps involves: the commit
   * records no document needs afterwards, to delete in the same batch. `taken` counts the
   * references other plans for the same batch release. `release` applies the plan once
   * that batch is written (not before: a load meanwhile must still find the updates).
   */
  const planRelease = (
    doc: string,
    taken: Map<number, number>,
    upToSeq = Number.POSITIVE_INFINITY
  ): { deletes: BatchOperation[]; release: () => void } => {
    const spans = pending.get(doc) ?? []
    const released: number[] = []
    for (let i = 0; i < spans.length; i += 3) if ((spans[i] as number) <= upToSeq) released.push(spans[i] as number)
    const deletes: BatchOperation[] = []
    for (const seq of released) {
      const count = (taken.get(seq) ?? 0) + 1
      taken.set(seq, count)
      if ((records.get(seq) as PendingRecord).refs === count) deletes.push({ type: 'del', key: encodeCommitKey(seq) })
    }
    const release = (): void => {
      const kept: number[] = []
      for (let i = 0; i < spans.length; i += 3) if ((spans[i] as number) > upToSeq) kept.push(spans[i] as number, spans[i + 1] as number, spans[i + 2] as number)
      if (kept.length > 0) pending.set(doc, kept)
      else pending.delete(doc)
      for (const seq of released) {
        const entry = records.get(seq) as PendingRecord
        if (--entry.refs > 0) continue
        records.delete(seq)
        pendingBytes -= entry.record.byteLength
      }
    }
    return { deletes, release }
  }

  const lastStoredSeq = async (doc: string): Promise<number> => {
    for await (const key of db.keys({ ...updateKeyRange(doc), reverse: true, limit: 1 })) return decodeLogKey(doc, key).seq
    return 0
  }

  /**
   * One step of the checkpoint: moves the pending updates of the documents that waited
   * longest into their logs (all of them if `all`), about STEP_BYTES at most otherwise.
   * Call inside `serialized`.
   */
  const checkpointStep = async (all: boolean): Promise<void> => {
    const ops: BatchOperation[] = []
    const releases: Array<() => void> = []
    const taken = new Map<number, number>()
    const now = Date.now()
    let bytes = 0
    for (const [doc, spans] of pending) {
      if (!all) {
        const waitedSince = (records.get(spans[0] as number) as PendingRecord).at
        if (bytes >= stepBytes || (pendingBytes < CHECKPOINT_BYTES && now - waitedSince < checkpointAgeMs)) break
      }
      const { updates, lastSeq: seq } = pendingUpdates(doc)
      ops.push(logRecord(doc, seq, updates))
      // The document's last change time goes with it, here and not in the commit: the hot path stays one record.
      ops.push({ type: 'put', key: encodeDocKey(doc), value: encodeSeq(pendingSince(doc)) })
      for (const update of updates) bytes += update.byteLength
      const { deletes, release } = planRelease(doc, taken)
      ops.push(...deletes)
      releases.push(release)
    }
    if (ops.length === 0) return
    // No fsync: until this batch is on disk, the commit records still hold everything.
    await db.batch(ops, { sync: false })
    for (const release of releases) release()
    epoch++
  }

  const scheduleCheckpoint = (delay = CHECKPOINT_TICK_MS): void => {
    if (checkpointTimer !== null || pending.size === 0) return
    checkpointTimer = setTimeout(() => {
      checkpointTimer = null
      serialized(() => checkpointStep(false)).then(
        () => scheduleCheckpoint(),
        (error: unknown) => {
          options.log?.('error', `storage checkpoint failed, retrying in ${CHECKPOINT_RETRY_MS} ms (nothing is lost: the commit records stay): ${error instanceof Error ? error.message : String(error)}`)
          scheduleCheckpoint(CHECKPOINT_RETRY_MS)
        }
      )
    }, delay)
    checkpointTimer.unref()
  }

  /** Moves every pending update into its document's log. Call inside `serialized`. */
  const drain = async (): Promise<void> => {
    while (pending.size > 0) await checkpointStep(true)
  }

  /**
   * A snapshot up to `upToSeq` that must not be written: the log starts with a snapshot
   * at least as far already (a later compaction won the race), or the document was
   * deleted after the snapshot's log was read (it would bring deleted content back).
   */
  const isStaleSnapshot = async (doc: string, upToSeq: number): Promise<boolean> => {
    const tombstone = await db.get(encodeTombstoneKey(doc))
    if (tombstone !== undefined && upToSeq <= decodeTombstone(tombstone).seq) return true
    for await (const key of db.keys({ ...updateKeyRange(doc), limit: 1 })) {
      const first = decodeLogKey(doc, key)
      return first.kind === 'snapshot' && first.seq >= upToSeq
    }
    return false
  }

  /**
   * What the API shows of `doc`: read from its log as `load` reads it (the store keeps no
   * running byte count: that would be one more write per document in every commit).
   */
  const documentInfo = async (doc: string): Promise<DocumentInfo | null> => {
    const written = await db.get(encodeDocKey(doc))
    if (written === undefined) return null
    const log = await storage.load(doc)
    let bytes = 0
    for (const update of log.updates) bytes += update.byteLength
    const recorded = written.byteLength === 8 ? decodeSeq(written) : 0
    const updatedAt = Math.max(recorded, pendingSince(doc))
    return { name: doc, bytes, updatedAt: updatedAt === 0 ? null : updatedAt, lastSeq: log.lastSeq }
  }

  // Commit records a crash left behind: pending again, except what a document's log
  // already holds.
  const storedSeqs = new Map<string, number>()
  for await (const [key, value] of db.iterator(COMMIT_KEY_RANGE)) {
    const seq = decodeCommitKey(key)
    const record = new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    const entry: PendingRecord = { record, at: Date.now(), refs: 0 }
    lastSeq = Math.max(lastSeq, seq)
    for (const span of readCommitSpans(record)) {
      let stored = storedSeqs.get(span.doc)
      if (stored === undefined) storedSeqs.set(span.doc, (stored = await lastStoredSeq(span.doc)))
      if (seq <= stored) continue
      addPending(span.doc, seq, span.start, span.end)
      entry.refs++
    }
    if (entry.refs > 0) {
      records.set(seq, entry)
      pendingBytes += record.byteLength
    } else {
      // Everything in it is in the documents' logs already.
      await db.del(key)
    }
  }
  await serialized(drain)

  const storage: Storage = {
    webhookOutbox: createLevelOutbox({ db, serialized, sync: writeOptions.sync }),
    versions: createLevelVersions({ db, serialized, sync: writeOptions.sync }),

    async load(doc: string): Promise<StoredLog> {
      for (;;) {
        const startEpoch = epoch
        const updates: Uint8Array[] = []
        let docLastSeq = 0
        let startsWithSnapshot = false
        // All entries in one read: iterated one by one, classic-level fetches the first
        // entry alone, then the rest, with a promise per step. all() took 25-30 µs (about a
        // quarter) less CPU per load of a one-entry log, in four alternating rounds of 2,000
        // loads (AMD EPYC VM, 2026-12-02), which every room opened in a storm pays.
        for (const [key, value] of await db.iterator(updateKeyRange(doc)).all()) {
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
        const later = pendingUpdates(doc, docLastSeq)
        if (later.updates.length > 0) {
          updates.push(...later.updates)
          docLastSeq = later.lastSeq
        }
        if (updates.length > 0) listed.add(doc)
        return { updates, lastSeq: docLastSeq, startsWithSnapshot }
      }
    },

    append(batch: readonly AppendEntry[]): Promise<void> {
      return serialized(async () => {
        // A change mark replacing one that says "created" keeps saying it.
        const markedCreated = new Set<string>()
        for (const { doc, changeMark } of batch) if (changeMark && (await readMarkCreated(db, doc))) markedCreated.add(doc)
        const ops: BatchOperation[] = []
        const seq = lastSeq + 1
        const committed: CommitEntry[] = []
        const releases: Array<() => void> = []
        const taken = new Map<number, number>()
        const newlyListed: string[] = []
        const now = encodeSeq(Date.now())
        for (const { doc, updates, changeMark } of batch) {
          if (updates.length === 0) continue
          // Webhooks: at most once per document per coalescing window, in this same batch.
          if (changeMark) ops.push(changeMarkOperation(doc, changeMark, markedCreated.has(doc)))
          let bytes = 0
          for (const update of updates) bytes += update.byteLength
          const direct = bytes >= DIRECT_WRITE_BYTES
          // The doc key holds the last change time: written with a direct write, and by
          // the checkpoint for updates in commit records (see checkpointStep).
          if (!listed.has(doc) || direct) ops.push({ type: 'put', key: encodeDocKey(doc), value: now })
          if (!listed.has(doc)) newlyListed.push(doc)
          if (!direct) {
            committed.push({ doc, updates })
            continue
          }
          // Straight to the document's log, with what of it was pending, so that its
          // pending updates always come after its log.
          const earlier = pendingUpdates(doc).updates
          ops.push(logRecord(doc, seq, earlier.length > 0 ? [...earlier, ...updates] : updates))
          const { deletes, release } = planRelease(doc, taken)
          ops.push(...deletes)
          releases.push(release)
        }
        if (ops.length === 0 && committed.length === 0) return
        const encoded = committed.length > 0 ? encodeCommitRecord(committed) : null
        if (encoded) ops.push({ type: 'put', key: encodeCommitKey(seq), value: encoded.record })
        ops.push({ type: 'put', key: SEQUENCE_KEY, value: encodeSeq(seq) })
        // Claim the number before awaiting, as a concurrent compaction reads it.
        lastSeq = seq
        await db.batch(ops, writeOptions)
        for (const doc of newlyListed) listed.add(doc)
        if (releases.length > 0) {
          for (const release of releases) release()
          epoch++
        }
        if (encoded) {
          records.set(seq, { record: encoded.record, at: Date.now(), refs: encoded.spans.length })
          pendingBytes += encoded.record.byteLength
          for (const { doc, start, end } of encoded.spans) addPending(doc, seq, start, end)
          scheduleCheckpoint(pendingBytes >= CHECKPOINT_BYTES ? 0 : CHECKPOINT_TICK_MS)
        }
      })
    },

    replace(doc: string, snapshot: Uint8Array, upToSeq: number): Promise<void> {
      return serialized(async () => {
        if (await isStaleSnapshot(doc, upToSeq)) return
        const ops: BatchOperation[] = []
        for await (const key of db.keys(updateKeyRange(doc, upToSeq))) ops.push({ type: 'del', key })
        // The snapshot takes the place of the last update it covers, so order is kept;
        // commit-record entries up to it are covered, and skipped after a crash.
        ops.push({ type: 'put', key: encodeSnapshotKey(doc, upToSeq), value: snapshot })
        const { deletes, release } = planRelease(doc, new Map(), upToSeq)
        ops.push(...deletes)
        await db.batch(ops, writeOptions)
        release()
        epoch++
      })
    },

    async list(): Promise<string[]> {
      const names: string[] = []
      for await (const key of db.keys(DOC_KEY_RANGE)) names.push(decodeDocKey(key))
      return names
    },

    delete(doc: string, deletion = {}): Promise<void> {
      return serialized(async () => {
        // No commit record may still name the document once its log is gone.
        await drain()
        listed.delete(doc)
        const ops: BatchOperation[] = [
          { type: 'del', key: encodeDocKey(doc) },
          // Every number of the deleted log is at most lastSeq (see isStaleSnapshot).
          { type: 'put', key: encodeTombstoneKey(doc), value: encodeTombstone(lastSeq, deletion.refuseUntil) }
        ]
        for await (const key of db.keys(updateKeyRange(doc))) ops.push({ type: 'del', key })
        ops.push(...(await versionDeletes(db, doc)))
        await db.batch(ops, writeOptions)
        epoch++
      })
    },

    async tombstone(doc: string): Promise<number | null> {
      const value = await db.get(encodeTombstoneKey(doc))
      const until = value === undefined ? null : decodeTombstone(value).refuseUntil
      if (until === null || until > Date.now()) return until
      // Expired: the refusal goes, the sequence number a stale compaction is checked against stays.
      await serialized(async () => {
        const current = await db.get(encodeTombstoneKey(doc))
        if (current === undefined) return
        const tombstone = decodeTombstone(current)
        if (tombstone.refuseUntil !== null && tombstone.refuseUntil <= Date.now()) {
          await db.put(encodeTombstoneKey(doc), encodeTombstone(tombstone.seq), writeOptions)
        }
      })
      return null
    },

    create(doc: string): Promise<boolean> {
      return serialized(async () => {
        const ops: BatchOperation[] = []
        const existed = (await db.get(encodeDocKey(doc))) !== undefined
        if (!existed) ops.push({ type: 'put', key: encodeDocKey(doc), value: encodeSeq(Date.now()) })
        const tombstone = await db.get(encodeTombstoneKey(doc))
        if (tombstone !== undefined) ops.push({ type: 'put', key: encodeTombstoneKey(doc), value: encodeTombstone(decodeTombstone(tombstone).seq) })
        if (ops.length > 0) await db.batch(ops, writeOptions)
        listed.add(doc)
        return !existed
      })
    },

    info(doc: string): Promise<DocumentInfo | null> {
      return documentInfo(doc)
    },

    async listDocuments({ prefix = '', after, limit }): Promise<DocumentPage> {
      const prefixKey = encodeDocKey(prefix)
      // Keys sort as the names' UTF-16 code units, as JS compares strings.
      const range = after !== undefined && after >= prefix ? { gt: encodeDocKey(after), lt: DOC_KEY_RANGE.lt } : { gte: prefixKey, lt: DOC_KEY_RANGE.lt }
      const names: string[] = []
      for await (const key of db.keys(range)) {
        if (!startsWith(key, prefixKey) || names.length > limit) break
        names.push(decodeDocKey(key))
      }
      const documents: DocumentInfo[] = []
      for (const name of names.slice(0, limit)) {
        const info = await documentInfo(name)
        if (info) documents.push(info)
      }
      return { documents, more: names.length > limit }
    },

    async close(): Promise<void> {
      if (checkpointTimer !== null) clearTimeout(checkpointTimer)
      checkpointTimer = null
      await serialized(drain)
      await db.close()
    }
  }
  return storage
}

/** A tombstone's value: the last sequence number at the delete, then (if refused) until when, 8 bytes each. */
function encodeTombstone(seq: number, refuseUntil?: number): Uint8Array {
  if (refuseUntil === undefined) return encodeSeq(seq)
  const bytes = new Uint8Array(16)
  bytes.set(encodeSeq(seq), 0)
  bytes.set(encodeSeq(refuseUntil), 8)
  return bytes
}

function decodeTombstone(value: Uint8Array): { seq: number; refuseUntil: number | null } {
  return { seq: decodeSeq(value.subarray(0, 8)), refuseUntil: value.byteLength >= 16 ? decodeSeq(value.subarray(8, 16)) : null }
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.byteLength < prefix.byteLength) return false
  for (let i = 0; i < prefix.byteLength; i++) if (bytes[i] !== prefix[i]) return false
  return true
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
