import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

/**
 * The value of a commit key: what one group commit appended to every document in it, as
 * varUint(documents) then, per document, its name as varUint(length) and UTF-16 code
 * units (two bytes each, so a lone surrogate survives, as in document keys) followed by
 * varUint(updates) and each update as a varUint8Array.
 */
export interface CommitEntry {
  readonly doc: string
  readonly updates: readonly Uint8Array[]
}

export function encodeCommitRecord(entries: readonly CommitEntry[]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, entries.length)
  for (const { doc, updates } of entries) {
    encoding.writeVarUint(encoder, doc.length)
    for (let i = 0; i < doc.length; i++) encoding.writeUint16(encoder, doc.charCodeAt(i))
    encoding.writeVarUint(encoder, updates.length)
    for (const update of updates) encoding.writeVarUint8Array(encoder, update)
  }
  return encoding.toUint8Array(encoder)
}

/** The entries of a commit record, updates as views into `value`. Throws on a truncated or malformed record. */
export function decodeCommitRecord(value: Uint8Array): CommitEntry[] {
  const decoder = decoding.createDecoder(value)
  const entries: CommitEntry[] = []
  const count = decoding.readVarUint(decoder)
  for (let e = 0; e < count; e++) {
    const nameLength = decoding.readVarUint(decoder)
    let doc = ''
    for (let i = 0; i < nameLength; i++) doc += String.fromCharCode(decoding.readUint16(decoder))
    const updates: Uint8Array[] = []
    const updateCount = decoding.readVarUint(decoder)
    for (let u = 0; u < updateCount; u++) updates.push(decoding.readVarUint8Array(decoder))
    entries.push({ doc, updates })
  }
  // lib0 reads past the end without throwing (as NaN or undefined), so check the length.
  if (decoder.pos !== value.byteLength) throw new Error('a stored commit record is truncated or has trailing bytes')
  return entries
}
