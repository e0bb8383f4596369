// @ts-check
// Plain JavaScript (type-checked through JSDoc) so that the compaction worker can load
// it with no build step and no TypeScript loader, from source and from dist alike.
import * as Y from 'yjs'

/**
 * Folds a stored log into one snapshot: load every update into a garbage-collecting
 * Y.Doc and re-encode it. Deleted content shrinks to tombstone lengths and thousands of
 * small updates become one. Updates whose dependencies are missing stay pending in the
 * doc and are kept by the encoding, so nothing stored is dropped.
 *
 * @param {readonly Uint8Array[]} updates
 * @returns {Uint8Array}
 */
export function compactUpdates(updates) {
  const doc = new Y.Doc({ gc: true })
  doc.transact(() => {
    for (const update of updates) Y.applyUpdate(doc, update)
  })
  const snapshot = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return snapshot
}
