import * as Y from 'yjs'
import { isEmptyUpdate, updateMetaOf } from '@quire/protocol'
import type { Room } from '../room/room.js'

/**
 * Keeps forged re-sends out of a room. Yjs identifies structs by (client, clock) and a
 * replica skips or slices what it already has, trusting that the same id always carries
 * the same content. An update that re-sends known clocks with different origins or
 * content breaks that trust: the fuzz test found such updates throwing inside clients
 * that already held those clocks, leaving them diverged. A real client never sends a
 * struct the server already has with other content, so the guard hands the room only the
 * part of an update that is new to it (`Y.diffUpdate` against the room's state vector).
 *
 * The room's exact state vector costs a merge of its whole encoded state, so the guard
 * keeps, per room, the highest clock seen per client and takes the exact path only when
 * an update starts below it (a resend, or an out-of-order update filling a gap). It
 * tracks the room's `version`: if an update entered the room another way (storage,
 * fan-out), it starts over from the exact state vector.
 */
export interface UpdateGuard {
  /**
   * The part of `update` that `room` lacks, or null when it lacks nothing. The caller
   * must pass a non-null result to `room.acceptUpdate` right away.
   */
  admit(room: Room, update: Uint8Array): Uint8Array | null
}

interface SeenClocks {
  /** The room version these clocks describe. */
  version: number
  readonly clocks: Map<number, number>
}

export function createUpdateGuard(): UpdateGuard {
  // Keyed by room object: an evicted room and its clocks are collected together.
  const seen = new WeakMap<Room, SeenClocks>()
  return {
    admit(room, update) {
      let known = seen.get(room)
      if (!known || known.version !== room.version) {
        known = { version: room.version, clocks: Y.decodeStateVector(room.state.stateVector()) }
        seen.set(room, known)
      }
      const { ranges } = updateMetaOf(update)
      let resends = false
      for (let i = 0; i < ranges.length; i += 3) {
        if ((ranges[i + 1] as number) < (known.clocks.get(ranges[i] as number) ?? 0)) {
          resends = true
          break
        }
      }
      const fresh = resends ? Y.diffUpdate(update, room.state.stateVector()) : update
      if (isEmptyUpdate(fresh)) return null
      for (let i = 0; i < ranges.length; i += 3) {
        const client = ranges[i] as number
        const end = ranges[i + 2] as number
        if (end > (known.clocks.get(client) ?? 0)) known.clocks.set(client, end)
      }
      known.version = room.version + 1
      return fresh
    }
  }
}
