// @ts-check
// Plain JavaScript, as compact-updates.js, so the worker thread loads it unbuilt.
import * as Y from 'yjs'
import { topLevelKind, topLevelOfKind } from './top-level-kind.js'

/**
 * `Y.Doc#toJSON()` of the document `update` holds: each top-level type as JSON. A doc
 * built from an update does not know which kind each top-level type was, and `toJSON()`
 * skips types it does not know, so each one's kind is read from its content
 * (top-level-kind.js): an XML fragment as its XML string, a text as its string.
 *
 * @param {Uint8Array} update
 * @returns {string}
 */
export function documentJson(update) {
  const doc = new Y.Doc({ gc: true })
  try {
    Y.applyUpdate(doc, update)
    /** @type {Record<string, unknown>} */
    const json = {}
    for (const name of [...doc.share.keys()]) json[name] = topLevelJson(doc, name)
    return JSON.stringify(json)
  } finally {
    doc.destroy()
  }
}

/**
 * @param {Y.Doc} doc
 * @param {string} name
 */
function topLevelJson(doc, name) {
  const kind = topLevelKind(doc, name)
  return kind === 'empty' ? {} : topLevelOfKind(doc, name, kind).toJSON()
}
