import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

/**
 * The value of a pack key: the updates one group commit appended to one document,
 * as varUint(count) followed by each update as a varUint8Array. One LevelDB record per
 * document per commit instead of one per update: under load a commit holds many
 * updates of the same document, and each record costs a write-batch operation.
 */
export function encodeUpdatePack(updates: readonly Uint8Array[]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, updates.length)
  for (const update of updates) encoding.writeVarUint8Array(encoder, update)
  return encoding.toUint8Array(encoder)
}

/** The updates of a pack, as views into `value`. Throws on a truncated or malformed pack. */
export function decodeUpdatePack(value: Uint8Array): Uint8Array[] {
  const decoder = decoding.createDecoder(value)
  const count = decoding.readVarUint(decoder)
  const updates: Uint8Array[] = []
  for (let i = 0; i < count; i++) updates.push(decoding.readVarUint8Array(decoder))
  if (decoding.hasContent(decoder)) throw new Error('a stored update pack has trailing bytes')
  return updates
}
