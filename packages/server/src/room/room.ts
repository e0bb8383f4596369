import { encodeAwarenessUpdate, encodeMessage, isEmptyUpdate, updateMetaOf, type AwarenessEntry, type UpdateMeta } from '@quire/protocol'
import type { RoomCommits } from '../commit/commit-queue.js'
import { createUpdateGuard, type UpdateGuard } from '../limits/update-guard.js'
import { createAwarenessRegistry, type AwarenessRegistry } from './awareness-registry.js'
import { createEncodedState, type EncodedState } from './encoded-state.js'
import { mergeUpdates } from './merge-updates.js'
import type { TrafficCounters } from '../metrics/traffic-counters.js'
import type { Peer } from './peer.js'
import type { RelayScheduler } from './relay-scheduler.js'
import { retainable } from './retainable.js'
import { RoomAuthors } from './room-authors.js'

/**
 * One open document: its encoded state, its presence and the peers connected to it. The
 * state stays inside: callers ask for a sync reply or the presence, and a compaction
 * asks the room to swap in its snapshot.
 *
 * `accept` is the only way an update enters a room, whatever its source: it drops an
 * empty update, lets only what the room lacks past the update guard, keeps the bytes
 * (a copy when they are a small view of a socket read), appends them to the state,
 * hands them to the commit queue (storage), and queues them for relay. Relays are
 * batched by the process's relay scheduler (per event-loop turn, or per few
 * milliseconds while the process is busy): a receiver gets the batch's updates in one
 * socket write (one merged frame when there are many), and never its own updates back.
 */
export interface Room {
  readonly name: string
  /** Peers connected now (a room without any may be evicted). */
  readonly peerCount: number
  /** Storage has been failing long enough that writers must wait (see `RoomCommits.full`). */
  readonly savingStalled: boolean
  /** The state vector of everything the room holds: the sync step 1 a joining peer gets. */
  stateVector(): Uint8Array
  /** What a peer whose state vector is `stateVector` lacks: the sync step 2 it gets. */
  syncReply(stateVector: Uint8Array): Uint8Array
  /** The whole document as one update (what the document API serves). */
  snapshot(): Uint8Array
  /** The document as the updates the room holds it in, unmerged (see `EncodedState.parts`). */
  parts(): Uint8Array[]
  /** Every known presence state, for a newcomer or a query. */
  presence(): AwarenessEntry[]
  /**
   * Who wrote to the room since the last call (see room-authors.ts), sorted; the list
   * starts again. For the version history.
   */
  takeAuthors(): string[]
  /**
   * `update`, sent by `writer` and validated (`meta`), enters the room: what of it the
   * room lacks is kept, stored and relayed, and `writer` is acknowledged for all of it
   * once durable. `frame` is the sync-update frame it came in, relayed as it is when the
   * whole update is new. Only what the room keeps is copied out of the read buffer.
   *
   * A null `writer` means the update is durable already (another clone committed it, or
   * it was read back from storage): what the room lacks is kept and relayed to every
   * peer here, and neither stored nor published again.
   */
  accept(update: Uint8Array, meta: UpdateMeta, writer: Peer | null, frame?: Uint8Array): void
  /** Presence sent by a peer here: kept, relayed to the other peers, and published to other clones. */
  applyAwareness(entries: readonly AwarenessEntry[], frame: Uint8Array, from: Peer): void
  /** Presence another clone published: kept as that clone's, relayed to every peer here. */
  applyClonePresence(entries: readonly AwarenessEntry[], frame: Uint8Array, clone: RemoteClone): void
  /**
   * Another clone started following the room: the presence of the peers here goes to it
   * (it was not published while no other clone had the room open).
   */
  publishLocalPresence(): void
  /** `clone` stopped: the presence it brought goes, and the peers here are told. */
  removeClonePresence(clone: RemoteClone): void
  join(peer: Peer): void
  /** Every peer is disconnected with `code` and `reason` (the document was deleted). */
  disconnectAll(code: number, reason: string): void
  /** Removes `peer` and tells the others its presence is gone. */
  leave(peer: Peer): void
  /**
   * A compaction starts: from now on the room keeps what it accepts beside its state,
   * for `swapInSnapshot`, while the snapshot is built from storage off the event loop.
   */
  prepareSnapshotSwap(): void
  /**
   * The room's state becomes `snapshot` (which holds at least everything the room held
   * at `prepareSnapshotSwap`) plus what it accepted since.
   */
  swapInSnapshot(snapshot: Uint8Array): void
  /** The compaction failed: stop keeping updates for a swap that will not happen. */
  cancelSnapshotSwap(): void
  /**
   * The room left memory (evicted, or its document deleted): its fold timer stops. A
   * room opened for one API write is evicted as soon as the write is durable; its fold,
   * a second later, would merge the whole document on the event loop for nobody.
   */
  close(): void
}

export interface RoomOptions {
  readonly name: string
  readonly storedUpdates: readonly Uint8Array[]
  /** The storage side of the data path (the commit queue). */
  readonly commits: RoomCommits
  /**
   * Called when the room has gone quiet after accepting updates. True means a compaction
   * will replace the state, so the room does not fold it itself.
   */
  readonly onQuiet?: (room: Room) => boolean
  /** When the room relays what it accepted (shared by the rooms of a process). */
  readonly relays: RelayScheduler
  /** Where presence from this clone's peers goes for the other clones (absent in a single process). */
  readonly publishPresence?: (doc: string, frame: Uint8Array) => void
  /** Where the room counts the updates it relays (once per relayed batch); null or absent without metrics. */
  readonly counters?: TrafficCounters | null
}

/** Another server clone, as the owner of the presence it relayed (one object per clone). */
export interface RemoteClone {
  readonly clone: string
}

const FOLD_DELAY_MS = 1000
/**
 * Up to this many updates from one turn reach a receiver as separate frames, written to
 * its socket in one go; more than that (a reconnecting client's backlog, a paste) are
 * merged into one frame. Merging costs far more CPU than a frame, but thousands of
 * frames cost more than one merge.
 */
const MAX_SEPARATE_FRAMES = 16

interface PendingRelay {
  readonly update: Uint8Array
  /** Null for an update that came from another clone or from storage: every peer gets it. */
  readonly from: Peer | null
  frame: Uint8Array | undefined
}

export function createRoom(options: RoomOptions): Room {
  return new OpenRoom(options)
}

const frameOf = (relay: PendingRelay): Uint8Array => (relay.frame ??= encodeMessage({ type: 'sync-update', update: relay.update }))

function wroteIn(batch: readonly PendingRelay[], peer: Peer): boolean {
  for (const relay of batch) if (relay.from === peer) return true
  return false
}

function framesNotFrom(batch: readonly PendingRelay[], peer: Peer): Uint8Array[] {
  const frames: Uint8Array[] = []
  for (const relay of batch) if (relay.from !== peer) frames.push(frameOf(relay))
  return frames
}

// Timer callbacks take the room as an argument, so no room carries closures of its own.
const foldWhenQuiet = (room: OpenRoom): void => room.foldWhenQuiet()

/** A class, not closures: one per open document, and prototype methods cost nothing per room. */
class OpenRoom implements Room {
  readonly name: string
  private readonly state: EncodedState
  private readonly awareness: AwarenessRegistry<Peer | RemoteClone> = createAwarenessRegistry<Peer | RemoteClone>()
  private readonly peers = new Set<Peer>()
  // Made with the first update (a room that is only read never needs one).
  private guard: UpdateGuard | null = null
  private authors: RoomAuthors | null = null
  private pending: PendingRelay[] = []
  private relayScheduled = false
  private foldTimer: ReturnType<typeof setTimeout> | null = null
  private lastAcceptedAt = 0
  // Only what is needed later is kept, not the options: they hold the stored updates
  // the state was built from, which the first fold replaces.
  private readonly commits: RoomCommits
  private readonly onQuiet: RoomOptions['onQuiet']
  private readonly relays: RelayScheduler
  private readonly publishPresence: RoomOptions['publishPresence']
  private readonly counters: TrafficCounters | null

  constructor(options: RoomOptions) {
    this.name = options.name
    this.state = createEncodedState(options.storedUpdates)
    this.commits = options.commits
    this.onQuiet = options.onQuiet
    this.relays = options.relays
    this.publishPresence = options.publishPresence
    this.counters = options.counters ?? null
  }

  get peerCount(): number {
    return this.peers.size
  }

  get savingStalled(): boolean {
    return this.commits.full
  }

  stateVector(): Uint8Array {
    return this.state.stateVector()
  }

  syncReply(stateVector: Uint8Array): Uint8Array {
    return this.state.diff(stateVector)
  }

  snapshot(): Uint8Array {
    return this.state.snapshot()
  }

  parts(): Uint8Array[] {
    return this.state.parts()
  }

  presence(): AwarenessEntry[] {
    return this.awareness.entries()
  }

  takeAuthors(): string[] {
    return this.authors?.take() ?? []
  }

  accept(update: Uint8Array, meta: UpdateMeta, writer: Peer | null, frame?: Uint8Array): void {
    if (isEmptyUpdate(update)) return
    if (writer !== null) (this.authors ??= new RoomAuthors((peer) => this.awareness.statesOf(peer))).noteWriter(writer)
    // Only what the room lacks goes in: known clocks re-sent with other content break clients.
    const fresh = (this.guard ??= createUpdateGuard(this.state)).admit(update, meta)
    if (fresh === update) {
      const kept = retainable(update)
      this.append(kept, writer, frame)
      if (writer !== null) this.commits.store(this.name, kept, meta, writer)
      return
    }
    if (fresh !== null) {
      // A diff: walked again here, as resends are rare.
      this.append(fresh, writer, undefined)
      if (writer !== null) this.commits.store(this.name, fresh, updateMetaOf(fresh), null)
    }
    // The writer still learns that everything it sent is safe (a resend after a lost ack).
    if (writer?.acknowledging === true) this.commits.acknowledgeAfterEarlier(this.name, retainable(update), meta, writer)
  }

  prepareSnapshotSwap(): void {
    this.state.mark()
  }

  swapInSnapshot(snapshot: Uint8Array): void {
    this.state.replaceUpToMark(snapshot)
  }

  cancelSnapshotSwap(): void {
    this.state.unmark()
  }

  private append(update: Uint8Array, from: Peer | null, frame: Uint8Array | undefined): void {
    this.state.append(update)
    this.pending.push({ update, from, frame })
    this.lastAcceptedAt = Date.now()
    if (this.foldTimer === null) this.scheduleFold(FOLD_DELAY_MS)
    if (!this.relayScheduled) {
      this.relayScheduled = true
      this.relays.schedule(this)
    }
  }

  applyAwareness(entries: readonly AwarenessEntry[], frame: Uint8Array, from: Peer): void {
    this.awareness.apply(entries, from)
    this.authors?.notePresence(from)
    for (const peer of this.peers) if (peer !== from) peer.send(frame)
    this.publishPresence?.(this.name, frame)
  }

  applyClonePresence(entries: readonly AwarenessEntry[], frame: Uint8Array, clone: RemoteClone): void {
    this.awareness.apply(entries, clone)
    for (const peer of this.peers) peer.send(frame)
  }

  publishLocalPresence(): void {
    if (this.publishPresence === undefined) return
    const local = this.awareness.entries((owner) => this.peers.has(owner as Peer))
    if (local.length === 0) return
    this.publishPresence(this.name, encodeMessage({ type: 'awareness', update: encodeAwarenessUpdate(local) }))
  }

  removeClonePresence(clone: RemoteClone): void {
    const removed = this.awareness.removeOwner(clone)
    if (removed.length === 0 || this.peers.size === 0) return
    const frame = encodeMessage({ type: 'awareness', update: encodeAwarenessUpdate(removed) })
    for (const peer of this.peers) peer.send(frame)
  }

  join(peer: Peer): void {
    this.peers.add(peer)
  }

  disconnectAll(code: number, reason: string): void {
    // A copy: a peer that disconnects leaves the set.
    for (const peer of [...this.peers]) peer.disconnect(code, reason)
  }

  leave(peer: Peer): void {
    if (!this.peers.delete(peer)) return
    const removed = this.awareness.removeOwner(peer)
    if (removed.length === 0) return
    // Other clones' peers see this one go too, even when nobody is left here.
    if (this.peers.size === 0 && this.publishPresence === undefined) return
    const frame = encodeMessage({ type: 'awareness', update: encodeAwarenessUpdate(removed) })
    for (const other of this.peers) other.send(frame)
    this.publishPresence?.(this.name, frame)
  }

  /**
   * Each recent update is its own small allocation; an idle room should cost about its
   * encoded size. Fold them into one once the room has been quiet for FOLD_DELAY_MS:
   * re-merging a busy room's whole state every second costs more than the tail it saves
   * (the encoded state merges a long tail by itself). Unless a compaction is coming,
   * whose snapshot replaces the state anyway.
   */
  foldWhenQuiet(): void {
    const quietFor = Date.now() - this.lastAcceptedAt
    if (quietFor < FOLD_DELAY_MS) {
      this.scheduleFold(FOLD_DELAY_MS - quietFor)
      return
    }
    this.foldTimer = null
    if (this.onQuiet?.(this) === true) return
    this.state.fold()
  }

  relay(): void {
    this.relayScheduled = false
    const batch = this.pending
    this.pending = []
    const { peers } = this
    if (peers.size === 0 || batch.length === 0) return
    if (this.counters !== null) this.counters.updatesRelayed += batch.length
    if (batch.length <= MAX_SEPARATE_FRAMES) {
      // Every update keeps its own frame (usually the very frame its writer sent), so
      // nothing is merged or re-encoded; a receiver gets this turn's frames in one write.
      // Plain loops, not closures per peer: this runs for every relayed update.
      const frames = batch.map(frameOf)
      for (const peer of peers) {
        if (!wroteIn(batch, peer)) peer.sendAll(frames)
        else if (batch.length > 1) {
          const others = framesNotFrom(batch, peer)
          if (others.length > 0) peer.sendAll(others)
        }
      }
      return
    }
    const sources = new Set<Peer | null>(batch.map((r) => r.from))
    let mergedFrame: Uint8Array | undefined
    for (const peer of peers) {
      if (!sources.has(peer)) {
        mergedFrame ??= encodeMessage({ type: 'sync-update', update: mergeUpdates(batch.map((r) => r.update)) })
        peer.send(mergedFrame)
        continue
      }
      // A writer gets everything from this turn except its own updates.
      const others = batch.filter((r) => r.from !== peer).map((r) => r.update)
      if (others.length === 0) continue
      peer.send(encodeMessage({ type: 'sync-update', update: mergeUpdates(others) }))
    }
  }

  close(): void {
    if (this.foldTimer !== null) clearTimeout(this.foldTimer)
    this.foldTimer = null
  }

  private scheduleFold(delay: number): void {
    this.foldTimer = setTimeout(foldWhenQuiet, delay, this)
    this.foldTimer.unref()
  }
}
