import { decodeAwarenessUpdate, decodeMessage, updateMetaOf } from '@quire/protocol'
import type { Log } from '../log.js'
import type { RemoteClone, Room } from '../room/room.js'

/**
 * Frames another clone published for `room`, entering it the way a socket's frames
 * enter a connection: decoded and validated once, here at the edge, and refused one by
 * one (logged, skipped) when broken, so a bad entry on the bus costs nothing but itself.
 * Updates enter as already durable (the publishing clone committed them first).
 */
export function receiveCloneFrames(
  room: Room,
  frames: readonly Uint8Array[],
  clone: RemoteClone,
  log: Log,
  /** The other clone deleted the room's document: its peers here must go (with 4404) and the room too. */
  deleted: (room: Room) => void
): void {
  for (const frame of frames) {
    const decoded = decodeMessage(frame)
    if (!decoded.ok) {
      log('warn', `skipped a frame from clone ${clone.clone} for "${room.name}": ${decoded.error.reason}`, { room: room.name, clone: clone.clone })
      continue
    }
    const message = decoded.message
    switch (message.type) {
      case 'sync-update':
      case 'sync-step-2':
        room.accept(message.update, message.meta ?? updateMetaOf(message.update), null, message.type === 'sync-update' ? frame : undefined)
        break
      case 'awareness': {
        const presence = decodeAwarenessUpdate(message.update)
        if (presence.ok) room.applyClonePresence(presence.entries, frame, clone)
        break
      }
      case 'quire-deleted':
        deleted(room)
        return
      default:
        log('warn', `skipped a ${message.type} frame from clone ${clone.clone} for "${room.name}": clones publish updates and presence only`, { room: room.name, clone: clone.clone })
    }
  }
}
