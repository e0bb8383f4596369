// @ts-check
// Plain JavaScript, as compact-updates.js, so the worker thread loads it unbuilt.
import * as Y from 'yjs'

/**
 * `Y.Doc#toJSON()` of the document `update` holds: each top-level type as JSON. A doc
 * built from an update does not know which kind each top-level type was (the update does
 * not say; only `doc.get(name, Kind)` does), and `toJSON()` skips types it does not
 * know. So each one's kind is read from its content, as an application would have made
 * it: keys only, a map; XML elements or XML text, an XML fragment (its XML string);
 * strings or formatting, a text (its string); anything else in sequence, an array.
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
  const type = /** @type {Y.AbstractType<any>} */ (doc.share.get(name))
  let text = false
  let xml = false
  for (let item = type._start; item !== null; item = item.right) {
    const content = item.content
    if (content instanceof Y.ContentString || content instanceof Y.ContentFormat) text = true
    else if (content instanceof Y.ContentType && (content.type instanceof Y.XmlElement || content.type instanceof Y.XmlText)) xml = true
  }
  if (type._start === null) return type._map.size > 0 ? doc.getMap(name).toJSON() : {}
  if (xml) return doc.getXmlFragment(name).toJSON()
  if (text) return doc.getText(name).toJSON()
  return doc.getArray(name).toJSON()
}
