import type { Room } from '../room/room.js'
import type { RoomRegistry } from '../room/room-registry.js'

/**
 * Keeps a room the document API opened in memory for a while after its request, instead
 * of releasing it at once. A backend writes a document in a series of requests (and reads
 * it back, renders it); released each time, the room was loaded from storage and its log
 * merged on the event loop for every one of them, a cost that grows with the document
 * and that the relay's other rooms waited behind. Each new request to the room re-arms
 * its timer. Past half of `maxRooms` open rooms nothing lingers, so that a backend walking
 * through many documents never holds the rooms WebSocket clients need.
 */
export interface RoomLinger {
  /** The API is done with `room`: release it after the linger (or now, when rooms are scarce). */
  release(registry: Pick<RoomRegistry, 'releaseIfIdle' | 'size'>, room: Room): void
}

export interface RoomLingerOptions {
  readonly lingerMs: number
  readonly maxRooms: number
}

export function createRoomLinger(options: RoomLingerOptions): RoomLinger {
  const held = new Map<string, { room: Room; timer: ReturnType<typeof setTimeout> }>()
  return {
    release(registry, room) {
      const previous = held.get(room.name)
      if (previous?.room === room) {
        previous.timer.refresh()
        return
      }
      // The room was evicted and opened again (its clients came and went) since it was held.
      if (previous) {
        clearTimeout(previous.timer)
        held.delete(room.name)
      }
      if (options.lingerMs <= 0 || registry.size > options.maxRooms / 2) {
        registry.releaseIfIdle(room)
        return
      }
      const timer = setTimeout(() => {
        if (held.get(room.name)?.timer === timer) held.delete(room.name)
        registry.releaseIfIdle(room)
      }, options.lingerMs)
      timer.unref()
      held.set(room.name, { room, timer })
    }
  }
}
