import type { ChangeMark, WebhookOutbox } from '../webhooks/webhook-outbox.js'

/**
 * Where documents live between process lifetimes. A document is an append-only log of
 * Yjs updates; compaction swaps a prefix of the log for one snapshot. Implementations
 * must make `append` atomic across every document in the batch and durable when its
 * promise resolves: the server acknowledges writes to clients on that promise.
 */
export interface StoredLog {
  /** Updates in the order they were appended (a compaction snapshot first, if any). */
  readonly updates: Uint8Array[]
  /** Position of the last update, to hand back to `replace`; 0 for an empty document. */
  readonly lastSeq: number
  /**
   * `updates[0]` is a snapshot that `replace` wrote (a compaction), not an update as it
   * arrived. The server compares what was appended since with the snapshot's size to
   * decide when to compact again, and compacts a log that has none once it is large.
   */
  readonly startsWithSnapshot: boolean
}

export interface AppendEntry {
  readonly doc: string
  readonly updates: readonly Uint8Array[]
  /**
   * Also write this change mark for `doc`, in the same atomic write as its updates: the
   * webhooks' promise that these changes will be announced, whatever happens after the
   * commit (see webhooks/webhook-outbox.ts). It replaces the document's mark, if any,
   * keeping `created` if either says so. Only a storage with a `webhookOutbox` is given one.
   */
  readonly changeMark?: ChangeMark
}

export interface Storage {
  load(doc: string): Promise<StoredLog>
  /** Appends every entry in one atomic, durable write. */
  append(batch: readonly AppendEntry[]): Promise<void>
  /**
   * Replaces the log up to and including `upToSeq` by `snapshot`; later updates stay.
   * Does nothing when the snapshot is stale: the log already starts with a snapshot at
   * or past `upToSeq` (another compaction got further first), or the document was
   * deleted after `upToSeq` (the snapshot would bring deleted content back). With
   * several writers (server clones on one database) an update appended meanwhile is
   * never dropped: its number is past `upToSeq`.
   */
  replace(doc: string, snapshot: Uint8Array, upToSeq: number): Promise<void>
  list(): Promise<string[]>
  delete(doc: string): Promise<void>
  close(): Promise<void>
  /**
   * Rejects when the store cannot be reached now: asked by the readiness check. A store
   * inside the process (LevelDB, memory) has none.
   */
  ping?(): Promise<void>
  /** The webhook outbox kept in the same store (LevelDB, PostgreSQL and memory have one). */
  readonly webhookOutbox?: WebhookOutbox
}
