// @ts-check
// Plain JavaScript, as compact-updates.js, so the worker thread loads it unbuilt.
import * as Y from 'yjs'
import fastDiff from 'fast-diff'
import { topLevelKind, topLevelOfKind } from './top-level-kind.js'

/**
 * Restoring a version never rewrites history: this computes the forward update that
 * turns the current document into the version's content, made by editing a Y.Doc of the
 * current document in one transaction. The server accepts it like any edit, so every
 * client, online or offline, merges it.
 *
 * The edit is a structural diff at the Yjs level, with no schema: what is the same in
 * both stays the same Yjs items, so an offline client's later edits inside an unchanged
 * paragraph (or an unchanged run of text inside a changed one) still land where they
 * were made. y-prosemirror's `updateYFragment` does this for ProseMirror documents, but
 * it needs the editor's schema (a node the schema lacks is dropped) and covers only XML
 * fragments; this covers every shared type:
 *
 * - sequences (XML fragments and elements' children, arrays): children whose whole
 *   content is equal are matched by a sequence diff (fast-diff over one character per
 *   distinct child) and left alone; between matches, a child of the same kind (same
 *   element name) is edited in place, recursively; the rest are deleted or inserted
 *   (copies of the version's children);
 * - texts (Y.Text, Y.XmlText): a character diff of the two texts (fast-diff), embeds as
 *   one character each; unchanged characters keep their items, and where their
 *   formatting differs it is set to the version's (from `toDelta()`);
 * - maps and element attributes: keys set, changed or removed, Y values edited in place
 *   when both sides hold the same kind.
 *
 * @param {Uint8Array} current the document now
 * @param {Uint8Array} target the version's content
 * @returns {Uint8Array} the forward update (an empty update when nothing differs)
 */
export function restoreUpdate(current, target) {
  const doc = new Y.Doc({ gc: true })
  const version = new Y.Doc({ gc: true })
  try {
    Y.applyUpdate(doc, current)
    Y.applyUpdate(version, target)
    /** @type {Uint8Array | null} */
    let update = null
    doc.on('update', (/** @type {Uint8Array} */ u) => {
      update = u
    })
    doc.transact(() => {
      const names = new Set([...doc.share.keys(), ...version.share.keys()])
      for (const name of names) {
        const ours = topLevelKind(doc, name)
        const theirs = topLevelKind(version, name)
        const kind = theirs !== 'empty' ? theirs : ours
        if (kind === 'empty') continue
        // A top-level type of another kind now than in the version: its content cannot be
        // turned into the other kind in place (Yjs fixes a top-level type's kind); cleared.
        if (ours !== 'empty' && ours !== kind) {
          clearType(topLevelOfKind(doc, name, ours))
          continue
        }
        restoreType(topLevelOfKind(doc, name, kind), topLevelOfKind(version, name, kind))
      }
    })
    return update ?? Y.encodeStateAsUpdate(new Y.Doc())
  } finally {
    doc.destroy()
    version.destroy()
  }
}

/**
 * Makes `ours` hold what `theirs` holds (both of the same kind).
 *
 * @param {Y.AbstractType<any>} ours
 * @param {Y.AbstractType<any>} theirs
 */
function restoreType(ours, theirs) {
  if (ours instanceof Y.Text && theirs instanceof Y.Text) {
    if (ours instanceof Y.XmlText && theirs instanceof Y.XmlText) restoreAttributes(ours, theirs)
    restoreText(ours, theirs)
  } else if (ours instanceof Y.XmlElement && theirs instanceof Y.XmlElement) {
    restoreAttributes(ours, theirs)
    restoreSequence(ours, theirs)
  } else if (ours instanceof Y.XmlFragment && theirs instanceof Y.XmlFragment) {
    restoreSequence(ours, theirs)
  } else if (ours instanceof Y.Array && theirs instanceof Y.Array) {
    restoreSequence(ours, theirs)
  } else if (ours instanceof Y.Map && theirs instanceof Y.Map) {
    restoreMap(ours, theirs)
  }
}

/** @param {Y.AbstractType<any>} type */
function clearType(type) {
  if (type instanceof Y.Map) for (const key of [...type.keys()]) type.delete(key)
  else if (type instanceof Y.Text) type.delete(0, type.length)
  else if (type instanceof Y.Array || type instanceof Y.XmlFragment) type.delete(0, type.length)
}

/**
 * What kind of thing a value of a map, an array or an XML node's child is: two children
 * of the same kind are edited in place rather than replaced.
 *
 * @param {unknown} value
 * @returns {string | null} null for a plain value (replaced when it differs)
 */
function kindOf(value) {
  if (value instanceof Y.XmlElement) return `element:${value.nodeName}`
  if (value instanceof Y.XmlText) return 'xml-text'
  if (value instanceof Y.XmlHook) return null
  if (value instanceof Y.XmlFragment) return 'fragment'
  if (value instanceof Y.Text) return 'text'
  if (value instanceof Y.Array) return 'array'
  if (value instanceof Y.Map) return 'map'
  return null
}

/**
 * The whole content of a value as a string: two values with the same key hold the same.
 *
 * @param {unknown} value
 * @returns {string}
 */
function contentKey(value) {
  if (value instanceof Y.XmlElement) return `e${value.toString()}`
  if (value instanceof Y.XmlText) return `x${JSON.stringify([value.getAttributes(), value.toDelta()])}`
  if (value instanceof Y.Text) return `t${JSON.stringify(value.toDelta())}`
  if (value instanceof Y.AbstractType) return `${kindOf(value) ?? 'y'}${JSON.stringify(value.toJSON())}`
  return `v${JSON.stringify(value ?? null)}`
}

/**
 * The text a value holds, without markup: what tells two paragraphs alike.
 *
 * @param {unknown} value
 * @returns {string}
 */
function plainTextOf(value) {
  if (value instanceof Y.Text) return value.toDelta().map((/** @type {{ insert: unknown }} */ op) => (typeof op.insert === 'string' ? op.insert : '')).join('')
  if (value instanceof Y.XmlElement || value instanceof Y.XmlFragment) return value.toArray().map(plainTextOf).join('\n')
  return contentKey(value)
}

/**
 * A copy of `value` for `ours`' document: shared types are cloned (a type belongs to one
 * document), plain values go as they are.
 *
 * @param {unknown} value
 */
function copyOf(value) {
  return value instanceof Y.AbstractType ? /** @type {any} */ (value).clone() : value
}

/**
 * The children of a sequence type.
 *
 * @param {Y.Array<unknown> | Y.XmlFragment} type
 * @returns {unknown[]}
 */
function childrenOf(type) {
  return type.toArray()
}

/**
 * @param {Y.Array<unknown> | Y.XmlFragment} ours
 * @param {Y.Array<unknown> | Y.XmlFragment} theirs
 */
function restoreSequence(ours, theirs) {
  const before = childrenOf(ours)
  const after = childrenOf(theirs)
  const encoded = encodeAsCharacters(before.map(contentKey), after.map(contentKey))
  let index = 0
  let gapOurs = /** @type {unknown[]} */ ([])
  let gapTheirs = /** @type {unknown[]} */ ([])
  let read = 0
  let readTheirs = 0
  const flushGap = () => {
    index = restoreGap(ours, index, gapOurs, gapTheirs)
    gapOurs = []
    gapTheirs = []
  }
  for (const [op, chars] of sequenceDiff(encoded)) {
    if (op === 0) {
      flushGap()
      index += chars
      read += chars
      readTheirs += chars
    } else if (op === -1) {
      gapOurs.push(...before.slice(read, read + chars))
      read += chars
    } else {
      gapTheirs.push(...after.slice(readTheirs, readTheirs + chars))
      readTheirs += chars
    }
  }
  flushGap()
}

/**
 * Between two matched children: `gapOurs` (at `index` in `ours`) become `gapTheirs`.
 * Children are paired (see pairChildren) and each pair edited in place; the others are
 * deleted or inserted. Returns the index after the gap.
 *
 * @param {Y.Array<unknown> | Y.XmlFragment} ours
 * @param {number} index
 * @param {unknown[]} gapOurs
 * @param {unknown[]} gapTheirs
 */
function restoreGap(ours, index, gapOurs, gapTheirs) {
  let i = 0
  let j = 0
  /** @type {Array<[number, number]>} */
  const stops = [...pairChildren(gapOurs, gapTheirs), [gapOurs.length, gapTheirs.length]]
  for (const [pi, pj] of stops) {
    if (pi > i) ours.delete(index, pi - i)
    i = pi
    for (; j < pj; j++) ours.insert(index++, [/** @type {any} */ (copyOf(gapTheirs[j]))])
    if (i < gapOurs.length && j < gapTheirs.length) {
      restoreType(/** @type {Y.AbstractType<any>} */ (gapOurs[i]), /** @type {Y.AbstractType<any>} */ (gapTheirs[j]))
      i++
      j++
      index++
    }
  }
  return index
}

/** A gap this small is paired by similarity; a larger one in order, by kind. */
const MAX_PAIRING_CELLS = 2500
/**
 * Two children are not paired unless this part of the shorter one's text is found in the
 * other: a pairing of two that have little in common would only move offline edits to
 * the wrong place. The shorter one, because a paragraph typed on since the version (or
 * cut short) is the same paragraph however much it grew or shrank; measured against the
 * longer, one that more than doubled was replaced, and an offline edit inside it was lost
 * with the deleted element. Common text is counted after a semantic cleanup of the diff,
 * so letters two unrelated texts share by chance do not count.
 */
const MIN_SIMILARITY = 0.5

/**
 * Which children of a gap to edit into which: pairs (index in `mine`, index in `wanted`),
 * in order, each of one kind (same element name). For a small gap, the order-keeping
 * pairing with the most content in common (a dynamic program over the similarity of
 * each two, by a character diff of their content): a paragraph that was edited pairs
 * with what it was, not with whichever comes first. Similarity is measured on the text
 * alone (element names and formatting tags would make every two paragraphs look alike).
 * For a large gap, in order.
 *
 * @param {unknown[]} mine
 * @param {unknown[]} wanted
 * @returns {Array<[number, number]>}
 */
function pairChildren(mine, wanted) {
  const n = mine.length
  const m = wanted.length
  if (n === 0 || m === 0) return []
  if (n * m > MAX_PAIRING_CELLS) {
    /** @type {Array<[number, number]>} */
    const pairs = []
    for (let k = 0; k < Math.min(n, m); k++) if (kindOf(mine[k]) !== null && kindOf(mine[k]) === kindOf(wanted[k])) pairs.push([k, k])
    return pairs
  }
  const keysMine = mine.map(plainTextOf)
  const keysWanted = wanted.map(plainTextOf)
  /** @param {number} a @param {number} b */
  const similarity = (a, b) => {
    const kind = kindOf(mine[a])
    if (kind === null || kind !== kindOf(wanted[b])) return 0
    const x = /** @type {string} */ (keysMine[a])
    const y = /** @type {string} */ (keysWanted[b])
    let same = 0
    for (const [op, text] of fastDiff(x, y, undefined, true)) if (op === 0) same += text.length
    if (same / Math.max(Math.min(x.length, y.length), 1) < MIN_SIMILARITY) return 0
    // Among candidates that qualify, the closer in size wins (it is in (0, 1]).
    return same / Math.max(x.length, y.length, 1)
  }
  // best[a][b]: the most similarity pairing mine[a..] with wanted[b..] can reach.
  const best = Array.from({ length: n + 1 }, () => new Float64Array(m + 1))
  const sims = Array.from({ length: n }, () => new Float64Array(m))
  for (let a = n - 1; a >= 0; a--) {
    for (let b = m - 1; b >= 0; b--) {
      const sim = similarity(a, b)
      const row = /** @type {Float64Array} */ (best[a])
      const below = /** @type {Float64Array} */ (best[a + 1])
      const simRow = /** @type {Float64Array} */ (sims[a])
      simRow[b] = sim
      row[b] = Math.max(below[b] ?? 0, row[b + 1] ?? 0, sim > 0 ? sim + (below[b + 1] ?? 0) : 0)
    }
  }
  /** @type {Array<[number, number]>} */
  const pairs = []
  let a = 0
  let b = 0
  while (a < n && b < m) {
    const here = /** @type {Float64Array} */ (best[a])[b] ?? 0
    const sim = /** @type {Float64Array} */ (sims[a])[b] ?? 0
    if (sim > 0 && here === sim + (/** @type {Float64Array} */ (best[a + 1])[b + 1] ?? 0)) {
      pairs.push([a, b])
      a++
      b++
    } else if (here === (/** @type {Float64Array} */ (best[a + 1])[b] ?? 0)) a++
    else b++
  }
  return pairs
}

/**
 * Each distinct key as one character (skipping surrogates, which fast-diff keeps in
 * pairs), so that a sequence diff of children is a string diff. Past 63,488 distinct
 * children nothing is matched: every child differs (still correct, not minimal).
 *
 * @param {string[]} before
 * @param {string[]} after
 */
function encodeAsCharacters(before, after) {
  /** @type {Map<string, string>} */
  const chars = new Map()
  let overflow = false
  const charOf = (/** @type {string} */ key) => {
    let char = chars.get(key)
    if (char === undefined) {
      const n = chars.size
      if (n >= 0xf800) {
        overflow = true
        return '\u0000'
      }
      char = String.fromCharCode(n < 0xd800 ? n : n + 0x800)
      chars.set(key, char)
    }
    return char
  }
  const a = before.map(charOf).join('')
  const b = after.map(charOf).join('')
  return { a, b, overflow }
}

/**
 * @param {{ a: string, b: string, overflow: boolean }} encoded
 * @returns {Array<[-1 | 0 | 1, number]>} runs of (delete, equal, insert) with their lengths
 */
function sequenceDiff({ a, b, overflow }) {
  if (overflow) return [[-1, a.length], [1, b.length]]
  return fastDiff(a, b).map(([op, text]) => [op, text.length])
}

/**
 * @param {Y.Map<unknown>} ours
 * @param {Y.Map<unknown>} theirs
 */
function restoreMap(ours, theirs) {
  for (const key of [...ours.keys()]) if (!theirs.has(key)) ours.delete(key)
  for (const [key, wanted] of theirs.entries()) {
    const mine = ours.get(key)
    const kind = kindOf(wanted)
    if (ours.has(key) && kind !== null && kindOf(mine) === kind) restoreType(/** @type {Y.AbstractType<any>} */ (mine), /** @type {Y.AbstractType<any>} */ (wanted))
    else if (!ours.has(key) || contentKey(mine) !== contentKey(wanted)) ours.set(key, copyOf(wanted))
  }
}

/**
 * @param {Y.XmlElement | Y.XmlText} ours
 * @param {Y.XmlElement | Y.XmlText} theirs
 */
function restoreAttributes(ours, theirs) {
  const mine = /** @type {Record<string, any>} */ (ours.getAttributes())
  const wanted = /** @type {Record<string, any>} */ (theirs.getAttributes())
  for (const key of Object.keys(mine)) if (!(key in wanted)) ours.removeAttribute(key)
  for (const [key, value] of Object.entries(wanted)) {
    if (!(key in mine) || JSON.stringify(mine[key]) !== JSON.stringify(value)) ours.setAttribute(key, copyOf(value))
  }
}

/**
 * One unit of a text: a character (a UTF-16 code unit, as Y.Text counts) or an embed,
 * with its formatting.
 *
 * @typedef {{ char: string, embed: unknown, attributes: Record<string, unknown> }} TextUnit
 */

/**
 * @param {Y.Text} text
 * @returns {TextUnit[]}
 */
function unitsOf(text) {
  /** @type {TextUnit[]} */
  const units = []
  for (const op of text.toDelta()) {
    const attributes = op.attributes ?? {}
    if (typeof op.insert === 'string') for (const char of op.insert.split('')) units.push({ char, embed: undefined, attributes })
    else units.push({ char: '', embed: op.insert, attributes })
  }
  return units
}

/**
 * @param {Y.Text} ours
 * @param {Y.Text} theirs
 */
function restoreText(ours, theirs) {
  const before = unitsOf(ours)
  const after = unitsOf(theirs)
  // Embeds become private-use characters, one per distinct embed, so the diff sees them
  // as one unit each and tells an embed that changed from one that did not.
  /** @type {Map<string, string>} */
  const embeds = new Map()
  const charOf = (/** @type {TextUnit} */ unit) => {
    if (unit.embed === undefined) return unit.char
    const key = contentKey(unit.embed)
    let char = embeds.get(key)
    if (char === undefined) embeds.set(key, (char = String.fromCharCode(0xe000 + (embeds.size % 0x1900))))
    return char
  }
  const a = before.map(charOf).join('')
  const b = after.map(charOf).join('')
  let index = 0
  let read = 0
  let readTheirs = 0
  for (const [op, part] of fastDiff(a, b)) {
    const length = part.length
    if (op === 0) {
      restoreFormatting(ours, index, before.slice(read, read + length), after.slice(readTheirs, readTheirs + length))
      index += length
      read += length
      readTheirs += length
    } else if (op === -1) {
      ours.delete(index, length)
      read += length
    } else {
      for (const unit of after.slice(readTheirs, readTheirs + length)) {
        // Explicit attributes (even none): the insert does not take on its neighbours' formatting.
        if (unit.embed === undefined) ours.insert(index, unit.char, { ...unit.attributes })
        else ours.insertEmbed(index, /** @type {any} */ (copyOf(unit.embed)), { ...unit.attributes })
        index++
      }
      readTheirs += length
    }
  }
}

/**
 * Unchanged characters at `index` keep their items; where their formatting differs from
 * the version's, it is set to the version's, one run at a time.
 *
 * @param {Y.Text} ours
 * @param {number} index
 * @param {TextUnit[]} mine
 * @param {TextUnit[]} wanted
 */
function restoreFormatting(ours, index, mine, wanted) {
  let start = -1
  /** @type {Record<string, unknown> | null} */
  let patch = null
  let patchKey = ''
  const flush = (/** @type {number} */ end) => {
    if (patch !== null && start >= 0) ours.format(index + start, end - start, patch)
    patch = null
    start = -1
  }
  for (let k = 0; k < mine.length; k++) {
    const from = /** @type {TextUnit} */ (mine[k]).attributes
    const to = /** @type {TextUnit} */ (wanted[k]).attributes
    const next = formattingPatch(from, to)
    const key = next === null ? '' : JSON.stringify(next)
    if (key !== patchKey) {
      flush(k)
      if (next !== null) {
        patch = next
        start = k
      }
      patchKey = key
    }
  }
  flush(mine.length)
}

/**
 * What `format` must set to turn formatting `from` into `to`: changed and new keys, and
 * null for keys `to` lacks. Null when they are the same.
 *
 * @param {Record<string, unknown>} from
 * @param {Record<string, unknown>} to
 * @returns {Record<string, unknown> | null}
 */
function formattingPatch(from, to) {
  /** @type {Record<string, unknown>} */
  const patch = {}
  let any = false
  for (const key of Object.keys(from)) {
    if (!(key in to)) {
      patch[key] = null
      any = true
    }
  }
  for (const [key, value] of Object.entries(to)) {
    if (JSON.stringify(from[key]) !== JSON.stringify(value)) {
      patch[key] = value
      any = true
    }
  }
  return any ? patch : null
}
