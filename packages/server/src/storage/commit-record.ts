import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

/**
 * The value of a commit key: what one group commit appended to every document in it, as
 * varUint(documents) then, per document, its name as varUint(length) and UTF-16 code
 * units (two bytes each, so a lone surrogate survives, as in document keys) followed by
 * its update list: varUint(updates) and each update as a varUint8Array (the layout of an
 * update pack, see update-pack.ts).
 */
export interface CommitEntry {
  readonly doc: string
  readonly updates: readonly Uint8Array[]
}

/** Where one document's update list lies in an encoded commit record: bytes [start, end). */
export interface CommitSpan {
  readonly doc: string
  readonly start: number
  readonly end: number
}

export function encodeCommitRecord(entries: readonly CommitEntry[]): { record: Uint8Array; spans: CommitSpan[] } {
  const encoder = encoding.createEncoder()
  const spans: CommitSpan[] = []
  encoding.writeVarUint(encoder, entries.length)
  for (const { doc, updates } of entries) {
    encoding.writeVarUint(encoder, doc.length)
    for (let i = 0; i < doc.length; i++) encoding.writeUint16(encoder, doc.charCodeAt(i))
    const start = encoding.length(encoder)
    encoding.writeVarUint(encoder, updates.length)
    for (const update of updates) encoding.writeVarUint8Array(encoder, update)
    spans.push({ doc, start, end: encoding.length(encoder) })
  }
  return { record: encoding.toUint8Array(encoder), spans }
}

/** The documents of a commit record and where their updates lie. Throws on a truncated or malformed record. */
export function readCommitSpans(record: Uint8Array): CommitSpan[] {
  const decoder = decoding.createDecoder(record)
  const spans: CommitSpan[] = []
  const count = decoding.readVarUint(decoder)
  for (let e = 0; e < count; e++) {
    const nameLength = decoding.readVarUint(decoder)
    let doc = ''
    for (let i = 0; i < nameLength; i++) doc += String.fromCharCode(decoding.readUint16(decoder))
    const start = decoder.pos
    const updateCount = decoding.readVarUint(decoder)
    for (let u = 0; u < updateCount; u++) decoding.readVarUint8Array(decoder)
    spans.push({ doc, start, end: decoder.pos })
  }
  // lib0 reads past the end without throwing (as NaN or undefined), so check the length.
  if (decoder.pos !== record.byteLength) throw new Error('a stored commit record is truncated or has trailing bytes')
  return spans
}

/** The updates of the update list at [start, end) of `record`, as views into it. */
export function readUpdateList(record: Uint8Array, start: number, end: number): Uint8Array[] {
  const decoder = decoding.createDecoder(record.subarray(start, end))
  const count = decoding.readVarUint(decoder)
  const updates: Uint8Array[] = []
  for (let i = 0; i < count; i++) updates.push(decoding.readVarUint8Array(decoder))
  return updates
}
