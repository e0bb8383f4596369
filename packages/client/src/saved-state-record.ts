import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { SaveTracker, type AcknowledgementSupport } from './save-tracker.js'

/**
 * The record kept beside the IndexedDB copy of a document (y-indexeddb's `custom`
 * store) so that a reload, even offline, still knows which local work the server
 * never acknowledged:
 *
 *   record      = varUint version(1) • varUint support(0 unknown | 1 yes | 2 no)
 *                 • clocks(acknowledged) • clocks(pending) • deletions
 *   clocks      = varUint n • n × (varUint client • varUint clock)
 *   deletions   = varUint n • n × (varUint client • varUint m • m × (varUint start • varUint length))
 */
export const SAVED_STATE_RECORD_KEY = 'quire:saved-state'

const RECORD_VERSION = 1
const SUPPORT_CODES: readonly AcknowledgementSupport[] = ['unknown', 'yes', 'no']

function writeClocks(encoder: encoding.Encoder, clocks: ReadonlyMap<number, number>): void {
  encoding.writeVarUint(encoder, clocks.size)
  for (const [client, clock] of clocks) {
    encoding.writeVarUint(encoder, client)
    encoding.writeVarUint(encoder, clock)
  }
}

function readClocks(decoder: decoding.Decoder, into: Map<number, number>): void {
  const count = decoding.readVarUint(decoder)
  for (let i = 0; i < count; i++) {
    const client = decoding.readVarUint(decoder)
    into.set(client, decoding.readVarUint(decoder))
  }
}

export function encodeSavedStateRecord(tracker: SaveTracker): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, RECORD_VERSION)
  encoding.writeVarUint(encoder, SUPPORT_CODES.indexOf(tracker.support))
  writeClocks(encoder, tracker.acknowledged)
  writeClocks(encoder, tracker.pending)
  encoding.writeVarUint(encoder, tracker.pendingDeletions.size)
  for (const [client, ranges] of tracker.pendingDeletions) {
    encoding.writeVarUint(encoder, client)
    encoding.writeVarUint(encoder, ranges.length)
    for (const [start, end] of ranges) {
      encoding.writeVarUint(encoder, start)
      encoding.writeVarUint(encoder, end - start)
    }
  }
  return encoding.toUint8Array(encoder)
}

export type SavedStateRecordResult =
  | { readonly ok: true; readonly tracker: SaveTracker }
  | { readonly ok: false; readonly reason: string }

/** Decodes a stored record. Never throws: IndexedDB content is input from an older or foreign version. */
export function decodeSavedStateRecord(bytes: Uint8Array): SavedStateRecordResult {
  try {
    const decoder = decoding.createDecoder(bytes)
    const version = decoding.readVarUint(decoder)
    if (version !== RECORD_VERSION) return { ok: false, reason: `unknown saved-state record version ${version}` }
    const tracker = new SaveTracker()
    const support = SUPPORT_CODES[decoding.readVarUint(decoder)]
    if (support === undefined) return { ok: false, reason: 'unknown acknowledgement support code' }
    tracker.support = support
    readClocks(decoder, tracker.acknowledged)
    readClocks(decoder, tracker.pending)
    const clients = decoding.readVarUint(decoder)
    for (let i = 0; i < clients; i++) {
      const client = decoding.readVarUint(decoder)
      const count = decoding.readVarUint(decoder)
      const ranges: Array<readonly [number, number]> = []
      for (let j = 0; j < count; j++) {
        const start = decoding.readVarUint(decoder)
        ranges.push([start, start + decoding.readVarUint(decoder)])
      }
      if (ranges.length > 0) tracker.pendingDeletions.set(client, ranges)
    }
    if (decoding.hasContent(decoder)) return { ok: false, reason: 'trailing bytes after saved-state record' }
    return { ok: true, tracker }
  } catch (error) {
    return { ok: false, reason: `truncated saved-state record (${error instanceof Error ? error.message : String(error)})` }
  }
}
