import * as Y from 'yjs'
import { isEmptyUpdate, type UpdateMeta } from '@quire/protocol'

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
 * keeps the highest clock seen per client and takes the exact path only when an update
 * starts below it (a resend, or an out-of-order update filling a gap). Those clocks come
 * from the state's parts as they are (`highestClocks`), not from a merge: a room opened
 * from a large snapshot and a few updates stored after it (a document written through
 * the API, one write per open) would otherwise merge the whole document on the event
 * loop before accepting each write (18 ms for a 190 KiB document here). One guard per
 * room, made when its first update arrives: every update enters a room through
 * `Room.accept`, which passes it here, so the clocks stay those of the room's state.
 */
export interface UpdateGuard {
  /**
   * The part of `update` the room lacks, or null when it lacks nothing. Its clocks count
   * as the room's from now on: the caller appends a non-null result to the room at once.
   */
  admit(update: Uint8Array, meta: UpdateMeta): Uint8Array | null
}

/** The state the guard protects: its exact state vector is read only for resends. */
export interface GuardedState {
  stateVector(): Uint8Array
  /** Per client, the end of the highest clock range the state holds (gaps below it or not). */
  highestClocks(): Map<number, number>
}

export function createUpdateGuard(state: GuardedState): UpdateGuard {
  return new SeenClocks(state)
}

class SeenClocks implements UpdateGuard {
  private readonly clocks: Map<number, number>

  constructor(private readonly state: GuardedState) {
    this.clocks = state.highestClocks()
  }

  admit(update: Uint8Array, meta: UpdateMeta): Uint8Array | null {
    const { ranges } = meta
    const { clocks } = this
    let resends = false
    for (let i = 0; i < ranges.length; i += 3) {
      if ((ranges[i + 1] as number) < (clocks.get(ranges[i] as number) ?? 0)) {
        resends = true
        break
      }
    }
    const fresh = resends ? Y.diffUpdate(update, this.state.stateVector()) : update
    if (isEmptyUpdate(fresh)) return null
    for (let i = 0; i < ranges.length; i += 3) {
      const client = ranges[i] as number
      const end = ranges[i + 2] as number
      if (end > (clocks.get(client) ?? 0)) clocks.set(client, end)
    }
    return fresh
  }
}
