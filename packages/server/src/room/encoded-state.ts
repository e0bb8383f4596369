import * as Y from 'yjs'
import { mergeUpdates } from './merge-updates.js'

/**
 * A document held the thin way: one merged base update plus the small updates that
 * arrived since, merged lazily (only when a sync reply needs the whole state, or when
 * the tail grows long). No Y.Doc is built, so memory stays close to the encoded size.
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

/** Past this many unmerged updates the tail is folded into the base even without a reader. */
const MAX_TAIL_UPDATES = 512

const EMPTY_STATE_VECTOR_LENGTH = 1 // varUint(0)

export function createEncodedState(initial: readonly Uint8Array[]): EncodedState {
  let base: Uint8Array | null = null
  let tail: Uint8Array[] = initial.slice()
  let tailBytes = tail.reduce((n, u) => n + u.byteLength, 0)
  let cachedStateVector: Uint8Array | null = null

  const merge = (): Uint8Array => {
    if (tail.length > 0 || base === null) {
      const parts = base === null ? tail : [base, ...tail]
      base = mergeUpdates(parts)
      tail = []
      tailBytes = 0
    }
    return base
  }

  return {
    append(update) {
      tail.push(update)
      tailBytes += update.byteLength
      cachedStateVector = null
      if (tail.length > MAX_TAIL_UPDATES) merge()
    },
    snapshot: merge,
    fold() {
      if (tail.length > 1 || (tail.length === 1 && base !== null)) merge()
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
      base = snapshot
      tail = []
      tailBytes = 0
      cachedStateVector = null
    },
    byteLength() {
      return (base?.byteLength ?? 0) + tailBytes
    }
  }
}
