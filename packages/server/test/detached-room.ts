import { updateMetaOf } from '@quire/protocol'
import type { RoomCommits } from '../src/commit/commit-queue.js'
import type { Peer } from '../src/room/peer.js'
import type { RelayScheduler } from '../src/room/relay-scheduler.js'
import { createRoom, type Room } from '../src/room/room.js'

/** Where a detached room's updates go: nowhere (these tests look at relays and memory, not storage). */
const noCommits: RoomCommits = { store: () => {}, acknowledgeAfterEarlier: () => {}, full: false }

/** A room as the registry makes one, without storage behind it. */
export function createDetachedRoom(name: string, relays: RelayScheduler, storedUpdates: readonly Uint8Array[] = []): Room {
  return createRoom({ name, storedUpdates, commits: noCommits, relays })
}

/** `update` from `writer` enters `room`, as it does from a connection (validated first). */
export function acceptFrom(room: Room, writer: Peer, update: Uint8Array): void {
  room.accept(update, updateMetaOf(update), writer)
}
