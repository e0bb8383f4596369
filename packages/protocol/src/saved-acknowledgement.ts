import * as Y from 'yjs'

/**
 * What a `quire-saved` message tells a writer about the updates it sent that are now
 * durable: for each client id the clock their structs reach (a state vector), and the
 * delete set they carry. Deletions must be acknowledged separately because a Yjs
 * deletion adds no struct, so it never moves a state vector.
 *
 * `update` is the merge of everything the writer sent in one committed batch.
 */
export function createSavedAcknowledgement(update: Uint8Array): { stateVector: Uint8Array; deleteSet: Uint8Array } {
  const { to } = Y.parseUpdateMeta(update)
  const stateVector = Y.encodeStateVector(to)
  // Diffing an update against its own end clocks drops every struct and keeps the delete set.
  const deleteSet = Y.diffUpdate(update, stateVector)
  return { stateVector, deleteSet }
}
