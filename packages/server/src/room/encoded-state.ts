import * as Y from 'yjs'
import { mergeUpdates } from './merge-updates.js'
import { retainable } from './retainable.js'

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
  /**
   * Per client, the end of the highest clock range held, gaps below it or not, read from
   * each part as it is: no merge (see update-guard.ts).
   */
  highestClocks(): Map<number, number>
  /**
   * The document as the updates it is held in now, oldest first, without merging them
   * (one update once merged): what a reader off the event loop applies in turn. The
   * arrays are never written again; copy them before transferring them.
   */
  parts(): Uint8Array[]
  /** What a peer holding `stateVector` lacks: the payload of a sync step 2 reply. */
  diff(stateVector: Uint8Array): Uint8Array
  /** Merges the recent updates into the base now, if there are any (when the room goes quiet). */
  fold(): void
  /**
   * Starts keeping every update appended from now on beside the state, for
   * `replaceUpToMark`: a compaction marks the state, then builds its snapshot from
   * storage off the event loop while the room goes on accepting updates.
   */
  mark(): void
  /**
   * Swaps the state for `snapshot` plus the updates appended since `mark`, and stops
   * keeping them. `snapshot` must hold at least everything the state held at `mark`
   * (what overlaps the later updates is harmless: merging skips known clocks).
   */
  replaceUpToMark(snapshot: Uint8Array): void
  /** Stops keeping updates for a replacement that will not happen (a failed compaction). */
  unmark(): void
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
class UpdateTail {
  private buffer: Uint8Array = new Uint8Array(0)
  private ends: number[] = []
  bytes = 0

  get count(): number {
    return this.ends.length
  }

  push(update: Uint8Array): void {
    if (this.ends.length === 0 && update.byteOffset === 0 && update.byteLength === update.buffer.byteLength) {
      // The first update is adopted as it is, uncopied: most rooms hold one upload or a
      // few edits between folds. A second update copies both into a buffer that doubles.
      this.buffer = update
      this.bytes = update.byteLength
      this.ends.push(this.bytes)
      return
    }
    const needed = this.bytes + update.byteLength
    if (needed > this.buffer.byteLength) {
      const grown = new Uint8Array(Math.max(needed, 2 * this.buffer.byteLength))
      grown.set(this.buffer.subarray(0, this.bytes))
      this.buffer = grown
    }
    this.buffer.set(update, this.bytes)
    this.bytes = needed
    this.ends.push(needed)
  }

  /**
   * Views of the updates, oldest first. A push writes only past the last update and a
   * clear or a growth moves on to another buffer, so a view keeps its bytes.
   */
  updates(): Uint8Array[] {
    let start = 0
    return this.ends.map((end) => {
      const view = this.buffer.subarray(start, end)
      start = end
      return view
    })
  }

  clear(): void {
    this.buffer = new Uint8Array(0)
    this.ends = []
    this.bytes = 0
  }
}

export function createEncodedState(initial: readonly Uint8Array[]): EncodedState {
  return new ChunkedState(initial)
}

/**
 * The state is a few merged chunks, oldest first, plus the tail of recent updates. A
 * tail as large as the chunks is merged into a new chunk, and a chunk at least half the
 * size of the one before it is merged into that one: every byte is re-merged O(log n)
 * times while a room stays busy, where merging into one base every few hundred updates
 * re-merged the whole document each time (quadratic in a document that keeps growing).
 * A class, not closures: there is one per open room, and prototype methods cost nothing
 * per room.
 */
class ChunkedState implements EncodedState {
  private chunks: Uint8Array[] = []
  private chunkBytes = 0
  private readonly tail = new UpdateTail()
  private cachedStateVector: Uint8Array | null = null
  // The last diff against a non-empty state vector, until the state changes (see diff()).
  private lastDiff: { readonly stateVector: Uint8Array; readonly update: Uint8Array } | null = null
  // The updates appended since mark(), or null when no replacement is pending. They are
  // the arrays the tail copied, kept only while a compaction runs.
  private sinceMark: Uint8Array[] | null = null

  constructor(initial: readonly Uint8Array[]) {
    for (const update of initial) this.tail.push(update)
  }

  append(update: Uint8Array): void {
    this.tail.push(update)
    this.sinceMark?.push(update)
    this.cachedStateVector = null
    this.lastDiff = null
    if (this.tail.bytes >= MIN_TAIL_MERGE_BYTES && this.tail.bytes >= this.chunkBytes) {
      const chunk = mergeUpdates(this.tail.updates())
      this.tail.clear()
      this.pushChunk(chunk)
    }
  }

  snapshot(): Uint8Array {
    return this.merge()
  }

  fold(): void {
    if (this.chunks.length + this.tail.count > 1) this.merge()
  }

  stateVector(): Uint8Array {
    this.cachedStateVector ??= Y.encodeStateVectorFromUpdate(this.merge())
    return this.cachedStateVector
  }

  highestClocks(): Map<number, number> {
    const highest = new Map<number, number>()
    for (const part of this.parts()) {
      for (const [client, end] of Y.parseUpdateMeta(part).to) {
        if (end > (highest.get(client) ?? 0)) highest.set(client, end)
      }
    }
    return highest
  }

  parts(): Uint8Array[] {
    return [...this.chunks, ...this.tail.updates()]
  }

  /**
   * A fresh peer (empty state vector) gets the merged state as it is, with no re-encode.
   * After a restart every client of a document comes back holding the same state vector
   * (they were all synced when the server died), so the last diff is kept until the state
   * changes: in a reconnect storm of 5,000 clients over 500 documents of 7 KiB
   * (`pnpm bench --scenario storm`) a diff per client was 8% of the server's CPU, and most
   * of its garbage. What it keeps is small: a peer that holds everything lacks only the
   * delete set, and a larger diff is not kept.
   */
  diff(stateVector: Uint8Array): Uint8Array {
    const state = this.merge()
    if (stateVector.byteLength <= EMPTY_STATE_VECTOR_LENGTH) return state
    const last = this.lastDiff
    if (last !== null && equalBytes(last.stateVector, stateVector)) return last.update
    const update = Y.diffUpdate(state, stateVector)
    // Kept only when small beside the state: an idle room must cost about its encoded size,
    // and a peer far behind (the one whose diff is large) is rarely followed by a twin.
    // A copy of the state vector: it may be a view of the frame it came in.
    this.lastDiff = update.byteLength <= state.byteLength / 4 ? { stateVector: stateVector.slice(), update } : null
    return update
  }

  mark(): void {
    this.sinceMark = []
  }

  replaceUpToMark(snapshot: Uint8Array): void {
    const since = this.sinceMark
    if (since === null) throw new Error('replaceUpToMark() without a mark()')
    this.sinceMark = null
    this.chunks = [snapshot]
    this.chunkBytes = snapshot.byteLength
    this.tail.clear()
    for (const update of since) this.tail.push(update)
    // The snapshot may hold more than the state did (updates stored by then), never less.
    this.cachedStateVector = null
    this.lastDiff = null
  }

  unmark(): void {
    this.sinceMark = null
  }

  byteLength(): number {
    return this.chunkBytes + this.tail.bytes
  }

  private pushChunk(chunk: Uint8Array): void {
    const { chunks } = this
    chunks.push(chunk)
    this.chunkBytes += chunk.byteLength
    for (;;) {
      const last = chunks[chunks.length - 1]
      const previous = chunks[chunks.length - 2]
      if (!last || !previous || last.byteLength * 2 < previous.byteLength) return
      const merged = mergeUpdates([previous, last])
      chunks.splice(-2, 2, merged)
      this.chunkBytes += merged.byteLength - previous.byteLength - last.byteLength
    }
  }

  private merge(): Uint8Array {
    const only = this.chunks[0]
    if (only && this.chunks.length === 1 && this.tail.count === 0) return only
    const merged = mergeUpdates([...this.chunks, ...this.tail.updates()])
    // A lone tail update comes back as it was adopted: possibly a view of the socket read
    // it arrived in, kept only when it fills most of that buffer (see retainable).
    const whole = retainable(merged)
    this.chunks = [whole]
    this.chunkBytes = whole.byteLength
    this.tail.clear()
    return whole
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
