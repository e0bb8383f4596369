/**
 * The traffic between server clones that share one storage (scale-out). Absent in a
 * single process. A clone publishes, per room, the protocol frames other clones need, as
 * entries (see `CloneEntry`): the sync-update frames of the updates its peers sent, as
 * soon as it accepts them, under a tag; later, once they are durable in storage, that
 * tag in a `durable` list; and presence (awareness) frames at once. Every other clone
 * with the room open relays the frames to its own peers at once, but takes an update
 * into the room's state only once it is durable: a clone that holds an update never
 * stores it again and acknowledges a resend of it, so what it holds must be in storage.
 * A clone never receives its own entries.
 *
 * Opening a room without a gap: take the room's `position` first, then load the room
 * from storage, then `subscribe` from that position. An update durable before the
 * position was taken is in the load; one published after it is delivered. An update
 * published before the position but durable only after the load arrives as a tag in a
 * `durable` list that the opening clone never saw: it then reads the room from storage
 * again. Overlap is harmless (Yjs updates are idempotent); a gap would be a lost update
 * for this clone's peers.
 */
export interface Fanout {
  /** This clone's name among the clones (what other clones see as `clone`). */
  readonly cloneId: string
  /** Where `doc`'s traffic stands now: pass it to `subscribe` after loading the room. */
  position(doc: string): Promise<FanoutPosition>
  /** Delivers what other clones publish for `doc` after `from`, until `unsubscribe`. */
  subscribe(doc: string, from: FanoutPosition, receive: FanoutReceive): void
  unsubscribe(doc: string): void
  /** An entry for the other clones with `doc` open, in order after this clone's earlier ones. */
  publish(doc: string, entry: CloneEntry): void
  /** Starts the traffic; `events` hears what the server must act on. */
  start(events: FanoutEvents): void
  /** Whether the clone can reach the others now (for readiness). */
  readonly connected: boolean
  close(): Promise<void>
}

/** An opaque mark in a room's traffic. */
export type FanoutPosition = string

/**
 * What one clone tells the others about one room at a time. Presence and deletions are
 * frames without a tag. Updates are sync-update frames with a `tag`, published before
 * they are durable; a tag in a later (or the same) entry's `durable` list says that the
 * updates published under it are now in storage. Tags are the publishing process's own
 * (unique and increasing in it); a clone id names one process.
 */
export interface CloneEntry {
  readonly frames: readonly Uint8Array[]
  /** Present when `frames` are updates not yet known to be durable. */
  readonly tag?: number
  /** Tags of this clone's earlier (or this) entries for the room whose updates are durable now. */
  readonly durable?: readonly number[]
}

export type FanoutReceive = (entry: CloneEntry, clone: string) => void

export interface FanoutEvents {
  /**
   * Traffic was interrupted (the bus went away and came back): what other clones
   * published meanwhile is lost, so every open room must catch up from storage.
   */
  resync(): void
  /**
   * A clone stopped (its heartbeat expired): its peers' presence must go, and every open
   * room must catch up from storage, because it may have died between committing an
   * update and publishing it.
   */
  cloneGone(clone: string): void
}
