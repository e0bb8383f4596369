import { encodeAwarenessUpdate, encodeMessage, type AwarenessEntry } from '@quire/protocol'
import { createAwarenessRegistry, type AwarenessRegistry } from './awareness-registry.js'
import { createEncodedState, type EncodedState } from './encoded-state.js'
import { mergeUpdates } from './merge-updates.js'
import type { Peer, UpdateSource } from './peer.js'
import type { RelayScheduler } from './relay-scheduler.js'

/**
 * One open document: its encoded state, its presence and the peers connected to it.
 *
 * `acceptUpdate` is the only way an update enters a room. It appends to the encoded
 * state, hands the update to `commit` (storage) when it came from a peer, and queues it
 * for relay. Relays are batched by the process's relay scheduler (per event-loop turn,
 * or per few milliseconds while the process is busy): a receiver gets the batch's
 * updates in one socket write (one merged frame when there are many), and never its own
 * updates back.
 */
export interface Room {
  readonly name: string
  readonly state: EncodedState
  readonly awareness: AwarenessRegistry<Peer>
  readonly peers: ReadonlySet<Peer>
  /** Number of updates accepted so far; the update guard uses it to see whether the room moved. */
  readonly version: number
  /** The room keeps `update` itself (no copy): pass a buffer of its own, not a view of a read buffer. */
  acceptUpdate(update: Uint8Array, source: UpdateSource, frame?: Uint8Array): void
  /**
   * `sent` (from `writer`) added nothing new to the room, or only part of it was
   * accepted: acknowledge all of it once everything before it is durable.
   */
  acknowledgeWhenDurable(sent: Uint8Array, writer: Peer): void
  applyAwareness(entries: readonly AwarenessEntry[], frame: Uint8Array, from: Peer): void
  join(peer: Peer): void
  /** Removes `peer` and tells the others its presence is gone. */
  leave(peer: Peer): void
}

export interface RoomOptions {
  readonly name: string
  readonly storedUpdates: readonly Uint8Array[]
  /** Called for every update from a peer, in order: the storage side of the data path. */
  readonly commit: (room: Room, update: Uint8Array | null, writer: Peer, acknowledged: Uint8Array) => void
  /**
   * Called when the room has gone quiet after accepting updates. True means a compaction
   * will replace the state, so the room does not fold it itself.
   */
  readonly onQuiet?: (room: Room) => boolean
  /** When the room relays what it accepted (shared by the rooms of a process). */
  readonly relays: RelayScheduler
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
  readonly state: EncodedState
  readonly awareness: AwarenessRegistry<Peer> = createAwarenessRegistry<Peer>()
  readonly peers = new Set<Peer>()
  version = 0
  private pending: PendingRelay[] = []
  private relayScheduled = false
  private foldTimer: ReturnType<typeof setTimeout> | null = null
  private lastAcceptedAt = 0
  // Only the functions are kept, not the options: they hold the stored updates the state
  // was built from, which the first fold replaces.
  private readonly commit: RoomOptions['commit']
  private readonly onQuiet: RoomOptions['onQuiet']
  private readonly relays: RelayScheduler

  constructor(options: RoomOptions) {
    this.name = options.name
    this.state = createEncodedState(options.storedUpdates)
    this.commit = options.commit
    this.onQuiet = options.onQuiet
    this.relays = options.relays
  }

  acceptUpdate(update: Uint8Array, source: UpdateSource, frame?: Uint8Array): void {
    this.version++
    this.state.append(update)
    const from = source.kind === 'peer' ? source.peer : null
    if (from) this.commit(this, update, from, update)
    this.pending.push({ update, from, frame })
    this.lastAcceptedAt = Date.now()
    if (this.foldTimer === null) this.scheduleFold(FOLD_DELAY_MS)
    if (!this.relayScheduled) {
      this.relayScheduled = true
      this.relays.schedule(this)
    }
  }

  acknowledgeWhenDurable(sent: Uint8Array, writer: Peer): void {
    this.commit(this, null, writer, sent)
  }

  applyAwareness(entries: readonly AwarenessEntry[], frame: Uint8Array, from: Peer): void {
    this.awareness.apply(entries, from)
    for (const peer of this.peers) if (peer !== from) peer.send(frame)
  }

  join(peer: Peer): void {
    this.peers.add(peer)
  }

  leave(peer: Peer): void {
    if (!this.peers.delete(peer)) return
    const removed = this.awareness.removeOwner(peer)
    if (removed.length === 0 || this.peers.size === 0) return
    const frame = encodeMessage({ type: 'awareness', update: encodeAwarenessUpdate(removed) })
    for (const other of this.peers) other.send(frame)
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

  private scheduleFold(delay: number): void {
    this.foldTimer = setTimeout(foldWhenQuiet, delay, this)
    this.foldTimer.unref()
  }
}
