import { decodeAwarenessUpdate, decodeMessage, updateMetaOf } from '@quire/protocol'
import type { Log } from '../log.js'
import type { CloneUpdate, RemoteClone, Room } from '../room/room.js'
import type { CloneEntry } from './fanout.js'

export interface CloneEntryHandlers {
  readonly log: Log
  /** The other clone deleted the room's document: its peers here must go (with 4404) and the room too. */
  readonly deleted: (room: Room) => void
  /** The entry declared durable an update this room never saw: the room must read storage again. */
  readonly missed: (room: Room) => void
}

/**
 * An entry another clone published for `room`, entering it the way a socket's frames
 * enter a connection: decoded and validated once, here at the edge, and refused one by
 * one (logged, skipped) when broken, so a bad entry on the bus costs nothing but itself.
 * Tagged updates are relayed at once and kept once durable (see `Room.relayFromClone`);
 * an update without a tag enters as durable already.
 */
export function receiveCloneEntry(room: Room, entry: CloneEntry, clone: RemoteClone, handlers: CloneEntryHandlers): void {
  const { log } = handlers
  let tentative: CloneUpdate[] | null = null
  for (const frame of entry.frames) {
    const decoded = decodeMessage(frame)
    if (!decoded.ok) {
      log('warn', `skipped a frame from clone ${clone.clone} for "${room.name}": ${decoded.error.reason}`, { room: room.name, clone: clone.clone })
      continue
    }
    const message = decoded.message
    switch (message.type) {
      case 'sync-update':
      case 'sync-step-2': {
        const meta = message.meta ?? updateMetaOf(message.update)
        const sameFrame = message.type === 'sync-update' ? frame : undefined
        if (entry.tag === undefined) room.accept(message.update, meta, null, sameFrame)
        else (tentative ??= []).push({ update: message.update, meta, frame: sameFrame })
        break
      }
      case 'awareness': {
        const presence = decodeAwarenessUpdate(message.update)
        if (presence.ok) room.applyClonePresence(presence.entries, frame, clone)
        break
      }
      case 'quire-deleted':
        handlers.deleted(room)
        return
      default:
        log('warn', `skipped a ${message.type} frame from clone ${clone.clone} for "${room.name}": clones publish updates and presence only`, { room: room.name, clone: clone.clone })
    }
  }
  if (tentative !== null && entry.tag !== undefined) room.relayFromClone(clone, entry.tag, tentative)
  if (entry.durable !== undefined && entry.durable.length > 0 && !room.settleClone(clone, entry.durable)) handlers.missed(room)
}
