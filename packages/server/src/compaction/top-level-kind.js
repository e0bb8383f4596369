// @ts-check
// Plain JavaScript, as compact-updates.js, so the worker thread loads it unbuilt.
import * as Y from 'yjs'

/** @typedef {'map' | 'xml' | 'text' | 'array' | 'empty'} TopLevelKind */

/**
 * Which kind of shared type the top-level `name` of `doc` is. A doc built from an update
 * does not know (the update does not say; only `doc.get(name, Kind)` does), so it is read
 * from the content, as an application would have made it: keys only, a map; XML elements
 * or XML text, an XML fragment; strings or formatting, a text; anything else in sequence,
 * an array. 'empty' when nothing tells.
 *
 * @param {Y.Doc} doc
 * @param {string} name
 * @returns {TopLevelKind}
 */
export function topLevelKind(doc, name) {
  const type = doc.share.get(name)
  if (type === undefined) return 'empty'
  if (type instanceof Y.XmlFragment) return 'xml'
  if (type instanceof Y.Text) return 'text'
  if (type instanceof Y.Map) return 'map'
  if (type instanceof Y.Array) return 'array'
  let text = false
  let xml = false
  for (let item = type._start; item !== null; item = item.right) {
    const content = item.content
    if (content instanceof Y.ContentString || content instanceof Y.ContentFormat) text = true
    else if (content instanceof Y.ContentType && (content.type instanceof Y.XmlElement || content.type instanceof Y.XmlText)) xml = true
  }
  if (type._start === null) return type._map.size > 0 ? 'map' : 'empty'
  if (xml) return 'xml'
  if (text) return 'text'
  return 'array'
}

/**
 * The top-level `name` of `doc` as a shared type of `kind` (which makes it that kind).
 *
 * @param {Y.Doc} doc
 * @param {string} name
 * @param {Exclude<TopLevelKind, 'empty'>} kind
 * @returns {Y.XmlFragment | Y.Text | Y.Map<unknown> | Y.Array<unknown>}
 */
export function topLevelOfKind(doc, name, kind) {
  switch (kind) {
    case 'xml':
      return doc.getXmlFragment(name)
    case 'text':
      return doc.getText(name)
    case 'map':
      return doc.getMap(name)
    case 'array':
      return doc.getArray(name)
  }
}
