import type { ChangeMark, WebhookOutbox } from '../webhooks/webhook-outbox.js'
import type { VersionStore } from './version-store.js'

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

/** What the document API shows of a stored document. */
export interface DocumentInfo {
  readonly name: string
  /** Bytes of the stored log: its updates and snapshot as stored, without the store's own overhead. */
  readonly bytes: number
  /**
   * When the document was last written (ms since the epoch), or null when the store does
   * not know (a LevelDB document last written before Quire recorded it).
   */
  readonly updatedAt: number | null
  /** `StoredLog.lastSeq` of the document: it grows with every append. */
  readonly lastSeq: number
}

export interface DocumentListing {
  /** Only names starting with this. Default: every name. */
  readonly prefix?: string
  /** Only names after this one in the store's order (the last name of the previous page). */
  readonly after?: string
  /** At most this many documents. */
  readonly limit: number
}

export interface DocumentPage {
  /** In the store's order of names (the same on every page). */
  readonly documents: DocumentInfo[]
  /** Whether names past the last of this page match too. */
  readonly more: boolean
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
  /**
   * Deletes `doc`'s log (and its versions). With `refuseUntil` (ms since the epoch) the store keeps a
   * tombstone until then: `tombstone(doc)` reports it and the server refuses the room, so
   * a stale offline copy cannot bring the document back. An expired tombstone counts as
   * none (and is cleaned up when next asked about).
   */
  delete(doc: string, options?: { readonly refuseUntil?: number }): Promise<void>
  /** Until when `doc` is refused (ms since the epoch), or null when it has no live tombstone. */
  tombstone(doc: string): Promise<number | null>
  /**
   * Makes `doc` exist (listed, with an empty log if it had none) and removes its
   * tombstone: an explicit create. Resolves true when it did not exist before.
   */
  create(doc: string): Promise<boolean>
  /** Null for a document that is not stored (never written, or deleted). */
  info(doc: string): Promise<DocumentInfo | null>
  /** Stored documents by name, one page at a time. */
  listDocuments(listing: DocumentListing): Promise<DocumentPage>
  close(): Promise<void>
  /**
   * Rejects when the store cannot be reached now: asked by the readiness check. A store
   * inside the process (LevelDB, memory) has none.
   */
  ping?(): Promise<void>
  /** The webhook outbox kept in the same store (LevelDB, PostgreSQL and memory have one). */
  readonly webhookOutbox?: WebhookOutbox
  /**
   * The documents' version histories, kept in the same store (LevelDB, PostgreSQL and
   * memory have them): `delete` deletes a document's versions with it, `replace` leaves
   * them alone. Without it the server records no versions.
   */
  readonly versions?: VersionStore
}
