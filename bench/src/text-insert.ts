import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'

/**
 * Hand-encoded Yjs updates for the load generator. A generator client does not
 * run a Y.Doc: every client appends fixed-length ASCII strings to its own
 * chain in the root text `TEXT_KEY`, so its n-th insert is the struct at clock
 * n * length whose left origin is its own previous character. Encoding that
 * takes a few bytes of arithmetic instead of a transaction, which keeps the
 * generator cheap enough to saturate a server on one core.
 *
 * The layout is Yjs' update format v1: clients, then for each client its
 * struct count, client id, first clock and the structs; then an empty delete
 * set. An Item's info byte carries the content ref (4 = string) and bit 8 when
 * a left origin follows. `checkTextInsertEncoding` proves this against Yjs.
 */

export const TEXT_KEY = 't'
const CONTENT_STRING = 4
const HAS_ORIGIN = 0x80

export function encodeTextInsert(client: number, clock: number, text: string): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 1)
  encoding.writeVarUint(encoder, 1)
  encoding.writeVarUint(encoder, client)
  encoding.writeVarUint(encoder, clock)
  if (clock === 0) {
    encoding.writeUint8(encoder, CONTENT_STRING)
    encoding.writeVarUint(encoder, 1)
    encoding.writeVarString(encoder, TEXT_KEY)
  } else {
    encoding.writeUint8(encoder, CONTENT_STRING | HAS_ORIGIN)
    encoding.writeVarUint(encoder, client)
    encoding.writeVarUint(encoder, clock - 1)
  }
  encoding.writeVarString(encoder, text)
  encoding.writeVarUint(encoder, 0)
  return encoding.toUint8Array(encoder)
}

/**
 * Calls `onRange(client, firstClock, endClock)` for every client whose structs
 * the update carries. One struct from one client (what every server but
 * Hocuspocus relays) is read from the header alone, given the fixed insert
 * length; merged updates fall back to Yjs' own parser.
 */
export function readUpdateRanges(
  update: Uint8Array,
  insertLength: number,
  onRange: (client: number, firstClock: number, endClock: number) => void
): void {
  const decoder = decoding.createDecoder(update)
  const clients = decoding.readVarUint(decoder)
  if (clients === 1 && decoding.readVarUint(decoder) === 1) {
    const client = decoding.readVarUint(decoder)
    const clock = decoding.readVarUint(decoder)
    onRange(client, clock, clock + insertLength)
    return
  }
  if (clients === 0) return
  const meta = Y.parseUpdateMeta(update)
  for (const [client, from] of meta.from) {
    onRange(client, from, meta.to.get(client) ?? from)
  }
}

/** Differential check of `encodeTextInsert` against a real Y.Doc; throws on mismatch. */
export function checkTextInsertEncoding(): void {
  const doc = new Y.Doc()
  const inserts = ['abcd', 'efgh', 'ijkl']
  const clients = [7, 123456789]
  for (let round = 0; round < inserts.length; round++) {
    for (const client of clients) {
      Y.applyUpdate(doc, encodeTextInsert(client, round * 4, inserts[round] as string))
    }
  }
  const text = doc.getText(TEXT_KEY).toString()
  if (text.length !== 24 || !text.includes('abcdefghijkl')) {
    throw new Error(`hand-encoded inserts do not apply as expected: ${JSON.stringify(text)}`)
  }
  const reference = new Y.Doc()
  reference.clientID = 7
  reference.getText(TEXT_KEY).insert(0, 'abcd')
  const expected = Y.encodeStateAsUpdate(reference)
  const ours = encodeTextInsert(7, 0, 'abcd')
  if (Buffer.compare(Buffer.from(expected), Buffer.from(ours)) !== 0) {
    throw new Error('hand-encoded insert differs from the Yjs encoding')
  }
  const ranges: number[] = []
  readUpdateRanges(Y.mergeUpdates([encodeTextInsert(7, 4, 'efgh'), encodeTextInsert(9, 0, 'wxyz')]), 4, (c, f, e) =>
    ranges.push(c, f, e)
  )
  if (ranges.join(',') !== '9,0,4,7,4,8' && ranges.join(',') !== '7,4,8,9,0,4') {
    throw new Error(`merged update ranges read wrongly: ${ranges.join(',')}`)
  }
}
