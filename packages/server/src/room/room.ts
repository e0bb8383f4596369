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
 * for relay. Relays are batched per event-loop turn: when several updates arrive in the
 * same turn, each receiver gets one merged frame instead of one frame per update, and
 * never its own updates back.
 */
export interface Room {
  readonly name: string
  readonly state: EncodedState
  readonly awareness: AwarenessRegistry<Peer>
  readonly peers: ReadonlySet<Peer>
  /** Number of updates accepted so far; a compaction uses it to see whether the room moved. */
  readonly version: number
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

interface PendingRelay {
  readonly update: Uint8Array
  readonly from: Peer | null
  readonly frame: Uint8Array | undefined
}

export function createRoom(options: RoomOptions): Room {
  const peers = new Set<Peer>()
  const state = createEncodedState(options.storedUpdates)
  const awareness = createAwarenessRegistry<Peer>()
  let version = 0
  let pending: PendingRelay[] = []
  let relayScheduled = false
  let foldTimer: ReturnType<typeof setTimeout> | null = null

  // Each recent update is its own small allocation; an idle room should cost about its
  // encoded size. Fold them into the base a moment after activity, at most once per
  // FOLD_DELAY_MS per room, so a busy room is not re-merged on every update.
  const fold = (): void => {
    foldTimer = null
    state.fold()
  }

  const relay = (): void => {
    relayScheduled = false
    const batch = pending
    pending = []
    if (peers.size === 0 || batch.length === 0) return
    const only = batch.length === 1 ? batch[0] : undefined
    if (only) {
      const frame = only.frame ?? encodeMessage({ type: 'sync-update', update: only.update })
      for (const peer of peers) if (peer !== only.from) peer.send(frame)
      return
    }
    const sources = new Set<Peer | null>(batch.map((r) => r.from))
    const mergedFrame = encodeMessage({ type: 'sync-update', update: mergeUpdates(batch.map((r) => r.update)) })
    for (const peer of peers) {
      if (!sources.has(peer)) {
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
