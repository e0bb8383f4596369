import * as Y from 'yjs'
import { mergeUpdates } from './merge-updates.js'

/**
 * A document held the thin way: merged updates plus the small updates that arrived
 * since, merged lazily (only when a sync reply needs the whole state, or when the tail
 * grows long). No Y.Doc is built, so memory stays close to the encoded size.
 */
export interface EncodedState {
  append(update: Uint8Array): void
  /** The whole document as one update. */
  snapshot(): Uint8Array
  /** The document's state vector (encoded). */
  stateVector(): Uint8Array
  /** What a peer holding `stateVector` lacks: the payload of a sync step 2 reply. */
  diff(stateVector: Uint8Array): Uint8Array
  /** Merges the recent updates into the base now, if there are any (when the room goes quiet). */
  fold(): void
  /** Swaps everything for `snapshot` (after a compaction of exactly this state). */
  reset(snapshot: Uint8Array): void
  /** Encoded bytes held, for metrics and eviction decisions. */
  byteLength(): number
}

/** The tail is merged into a chunk once it holds this many bytes and at least as many as the chunks. */
const MIN_TAIL_MERGE_BYTES = 256 * 1024

const EMPTY_STATE_VECTOR_LENGTH = 1 // varUint(0)

/**
 * Recent updates, back to back in one growing buffer: an update costs its bytes and one
 * offset, not an object of its own, so a busy room can keep thousands unmerged.
 */
interface UpdateTail {
  push(update: Uint8Array): void
  /** Views of the updates, oldest first; valid until the next push or clear. */
  updates(): Uint8Array[]
  clear(): void
  readonly count: number
  readonly bytes: number
}

function createUpdateTail(): UpdateTail {
  let buffer = new Uint8Array(0)
  let ends: number[] = []
  let bytes = 0
  return {
    push(update) {
      if (bytes + update.byteLength > buffer.byteLength) {
        // Doubling, but the first update gets a buffer of its own size: most rooms hold
        // one upload or a few edits between folds.
        const grown = new Uint8Array(Math.max(bytes + update.byteLength, 2 * buffer.byteLength))
        grown.set(buffer.subarray(0, bytes))
        buffer = grown
      }
      buffer.set(update, bytes)
      bytes += update.byteLength
      ends.push(bytes)
    },
    updates() {
      let start = 0
      return ends.map((end) => {
        const view = buffer.subarray(start, end)
        start = end
        return view
      })
    },
    clear() {
      buffer = new Uint8Array(0)
      ends = []
      bytes = 0
    },
    get count() {
      return ends.length
    },
    get bytes() {
      return bytes
    }
  }
}

/**
 * The state is a few merged chunks, oldest first, plus the tail of recent updates. A
 * tail as large as the chunks is merged into a new chunk, and a chunk at least half the
 * size of the one before it is merged into that one: every byte is re-merged O(log n)
 * times while a room stays busy, where merging into one base every few hundred updates
 * re-merged the whole document each time (quadratic in a document that keeps growing).
 */
export function createEncodedState(initial: readonly Uint8Array[]): EncodedState {
  let chunks: Uint8Array[] = []
  let chunkBytes = 0
  const tail = createUpdateTail()
  for (const update of initial) tail.push(update)
  let cachedStateVector: Uint8Array | null = null

  const pushChunk = (chunk: Uint8Array): void => {
    chunks.push(chunk)
    chunkBytes += chunk.byteLength
    for (;;) {
      const last = chunks[chunks.length - 1]
      const previous = chunks[chunks.length - 2]
      if (!last || !previous || last.byteLength * 2 < previous.byteLength) return
      const merged = mergeUpdates([previous, last])
      chunks.splice(-2, 2, merged)
      chunkBytes += merged.byteLength - previous.byteLength - last.byteLength
    }
  }

  const merge = (): Uint8Array => {
    const only = chunks[0]
    if (only && chunks.length === 1 && tail.count === 0) return only
    const merged = mergeUpdates([...chunks, ...tail.updates()])
    // A lone tail update comes back as a view of the tail's buffer, which may be twice
    // its size: keep a tight copy instead.
    const whole = chunks.length === 0 && tail.count === 1 ? merged.slice() : merged
    chunks = [whole]
    chunkBytes = whole.byteLength
    tail.clear()
    return whole
  }

  return {
    append(update) {
      tail.push(update)
      cachedStateVector = null
      if (tail.bytes >= MIN_TAIL_MERGE_BYTES && tail.bytes >= chunkBytes) {
        const chunk = mergeUpdates(tail.updates())
        tail.clear()
        pushChunk(chunk)
      }
    },
    snapshot: merge,
    fold() {
      if (chunks.length + tail.count > 1) merge()
    },
    stateVector() {
      cachedStateVector ??= Y.encodeStateVectorFromUpdate(merge())
      return cachedStateVector
    },
    diff(stateVector) {
      const state = merge()
      // A fresh peer (empty state vector) needs everything: skip the re-encode.
      if (stateVector.byteLength <= EMPTY_STATE_VECTOR_LENGTH) return state
      return Y.diffUpdate(state, stateVector)
    },
    reset(snapshot) {
      chunks = [snapshot]
      chunkBytes = snapshot.byteLength
      tail.clear()
      cachedStateVector = null
    },
    byteLength() {
      return chunkBytes + tail.bytes
    }
  }
}
