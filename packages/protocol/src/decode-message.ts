import * as decoding from 'lib0/decoding'
import { decodeAwarenessUpdate } from './awareness-update.js'
import type { DecodedMessage, DecodeErrorKind, DecodeResult } from './message.js'
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
import { findStateVectorProblem, findUpdateProblem, inspectUpdate } from './validate-update.js'

export interface DecodeOptions {
  /** Frames longer than this are refused as 'too-large'. */
  readonly maxBytes?: number
  /**
   * Check payloads deeply: updates are well-formed Yjs updates, state vectors decode,
   * awareness states are JSON. On by default; a receiver that only logs may turn it off.
   */
  readonly validatePayloads?: boolean
}

const fail = (kind: DecodeErrorKind, reason: string): DecodeResult => ({ ok: false, error: { kind, reason } })
const ok = (message: DecodedMessage): DecodeResult => ({ ok: true, message })

/**
 * Decodes one WebSocket frame. Never throws: any problem comes back as a typed error
 * whose `reason` can be used as the close reason as is.
 */
export function decodeMessage(frame: Uint8Array, options: DecodeOptions = {}): DecodeResult {
  const maxBytes = options.maxBytes ?? Infinity
  if (frame.length > maxBytes) return fail('too-large', `message of ${frame.length} bytes exceeds the limit of ${maxBytes}`)
  if (frame.length === 0) return fail('malformed', 'empty message')
  try {
    const result = readMessage(decoding.createDecoder(frame), options.validatePayloads ?? true)
    return result
  } catch (error) {
    return fail('malformed', `truncated or malformed message (${error instanceof Error ? error.message : String(error)})`)
  }
}

/** The reading half; lib0 throws on reads past the end, which decodeMessage turns into 'malformed'. */
function readMessage(decoder: decoding.Decoder, validate: boolean): DecodeResult {
  const type = decoding.readVarUint(decoder)
  let result: DecodeResult
  switch (type) {
    case MESSAGE_SYNC:
      result = readSync(decoder, validate)
      break
    case MESSAGE_AWARENESS: {
      const update = decoding.readVarUint8Array(decoder)
      if (validate) {
        const checked = decodeAwarenessUpdate(update)
        if (!checked.ok) return fail('invalid-awareness', `invalid awareness update: ${checked.reason}`)
      }
      result = ok({ type: 'awareness', update })
      break
    }
    case MESSAGE_AUTH: {
      const sub = decoding.readVarUint(decoder)
      if (sub !== AUTH_PERMISSION_DENIED) return fail('unknown-type', `unknown auth message type ${sub}`)
      result = ok({ type: 'auth-permission-denied', reason: decoding.readVarString(decoder) })
      break
    }
    case MESSAGE_QUERY_AWARENESS:
      result = ok({ type: 'query-awareness' })
      break
    case MESSAGE_QUIRE:
      result = readQuire(decoder, validate)
      break
    default:
      return fail('unknown-type', `unknown message type ${type}`)
  }
  if (result.ok && decoding.hasContent(decoder)) return fail('malformed', `trailing bytes after ${result.message.type} message`)
  return result
}

function readSync(decoder: decoding.Decoder, validate: boolean): DecodeResult {
  const sub = decoding.readVarUint(decoder)
  switch (sub) {
    case SYNC_STEP_1: {
      const stateVector = decoding.readVarUint8Array(decoder)
      const problem = validate ? findStateVectorProblem(stateVector) : null
      return problem ? fail('malformed', `invalid sync step 1: ${problem}`) : ok({ type: 'sync-step-1', stateVector })
    }
    case SYNC_STEP_2:
    case SYNC_UPDATE: {
      const update = decoding.readVarUint8Array(decoder)
      let meta = null
      if (validate) {
        const inspection = inspectUpdate(update)
        if (!inspection.ok) return fail('invalid-update', `invalid update: ${inspection.problem}`)
        meta = inspection.meta
      }
      return ok(sub === SYNC_STEP_2 ? { type: 'sync-step-2', update, meta } : { type: 'sync-update', update, meta })
    }
    default:
      return fail('unknown-type', `unknown sync message type ${sub}`)
  }
}

function readQuire(decoder: decoding.Decoder, validate: boolean): DecodeResult {
  const sub = decoding.readVarUint(decoder)
  switch (sub) {
    case QUIRE_HELLO:
      return ok({ type: 'quire-hello', version: decoding.readVarUint(decoder) })
    case QUIRE_SAVED: {
      const stateVector = decoding.readVarUint8Array(decoder)
      const deleteSet = decoding.readVarUint8Array(decoder)
      if (validate) {
        const problem = findStateVectorProblem(stateVector) ?? findUpdateProblem(deleteSet)
        if (problem) return fail('malformed', `invalid saved message: ${problem}`)
      }
      return ok({ type: 'quire-saved', stateVector, deleteSet })
    }
    case QUIRE_DELETED:
      return ok({ type: 'quire-deleted' })
    default:
      return fail('unknown-type', `unknown quire message type ${sub}`)
  }
}
