/**
 * LevelDB keys for documents. Any JS string is a valid document name, so names are
 * written as their UTF-16 code units (two bytes each: lone surrogates stay distinct,
 * which UTF-8 would fold into U+FFFD) behind a varint length prefix. Length-prefixed
 * names are prefix-free, so no name's key range can contain another name's keys, and
 * nothing in a name ever reaches the file system.
 *
 *   update key:   'u' • varUint(nameLength) • name as UTF-16BE • seq as 8 bytes BE
 *   pack key:     an update key • 'p'   (the value holds several updates, see update-pack.ts)
 *   snapshot key: an update key • 's'   (the value is a compaction snapshot, written by replace)
 *   doc key:      'd' • name as UTF-16BE              (one per stored document, for list(); value: its last
 *                                                      change time, ms as 8 bytes BE, empty before Quire kept it)
 *   tombstone key:'x' • name as UTF-16BE              (value: the last sequence number when the document was
 *                                                      deleted, then, while it is refused, until when: ms, 8 bytes)
 *   commit key:   'c' • seq as 8 bytes BE             (one group commit across documents, see commit-record.ts)
 *   version key:  'h' • varUint(nameLength) • name as UTF-16BE • id as 8 bytes BE   (a version's metadata,
 *                                                      JSON; see level-versions.ts)
 *   version data: 'k' • varUint(nameLength) • name as UTF-16BE • id as 8 bytes BE   (its stored update)
 *   sequence key: 'm' • 'seq'                         (last sequence number handed out)
 */
const UPDATE_TAG = 0x75
const COMMIT_TAG = 0x63
const DOC_TAG = 0x64
const META_TAG = 0x6d
const PACK_TAG = 0x70
const SNAPSHOT_TAG = 0x73
const TOMBSTONE_TAG = 0x78
const VERSION_TAG = 0x68
const VERSION_DATA_TAG = 0x6b

export const SEQUENCE_KEY = Uint8Array.of(META_TAG, 0x73, 0x65, 0x71)
export const DOC_KEY_RANGE = { gte: Uint8Array.of(DOC_TAG), lt: Uint8Array.of(DOC_TAG + 1) }
export const COMMIT_KEY_RANGE = { gte: Uint8Array.of(COMMIT_TAG), lt: Uint8Array.of(COMMIT_TAG + 1) }

export function encodeCommitKey(seq: number): Uint8Array {
  const bytes = new Uint8Array(9)
  bytes[0] = COMMIT_TAG
  new DataView(bytes.buffer).setBigUint64(1, BigInt(seq))
  return bytes
}

export function decodeCommitKey(key: Uint8Array): number {
  return Number(new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(1))
}

function writeName(bytes: Uint8Array, offset: number, name: string): void {
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i)
    bytes[offset + 2 * i] = unit >> 8
    bytes[offset + 2 * i + 1] = unit & 0xff
  }
}

function varUintLength(n: number): number {
  let length = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    length++
  }
  return length
}

function writeVarUint(bytes: Uint8Array, offset: number, n: number): number {
  while (n >= 0x80) {
    bytes[offset++] = (n & 0x7f) | 0x80
    n = Math.floor(n / 0x80)
  }
  bytes[offset++] = n
  return offset
}

/** 'u' • varUint(len) • name: every update key of `doc` starts with these bytes (another tag for versions). */
function updatePrefix(doc: string, extra: number, tag = UPDATE_TAG): { bytes: Uint8Array; end: number } {
  const prefixLength = 1 + varUintLength(doc.length) + 2 * doc.length
  const bytes = new Uint8Array(prefixLength + extra)
  bytes[0] = tag
  const offset = writeVarUint(bytes, 1, doc.length)
  writeName(bytes, offset, doc)
  return { bytes, end: prefixLength }
}

export function encodeUpdateKey(doc: string, seq: number): Uint8Array {
  const { bytes, end } = updatePrefix(doc, 8)
  new DataView(bytes.buffer).setBigUint64(end, BigInt(seq))
  return bytes
}

/** An update key with a trailing 'p': its value is a pack of updates (one group commit of one document). */
export function encodePackKey(doc: string, seq: number): Uint8Array {
  return encodeTaggedKey(doc, seq, PACK_TAG)
}

/** An update key with a trailing 's': its value is a compaction snapshot. */
export function encodeSnapshotKey(doc: string, seq: number): Uint8Array {
  return encodeTaggedKey(doc, seq, SNAPSHOT_TAG)
}

function encodeTaggedKey(doc: string, seq: number, tag: number): Uint8Array {
  const { bytes, end } = updatePrefix(doc, 9)
  new DataView(bytes.buffer).setBigUint64(end, BigInt(seq))
  bytes[end + 8] = tag
  return bytes
}

export type LogRecordKind = 'update' | 'pack' | 'snapshot'

/** The position of an update, pack or snapshot key of `doc`, and which of them it is. */
export function decodeLogKey(doc: string, key: Uint8Array): { seq: number; kind: LogRecordKind } {
  const seqAt = 1 + varUintLength(doc.length) + 2 * doc.length
  const seq = Number(new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(seqAt))
  const tag = key.byteLength === seqAt + 9 ? key[seqAt + 8] : undefined
  return { seq, kind: tag === PACK_TAG ? 'pack' : tag === SNAPSHOT_TAG ? 'snapshot' : 'update' }
}

/** Range of all update, pack and snapshot keys of `doc`, optionally only those up to and including `upToSeq`. */
export function updateKeyRange(doc: string, upToSeq?: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: encodeUpdateKey(doc, 0), lt: encodeUpdateKey(doc, upToSeq === undefined ? Number.MAX_SAFE_INTEGER : upToSeq + 1) }
}

export function encodeDocKey(doc: string): Uint8Array {
  const bytes = new Uint8Array(1 + 2 * doc.length)
  bytes[0] = DOC_TAG
  writeName(bytes, 1, doc)
  return bytes
}

/** Where a deleted document's last sequence number is kept, so a compaction older than the delete is not written back. */
export function encodeTombstoneKey(doc: string): Uint8Array {
  const bytes = encodeDocKey(doc)
  bytes[0] = TOMBSTONE_TAG
  return bytes
}

export function decodeDocKey(key: Uint8Array): string {
  let name = ''
  for (let i = 1; i + 1 < key.length; i += 2) name += String.fromCharCode(((key[i] ?? 0) << 8) | (key[i + 1] ?? 0))
  return name
}

export function encodeSeq(seq: number): Uint8Array {
  const bytes = new Uint8Array(8)
  new DataView(bytes.buffer).setBigUint64(0, BigInt(seq))
  return bytes
}

export function decodeSeq(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0))
}

/** Where a version's metadata ('meta') or its stored update ('data') is kept. */
export function encodeVersionKey(doc: string, id: number, part: 'meta' | 'data'): Uint8Array {
  const { bytes, end } = updatePrefix(doc, 8, part === 'meta' ? VERSION_TAG : VERSION_DATA_TAG)
  new DataView(bytes.buffer).setBigUint64(end, BigInt(id))
  return bytes
}

export function decodeVersionKey(key: Uint8Array): number {
  return Number(new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(key.byteLength - 8))
}

/** Range of every version key of `doc` of one part. */
export function versionKeyRange(doc: string, part: 'meta' | 'data'): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: encodeVersionKey(doc, 0, part), lt: encodeVersionKey(doc, Number.MAX_SAFE_INTEGER, part) }
}
