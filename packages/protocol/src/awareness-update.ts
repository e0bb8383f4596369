import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

/**
 * One client's entry in an awareness update (y-protocols/awareness wire format):
 * `varUint clientID • varUint clock • varString JSON state` where the JSON `null`
 * means "this client is gone". The state stays a JSON string: the server relays
 * presence, it never needs to look inside it.
 */
export interface AwarenessEntry {
  readonly clientId: number
  readonly clock: number
  readonly state: string
}

export type AwarenessDecodeResult =
  | { readonly ok: true; readonly entries: AwarenessEntry[] }
  | { readonly ok: false; readonly reason: string }

/** Decodes and checks an awareness update; every state must be valid JSON, as peers JSON.parse it. */
export function decodeAwarenessUpdate(update: Uint8Array): AwarenessDecodeResult {
  try {
    const decoder = decoding.createDecoder(update)
    const count = decoding.readVarUint(decoder)
    const entries: AwarenessEntry[] = []
    for (let i = 0; i < count; i++) {
      const clientId = decoding.readVarUint(decoder)
      const clock = decoding.readVarUint(decoder)
      const state = decoding.readVarString(decoder)
      try {
        JSON.parse(state)
      } catch {
        return { ok: false, reason: `awareness state of client ${clientId} is not JSON` }
      }
      entries.push({ clientId, clock, state })
    }
    if (decoding.hasContent(decoder)) return { ok: false, reason: 'trailing bytes after awareness update' }
    return { ok: true, entries }
  } catch (error) {
    return { ok: false, reason: `truncated awareness update (${error instanceof Error ? error.message : String(error)})` }
  }
}

export function encodeAwarenessUpdate(entries: readonly AwarenessEntry[]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, entries.length)
  for (const entry of entries) {
    encoding.writeVarUint(encoder, entry.clientId)
    encoding.writeVarUint(encoder, entry.clock)
    encoding.writeVarString(encoder, entry.state)
  }
  return encoding.toUint8Array(encoder)
}
