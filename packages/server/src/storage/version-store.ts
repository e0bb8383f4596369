/**
 * A document's version history, kept in the same store as the document (a key range of
 * the LevelDB database, a table of the PostgreSQL schema, a map of the memory store) but
 * apart from its log: compaction (`Storage.replace`) never touches it, and deleting the
 * document (`Storage.delete`) deletes its versions in the same write.
 *
 * A version's content is stored as an update against another version (its `base`), or
 * whole (a checkpoint, `base` null): the document at a version is its checkpoint and the
 * updates of the versions between, applied in order (its chain). The store keeps what
 * it is given; the history (history/version-history.ts) decides what to store.
 */
export type VersionKind = 'auto' | 'named' | 'restore'

export interface VersionSummary {
  /** Characters of text inserted since the previous version (and still there). */
  readonly inserted: number
  /** Characters of text the previous version had that are deleted since. */
  readonly deleted: number
}

export interface VersionMeta {
  /** When the version was recorded, ms since the epoch. */
  readonly createdAt: number
  /** Null for an automatic version. */
  readonly name: string | null
  readonly kind: VersionKind
  /** For a restore: the version whose content it brought back. */
  readonly restoredFrom: number | null
  /** Who changed the document since the previous version (token subjects, display names, "api"). */
  readonly authors: readonly string[]
  readonly summary: VersionSummary
  /** The version `update` applies to; null: `update` is the whole document (a checkpoint). */
  readonly base: number | null
}

export interface NewVersion extends VersionMeta {
  readonly update: Uint8Array
}

export interface VersionInfo extends VersionMeta {
  /** Grows with every version of the document (unique within the store, at least per document). */
  readonly id: number
  /** Bytes of the stored update. */
  readonly bytes: number
}

/** A version whose base was thinned away: stored again against another base. */
export interface RebasedVersion {
  readonly id: number
  readonly base: number | null
  readonly update: Uint8Array
}

export interface VersionStore {
  /** Stores a version of `doc` (durably when it resolves) and returns it with its id. */
  add(doc: string, version: NewVersion): Promise<VersionInfo>
  /** Every version of `doc`, oldest first; none for an unknown or deleted document. */
  list(doc: string): Promise<VersionInfo[]>
  /** The stored updates of `ids`, in the order asked; null where a version is unknown. */
  read(doc: string, ids: readonly number[]): Promise<Array<Uint8Array | null>>
  /**
   * Retention: removes the versions `remove` and stores each of `rebase` (versions whose
   * base was removed) with its new base and update, in one atomic write, so that every
   * chain stays whole whatever happens.
   */
  thin(doc: string, remove: readonly number[], rebase: readonly RebasedVersion[]): Promise<void>
}
