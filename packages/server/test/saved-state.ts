import * as Y from 'yjs'
import type { Message } from '@quire/protocol'

/**
 * What a writer has been told is durable, folded from its `quire-saved` messages: the
 * highest acknowledged clock per client id, and the acknowledged deletions as ranges.
 * (The same bookkeeping a Quire client does to show "All changes saved".)
 */
export interface SavedState {
  readonly clocks: Map<number, number>
  readonly deleted: Map<number, [start: number, end: number][]>
}

export function foldSaved(messages: readonly Message[]): SavedState {
  const clocks = new Map<number, number>()
  const deleted = new Map<number, [number, number][]>()
  for (const message of messages) {
    if (message.type !== 'quire-saved') continue
    for (const [client, clock] of Y.decodeStateVector(message.stateVector)) {
      clocks.set(client, Math.max(clocks.get(client) ?? 0, clock))
    }
    for (const [client, items] of Y.decodeUpdate(message.deleteSet).ds.clients) {
      const ranges = deleted.get(client) ?? []
      for (const item of items) ranges.push([item.clock, item.clock + item.len])
      deleted.set(client, ranges)
    }
  }
  return { clocks, deleted }
}

/** Deleted ranges of a doc per client, merged. */
function deletedRanges(doc: Y.Doc): Map<number, [number, number][]> {
  const out = new Map<number, [number, number][]>()
  for (const [client, items] of Y.snapshot(doc).ds.clients) {
    out.set(client, items.map((item) => [item.clock, item.clock + item.len]))
  }
  return out
}

function covers(ranges: readonly [number, number][], start: number, end: number): boolean {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0])
  let reached = start
  for (const [s, e] of sorted) {
    if (s > reached) break
    reached = Math.max(reached, e)
    if (reached >= end) return true
  }
  return reached >= end
}

/** Is everything `doc` holds (its structs and its deletions) acknowledged? */
export function isSaved(doc: Y.Doc, saved: SavedState): boolean {
  return describeUnsaved(doc, saved) === null
}

/**
 * What of `doc` is not covered by `saved`, or null. With `onlyClient`, only the structs
 * of that client id count (a writer is acknowledged for what it sent, not for what it
 * received from others), and deletions are not checked.
 */
export function describeUnsaved(doc: Y.Doc, saved: SavedState, onlyClient?: number): string | null {
  for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(doc))) {
    if (onlyClient !== undefined && client !== onlyClient) continue
    const acked = saved.clocks.get(client) ?? 0
    if (acked < clock) return `client ${client}: clock ${clock} written, ${acked} acknowledged`
  }
  if (onlyClient !== undefined) return null
  for (const [client, ranges] of deletedRanges(doc)) {
    for (const [start, end] of ranges) {
      if (!covers(saved.deleted.get(client) ?? [], start, end)) return `client ${client}: deletion ${start}..${end} not acknowledged`
    }
  }
  return null
}

/** What of the acknowledged state is missing from `stored`, or null when it holds all of it. */
export function describeLostAcknowledged(stored: Y.Doc, saved: SavedState): string | null {
  const storedClocks = Y.decodeStateVector(Y.encodeStateVector(stored))
  for (const [client, clock] of saved.clocks) {
    const has = storedClocks.get(client) ?? 0
    if (has < clock) return `client ${client}: acknowledged up to clock ${clock}, stored only up to ${has}`
  }
  const storedDeleted = deletedRanges(stored)
  for (const [client, ranges] of saved.deleted) {
    for (const [start, end] of ranges) {
      if (!covers(storedDeleted.get(client) ?? [], start, end)) return `client ${client}: acknowledged deletion ${start}..${end} is not stored`
    }
  }
  return null
}
