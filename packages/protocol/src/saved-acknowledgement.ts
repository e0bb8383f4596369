import * as Y from 'yjs'
import { updateMetaOf, type InspectedUpdate } from './validate-update.js'

/**
 * What a `quire-saved` message tells a writer about the updates it sent that are now
 * durable: for each client id the clock their structs reach (a state vector), and the
 * delete set they carry. Deletions must be acknowledged separately because a Yjs
 * deletion adds no struct, so it never moves a state vector.
 *
 * `updates` is everything the writer sent in one committed batch (or their merge). The
 * server passes them with what validation learned when they were decoded (their clock
 * ranges), so nothing is walked again; bare updates are walked here.
 */
export function createSavedAcknowledgement(updates: Uint8Array | readonly Uint8Array[] | readonly InspectedUpdate[]): { stateVector: Uint8Array; deleteSet: Uint8Array } {
  const list: readonly (Uint8Array | InspectedUpdate)[] = updates instanceof Uint8Array ? [updates] : updates
  const ends = new Map<number, number>()
  const deleting: Uint8Array[] = []
  for (const sent of list) {
    const { update, meta } = sent instanceof Uint8Array ? { update: sent, meta: updateMetaOf(sent) } : sent
    const { ranges, hasDeletes } = meta
    for (let i = 0; i < ranges.length; i += 3) {
      const client = ranges[i] as number
      const end = ranges[i + 2] as number
      if (end > (ends.get(client) ?? 0)) ends.set(client, end)
    }
    if (hasDeletes) deleting.push(update)
  }
  const stateVector = Y.encodeStateVector(ends)
  // Diffing an update against end clocks it does not pass drops every struct and keeps
  // the delete set; only updates that delete need it.
  const deleteSets = deleting.map((update) => Y.diffUpdate(update, stateVector))
  const deleteSet = deleteSets.length === 0 ? Uint8Array.of(0, 0) : deleteSets.length === 1 ? (deleteSets[0] as Uint8Array) : Y.mergeUpdates(deleteSets)
  return { stateVector, deleteSet }
}
