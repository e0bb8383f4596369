import * as encoding from 'lib0/encoding'
import type { Message } from './message.js'
import {
  AUTH_PERMISSION_DENIED,
  MESSAGE_AUTH,
  MESSAGE_AWARENESS,
  MESSAGE_QUERY_AWARENESS,
  MESSAGE_QUIRE,
  MESSAGE_SYNC,
  QUIRE_DELETED,
  QUIRE_HELLO,
  QUIRE_SAVED,
  SYNC_STEP_1,
  SYNC_STEP_2,
  SYNC_UPDATE
} from './message-type.js'

/**
 * Writers, one per message, each the exact inverse of the matching branch of
 * decodeMessage. `write*` appends to an encoder (to build a frame from parts);
 * `encodeMessage` returns a whole frame.
 */
export function writeMessage(encoder: encoding.Encoder, message: Message): void {
  switch (message.type) {
    case 'sync-step-1':
      writeSync(encoder, SYNC_STEP_1, message.stateVector)
      return
    case 'sync-step-2':
      writeSync(encoder, SYNC_STEP_2, message.update)
      return
    case 'sync-update':
      writeSync(encoder, SYNC_UPDATE, message.update)
      return
    case 'awareness':
      encoding.writeVarUint(encoder, MESSAGE_AWARENESS)
      encoding.writeVarUint8Array(encoder, message.update)
      return
    case 'auth-permission-denied':
      encoding.writeVarUint(encoder, MESSAGE_AUTH)
      encoding.writeVarUint(encoder, AUTH_PERMISSION_DENIED)
      encoding.writeVarString(encoder, message.reason)
      return
    case 'query-awareness':
      encoding.writeVarUint(encoder, MESSAGE_QUERY_AWARENESS)
      return
    case 'quire-hello':
      encoding.writeVarUint(encoder, MESSAGE_QUIRE)
      encoding.writeVarUint(encoder, QUIRE_HELLO)
      encoding.writeVarUint(encoder, message.version)
      return
    case 'quire-saved':
      encoding.writeVarUint(encoder, MESSAGE_QUIRE)
      encoding.writeVarUint(encoder, QUIRE_SAVED)
      encoding.writeVarUint8Array(encoder, message.stateVector)
      encoding.writeVarUint8Array(encoder, message.deleteSet)
      return
    case 'quire-deleted':
      encoding.writeVarUint(encoder, MESSAGE_QUIRE)
      encoding.writeVarUint(encoder, QUIRE_DELETED)
      return
  }
}

function writeSync(encoder: encoding.Encoder, sub: number, payload: Uint8Array): void {
  encoding.writeVarUint(encoder, MESSAGE_SYNC)
  encoding.writeVarUint(encoder, sub)
  encoding.writeVarUint8Array(encoder, payload)
}

export function encodeMessage(message: Message): Uint8Array {
  const encoder = encoding.createEncoder()
  writeMessage(encoder, message)
  return encoding.toUint8Array(encoder)
}
