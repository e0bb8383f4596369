import { encodeAwarenessUpdate, encodeMessage, type AwarenessEntry } from '@quire/protocol'
import { createAwarenessRegistry, type AwarenessRegistry } from './awareness-registry.js'
import { createEncodedState, type EncodedState } from './encoded-state.js'
import { mergeUpdates } from './merge-updates.js'
import type { Peer, UpdateSource } from './peer.js'

/**
 * One open document: its encoded state, its presence and the peers connected to it.
 *
 * `acceptUpdate` is the only way an update enters a room. It appends to the encoded
 * state, hands the update to `commit` (storage) when it came from a peer, and queues it
 * for relay. Relays are batched per event-loop turn: a receiver gets the turn's updates
 * in one socket write (one merged frame when there are many), and never its own
 * updates back.
 */
export interface Room {
  readonly name: string
  readonly state: EncodedState
  readonly awareness: AwarenessRegistry<Peer>
  readonly peers: ReadonlySet<Peer>
  /** Number of updates accepted so far; a compaction uses it to see whether the room moved. */
  readonly version: number
  /** `update` may be a view of a receive buffer: the room copies what it keeps for longer than a turn. */
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
  const peers = new Set<Peer>()
  const state = createEncodedState(options.storedUpdates)
  const awareness = createAwarenessRegistry<Peer>()
  let version = 0
  let pending: PendingRelay[] = []
  let relayScheduled = false
  let foldTimer: ReturnType<typeof setTimeout> | null = null
  let lastAcceptedAt = 0

  // Each recent update is its own small allocation; an idle room should cost about its
  // encoded size. Fold them into the base once the room has been quiet for
  // FOLD_DELAY_MS: re-merging a busy room's whole state every second costs more than the
  // tail it saves (the encoded state folds a long tail by itself).
  const fold = (): void => {
    const quietFor = Date.now() - lastAcceptedAt
    if (quietFor < FOLD_DELAY_MS) {
      foldTimer = setTimeout(fold, FOLD_DELAY_MS - quietFor)
      foldTimer.unref()
      return
    }
    foldTimer = null
    state.fold()
  }

  const frameOf = (relay: PendingRelay): Uint8Array =>
    (relay.frame ??= encodeMessage({ type: 'sync-update', update: relay.update }))

  const relay = (): void => {
    relayScheduled = false
    const batch = pending
    pending = []
    if (peers.size === 0 || batch.length === 0) return
    if (batch.length <= MAX_SEPARATE_FRAMES) {
      // Every update keeps its own frame (usually the very frame its writer sent), so
      // nothing is merged or re-encoded; a receiver gets this turn's frames in one write.
      const frames = batch.map(frameOf)
      for (const peer of peers) {
        if (!batch.some((r) => r.from === peer)) peer.sendAll(frames)
        else if (batch.length > 1) {
          const others = batch.filter((r) => r.from !== peer).map(frameOf)
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
      const update = mergeUpdates(others)
      peer.send(encodeMessage({ type: 'sync-update', update }))
    }
  }

  const room: Room = {
    name: options.name,
    state,
    awareness,
    peers,
    get version() {
      return version
    },
    acceptUpdate(update, source, frame) {
      version++
      state.append(update)
      const from = source.kind === 'peer' ? source.peer : null
      if (from) options.commit(room, update, from, update)
      pending.push({ update, from, frame })
      lastAcceptedAt = Date.now()
      if (foldTimer === null) {
        foldTimer = setTimeout(fold, FOLD_DELAY_MS)
        foldTimer.unref()
      }
      if (!relayScheduled) {
        relayScheduled = true
        setImmediate(relay)
      }
    },
    acknowledgeWhenDurable(sent, writer) {
      options.commit(room, null, writer, sent)
    },
    applyAwareness(entries, frame, from) {
      awareness.apply(entries, from)
      for (const peer of peers) if (peer !== from) peer.send(frame)
    },
    join(peer) {
      peers.add(peer)
    },
    leave(peer) {
      if (!peers.delete(peer)) return
      const removed = awareness.removeOwner(peer)
      if (removed.length === 0 || peers.size === 0) return
      const frame = encodeMessage({ type: 'awareness', update: encodeAwarenessUpdate(removed) })
      for (const other of peers) other.send(frame)
    }
  }
  return room
}
