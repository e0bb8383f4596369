/**
 * The traffic between server clones that share one storage (scale-out). Absent in a
 * single process. A clone publishes, per room, the protocol frames other clones need:
 * the sync-update frames of updates once they are durable in storage (so a clone that
 * receives one never stores it again, and may acknowledge a resend of it truthfully),
 * and presence (awareness) frames at once. Every other clone with the room open
 * receives them and relays them to its own peers; a clone never receives its own.
 *
 * Opening a room without a gap: take the room's `position` first, then load the room
 * from storage, then `subscribe` from that position. An update durable before the
 * position was taken is in the load; one published after it is delivered. A fan-out
 * that publishes only for rooms another clone is known to have open (the Redis one)
 * tells the server when another clone starts publishing a room here (`catchUp`): what
 * that clone committed before is durable, and the room takes it from storage. Overlap is
 * harmless (Yjs updates are idempotent); a gap would be a lost update for this clone's
 * peers.
 */
export interface Fanout {
  /** This clone's name among the clones (what other clones see as `clone`). */
  readonly cloneId: string
  /** Where `doc`'s traffic stands now: pass it to `subscribe` after loading the room. */
  position(doc: string): Promise<FanoutPosition>
  /** Delivers what other clones publish for `doc` after `from`, until `unsubscribe`. */
  subscribe(doc: string, from: FanoutPosition, receive: FanoutReceive): void
  unsubscribe(doc: string): void
  /**
   * Frames for the other clones with `doc` open (sync-update frames only of durable
   * updates). A fan-out may drop them while no other clone follows a room open here
   * (see `FanoutEvents.followed`); `toEveryClone` publishes even then (a deletion, which
   * a clone that opened the room a moment ago must hear of).
   */
  publish(doc: string, frames: readonly Uint8Array[], options?: { readonly toEveryClone?: boolean }): void
  /** Starts the traffic; `events` hears what the server must act on. */
  start(events: FanoutEvents): void
  /** Whether the clone can reach the others now (for readiness). */
  readonly connected: boolean
  close(): Promise<void>
}

/** An opaque mark in a room's traffic. */
export type FanoutPosition = string

export type FanoutReceive = (frames: readonly Uint8Array[], clone: string) => void

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
  /**
   * Another clone now has `doc` open and receives what this one publishes for it: the
   * presence of this clone's peers in the room, not published while nobody followed,
   * must be published now.
   */
  followed(doc: string): void
  /**
   * Another clone publishes `doc`'s updates to this one from now on; what it committed
   * before is durable but was never published here, so the room must catch up from storage.
   */
  catchUp(doc: string): void
}
