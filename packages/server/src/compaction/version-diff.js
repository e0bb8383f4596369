// @ts-check
// Plain JavaScript, as compact-updates.js, so the worker thread loads it unbuilt.
import * as Y from 'yjs'

/**
 * The Y.Doc work of recording a version (see history/version-history.ts), in the worker.
 *
 * A version is stored as the update that turns the previous version's state into its
 * own, made by a Y.Doc: the previous state is rebuilt from its chain (a checkpoint and
 * the diffs after it), the current document is applied to it in one transaction, and
 * that transaction's own update is the diff. It holds only the structs new since the
 * previous version and only the deletions made since (`Y.encodeStateAsUpdate(doc, sv)`
 * would repeat the whole delete set in every version: on a long document edited a
 * little that set is most of the bytes). The same transaction tells the summary:
 * characters of text inserted (still there) and deleted since the previous version.
 *
 * The previous doc keeps deleted content (gc off) so that a deletion can still be counted
 * as characters of text; the checkpoint is encoded from a garbage-collecting doc.
 *
 * @param {readonly Uint8Array[]} chain the previous version's chain, oldest first (empty: no previous version)
 * @param {Uint8Array} current the document now, as one update
 * @param {boolean} checkpoint store the whole state rather than a diff
 * @returns {{ update: Uint8Array, changed: boolean, inserted: number, deleted: number }}
 */
export function versionDiff(chain, current, checkpoint) {
  const previous = new Y.Doc({ gc: false })
  try {
    for (const update of chain) Y.applyUpdate(previous, update)
    /** @type {Uint8Array | null} */
    let diff = null
    let inserted = 0
    let deleted = 0
    previous.on('afterTransaction', (/** @type {Y.Transaction} */ transaction) => {
      const before = transaction.beforeState
      Y.iterateDeletedStructs(transaction, transaction.deleteSet, (struct) => {
        // Only what the previous version had: content both made and deleted since counts as neither.
        if (struct.id.clock < (before.get(struct.id.client) ?? 0)) deleted += textLength(struct)
      })
      for (const [client, structs] of previous.store.clients) {
        const from = before.get(client) ?? 0
        for (let i = structs.length - 1; i >= 0; i--) {
          const struct = /** @type {Y.Item | Y.GC} */ (structs[i])
          if (struct.id.clock + struct.length <= from) break
          if (!struct.deleted) inserted += textLength(struct)
        }
      }
    })
    previous.on('update', (/** @type {Uint8Array} */ update) => {
      diff = update
    })
    Y.applyUpdate(previous, current)
    const changed = diff !== null
    if (checkpoint || chain.length === 0) return { update: compactState(current), changed, inserted, deleted }
    return { update: diff ?? Y.encodeStateAsUpdate(new Y.Doc()), changed, inserted, deleted }
  } finally {
    previous.destroy()
  }
}

/**
 * The document at a version: its chain applied in order, encoded as one update.
 *
 * @param {readonly Uint8Array[]} chain
 * @returns {Uint8Array}
 */
export function versionContent(chain) {
  const doc = new Y.Doc({ gc: true })
  try {
    doc.transact(() => {
      for (const update of chain) Y.applyUpdate(doc, update)
    })
    return Y.encodeStateAsUpdate(doc)
  } finally {
    doc.destroy()
  }
}

/** @param {Uint8Array} update */
function compactState(update) {
  return versionContent([update])
}

/**
 * Characters of text a struct holds (an embed counts one), 0 for anything else. Only a
 * text's insertions make string and embed content (an array's strings are JSON content),
 * and a top-level text built from an update is not a Y.Text until someone asks for it.
 *
 * @param {Y.Item | Y.GC} struct
 */
function textLength(struct) {
  if (!(struct instanceof Y.Item)) return 0
  if (struct.content instanceof Y.ContentString) return struct.length
  if (struct.content instanceof Y.ContentEmbed) return 1
  return 0
}
