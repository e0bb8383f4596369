/**
 * Deleted clock ranges per client id, kept as sorted, disjoint, non-adjacent
 * half-open intervals `[start, end)`. A Yjs deletion adds no struct, so it never
 * moves a state vector; the only way to know that a deletion is durable is to
 * remember its ranges until an acknowledgement's delete set covers them.
 */
export type DeleteRanges = Map<number, Array<readonly [start: number, end: number]>>

/** Anything shaped like a Yjs `DeleteSet` (`Y.decodeUpdate(update).ds`, `transaction.deleteSet`). */
export interface DeleteSetLike {
  readonly clients: ReadonlyMap<number, ReadonlyArray<{ readonly clock: number; readonly len: number }>>
}

export function createDeleteRanges(): DeleteRanges {
  return new Map()
}

/** Sorted, merged copy of one client's `{ clock, len }` items (a transaction's delete set may be unsorted). */
function normalize(items: ReadonlyArray<{ readonly clock: number; readonly len: number }>): Array<[number, number]> {
  const sorted = items
    .filter((item) => item.len > 0)
    .map((item): [number, number] => [item.clock, item.clock + item.len])
    .sort((a, b) => a[0] - b[0])
  const out: Array<[number, number]> = []
  for (const range of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && range[0] <= last[1]) last[1] = Math.max(last[1], range[1])
    else out.push(range)
  }
  return out
}

/** Union of two sorted disjoint range lists, linear in their lengths. */
function unite(a: ReadonlyArray<readonly [number, number]>, b: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    const nextA = a[i]
    const nextB = b[j]
    let next: readonly [number, number]
    if (nextB === undefined || (nextA !== undefined && nextA[0] <= nextB[0])) {
      next = nextA as readonly [number, number]
      i++
    } else {
      next = nextB
      j++
    }
    const last = out[out.length - 1]
    if (last !== undefined && next[0] <= last[1]) last[1] = Math.max(last[1], next[1])
    else out.push([next[0], next[1]])
  }
  return out
}

/** `a` minus `b`, both sorted and disjoint, linear in their lengths. */
function subtract(a: ReadonlyArray<readonly [number, number]>, b: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let j = 0
  for (const [start, end] of a) {
    let cursor = start
    while (j < b.length && (b[j] as readonly [number, number])[1] <= cursor) j++
    let k = j
    while (cursor < end) {
      const cut = b[k]
      if (cut === undefined || cut[0] >= end) {
        out.push([cursor, end])
        break
      }
      if (cut[0] > cursor) out.push([cursor, cut[0]])
      cursor = Math.max(cursor, cut[1])
      k++
    }
  }
  return out
}

/** Adds every range of `deleteSet` to `ranges` (in place). */
export function addDeleteSet(ranges: DeleteRanges, deleteSet: DeleteSetLike): void {
  for (const [client, items] of deleteSet.clients) {
    const added = normalize(items)
    if (added.length === 0) continue
    ranges.set(client, unite(ranges.get(client) ?? [], added))
  }
}

/** Removes every range of `deleteSet` from `ranges` (in place). */
export function subtractDeleteSet(ranges: DeleteRanges, deleteSet: DeleteSetLike): void {
  for (const [client, items] of deleteSet.clients) {
    const current = ranges.get(client)
    if (current === undefined) continue
    const left = subtract(current, normalize(items))
    if (left.length === 0) ranges.delete(client)
    else ranges.set(client, left)
  }
}

export function isDeleteRangesEmpty(ranges: DeleteRanges): boolean {
  return ranges.size === 0
}
