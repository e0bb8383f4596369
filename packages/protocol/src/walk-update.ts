import * as decoding from 'lib0/decoding'

/**
 * Walks a Yjs v1 update the way Yjs' own decoder reads it (`Y.decodeUpdate`: the lazy
 * struct reader, then the delete set), with the same lib0 reads in the same order, so
 * that it throws on exactly the inputs Yjs throws on. Unlike `Y.decodeUpdate` it builds
 * no Item, ID or content object per struct: validating a 7 KiB document upload made
 * thousands of objects that lived just long enough to be promoted to the old
 * generation, and decoding was the largest CPU cost of storing an update.
 *
 * `onStruct` sees each struct's id, length and (for items) the ids it refers to; a
 * `false` from it stops the walk.
 */
export interface StructVisitor {
  /**
   * `origin`, `rightOrigin` and `parent` are [client, clock] pairs, or null when the
   * struct has none (or, for parent, when the parent is a root type named by a key).
   * Returns false to stop.
   */
  (client: number, clock: number, length: number, refs: ItemRefs | null): boolean
}

export interface ItemRefs {
  originClient: number
  originClock: number
  hasOrigin: boolean
  rightClient: number
  rightClock: number
  hasRight: boolean
  parentClient: number
  parentClock: number
  hasParentId: boolean
}

const BITS5 = 31
const BIT6 = 32
const BIT7 = 64
const BIT8 = 128
const SKIP = 10
// Yjs' typeRefs: YArray, YMap, YText, YXmlElement, YXmlFragment, YXmlHook, YXmlText.
const TYPE_REF_COUNT = 7
const XML_ELEMENT = 3
const XML_HOOK = 5

/** Mirrors Yjs' contentRefs: a content reader per ref, returning the item's length. */
function readContentLength(decoder: decoding.Decoder, info: number): number {
  switch (info & BITS5) {
    case 1: // ContentDeleted
      return decoding.readVarUint(decoder)
    case 2: {
      // ContentJSON: Yjs parses every entry, and throws on what JSON.parse throws on.
      const length = decoding.readVarUint(decoder)
      for (let i = 0; i < length; i++) {
        const entry = decoding.readVarString(decoder)
        if (entry !== 'undefined') JSON.parse(entry)
      }
      return length
    }
    case 3: // ContentBinary
      decoding.readVarUint8Array(decoder)
      return 1
    case 4: // ContentString: the length is in UTF-16 code units
      return decoding.readVarString(decoder).length
    case 5: // ContentEmbed
      JSON.parse(decoding.readVarString(decoder))
      return 1
    case 6: // ContentFormat: key, then a JSON value
      decoding.readVarString(decoder)
      JSON.parse(decoding.readVarString(decoder))
      return 1
    case 7: {
      // ContentType
      const typeRef = decoding.readVarUint(decoder)
      if (typeRef >= TYPE_REF_COUNT) throw new TypeError(`unknown type ref ${typeRef}`)
      if (typeRef === XML_ELEMENT || typeRef === XML_HOOK) decoding.readVarString(decoder)
      return 1
    }
    case 8: {
      // ContentAny
      const length = decoding.readVarUint(decoder)
      for (let i = 0; i < length; i++) decoding.readAny(decoder)
      return length
    }
    case 9: {
      // ContentDoc: a guid and options; Yjs reads `opts.shouldLoad`, which throws on null.
      decoding.readVarString(decoder)
      const options: unknown = decoding.readAny(decoder)
      if (options === null || options === undefined) throw new TypeError('subdocument options are null')
      return 1
    }
    default:
      // 0 (GC) and 10 (Skip) are not item content; 11-31 do not exist.
      throw new Error(`unexpected content ref ${info & BITS5}`)
  }
}

export interface WalkResult {
  /** The visitor returned false; the rest was not read. */
  readonly stopped: boolean
  /** The delete set names at least one deletion. */
  readonly hasDeletes: boolean
  /**
   * A delete range Yjs reads but clients choke on: of length 0, past the safe integers,
   * or starting before the end of an earlier range of the same client (Yjs writes each
   * client's ranges sorted and merged; a `Y.Doc` that holds unsorted ones pending loses a
   * deletion that `Y.mergeUpdates` keeps, which split a room in the fuzz test).
   */
  readonly badDeleteRange: boolean
  /**
   * A client id past the safe integers (Yjs makes 32-bit ones; lib0 reads such an id,
   * and every later update applied next to it throws "Integer out of Range").
   */
  readonly badClient: boolean
  /**
   * Items that continue the item before them as a `Y.Doc` would join them: the same
   * client, the next clock, the previous character as origin, the same right origin and
   * the same kind of content. A `Y.Doc`'s encoding has next to none; `Y.mergeUpdates` of
   * typed keystrokes has one per keystroke. How far an update is from compact.
   */
  readonly joinableStructs: number
}

// Content kinds whose runs a Y.Doc joins into one item: deleted, JSON, string, any.
const JOINABLE_CONTENT = (1 << 1) | (1 << 2) | (1 << 4) | (1 << 8)

/** Throws where Yjs' decoder would throw. */
export function walkUpdate(update: Uint8Array, onStruct: StructVisitor): WalkResult {
  const decoder = decoding.createDecoder(update)
  const refs: ItemRefs = {
    originClient: 0,
    originClock: 0,
    hasOrigin: false,
    rightClient: 0,
    rightClock: 0,
    hasRight: false,
    parentClient: 0,
    parentClock: 0,
    hasParentId: false
  }
  let joinableStructs = 0
  // The struct read before, if it was an item: where it ended, its content kind and its
  // right origin.
  let previousClient = -1
  let previousEnd = -1
  let previousContent = -1
  let previousHasRight = false
  let previousRightClient = 0
  let previousRightClock = 0
  const sections = decoding.readVarUint(decoder)
  for (let section = 0; section < sections; section++) {
    const structs = decoding.readVarUint(decoder)
    const client = decoding.readVarUint(decoder)
    if (!Number.isSafeInteger(client)) return { stopped: false, hasDeletes: false, badDeleteRange: false, badClient: true, joinableStructs }
    let clock = decoding.readVarUint(decoder)
    for (let i = 0; i < structs; i++) {
      // readUint8 past the end yields undefined, which Yjs then reads as a GC struct.
      const info = decoding.readUint8(decoder) as number | undefined
      let length: number
      let itemRefs: ItemRefs | null = null
      if (info === SKIP) {
        length = decoding.readVarUint(decoder)
      } else if (info !== undefined && (info & BITS5) !== 0) {
        refs.hasOrigin = (info & BIT8) === BIT8
        if (refs.hasOrigin) {
          refs.originClient = decoding.readVarUint(decoder)
          refs.originClock = decoding.readVarUint(decoder)
        }
        refs.hasRight = (info & BIT7) === BIT7
        if (refs.hasRight) {
          refs.rightClient = decoding.readVarUint(decoder)
          refs.rightClock = decoding.readVarUint(decoder)
        }
        refs.hasParentId = false
        if ((info & (BIT7 | BIT8)) === 0) {
          if (decoding.readVarUint(decoder) === 1) {
            decoding.readVarString(decoder)
          } else {
            refs.hasParentId = true
            refs.parentClient = decoding.readVarUint(decoder)
            refs.parentClock = decoding.readVarUint(decoder)
          }
          if ((info & BIT6) === BIT6) decoding.readVarString(decoder)
        }
        length = readContentLength(decoder, info)
        itemRefs = refs
        const content = info & BITS5
        if (
          client === previousClient &&
          clock === previousEnd &&
          content === previousContent &&
          (JOINABLE_CONTENT & (1 << content)) !== 0 &&
          refs.hasOrigin &&
          refs.originClient === client &&
          refs.originClock === clock - 1 &&
          refs.hasRight === previousHasRight &&
          (!refs.hasRight || (refs.rightClient === previousRightClient && refs.rightClock === previousRightClock))
        ) {
          joinableStructs++
        }
        previousContent = content
        previousHasRight = refs.hasRight
        previousRightClient = refs.rightClient
        previousRightClock = refs.rightClock
      } else {
        length = decoding.readVarUint(decoder)
        previousContent = -1
      }
      if (!onStruct(client, clock, length, itemRefs)) return { stopped: true, hasDeletes: false, badDeleteRange: false, badClient: false, joinableStructs }
      clock += length
      previousClient = client
      previousEnd = clock
    }
  }
  let hasDeletes = false
  // End of the last range read per client: each must start at or after it. A client is
  // listed once in what Yjs writes; the map is only made if a second entry comes.
  let deletedUpTo: Map<number, number> | null = null
  let firstClient = -1
  let firstClientEnd = 0
  const deleteClients = decoding.readVarUint(decoder)
  for (let i = 0; i < deleteClients; i++) {
    const client = decoding.readVarUint(decoder)
    if (!Number.isSafeInteger(client)) return { stopped: false, hasDeletes, badDeleteRange: false, badClient: true, joinableStructs }
    const deletes = decoding.readVarUint(decoder)
    if (deletes > 0) hasDeletes = true
    if (i === 1) deletedUpTo = new Map([[firstClient, firstClientEnd]])
    let end = i === 0 ? 0 : (deletedUpTo?.get(client) ?? 0)
    for (let d = 0; d < deletes; d++) {
      const clock = decoding.readVarUint(decoder)
      const length = decoding.readVarUint(decoder)
      if (!(length > 0) || !Number.isSafeInteger(clock + length) || clock < end) return { stopped: false, hasDeletes, badDeleteRange: true, badClient: false, joinableStructs }
      end = clock + length
    }
    if (i === 0) {
      firstClient = client
      firstClientEnd = end
    } else deletedUpTo?.set(client, end)
  }
  return { stopped: false, hasDeletes, badDeleteRange: false, badClient: false, joinableStructs }
}
