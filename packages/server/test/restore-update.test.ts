import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { restoreUpdate } from '../src/compaction/restore-update.js'

/**
 * The restore update (compaction/restore-update.js) on plain Y.Docs: which paragraphs of
 * the current document it edits in place (their items kept, so an offline edit inside
 * one survives the restore) and which it replaces.
 */

function paragraph(text: string): Y.XmlElement {
  const p = new Y.XmlElement('paragraph')
  const t = new Y.XmlText()
  t.insert(0, text)
  p.insert(0, [t])
  return p
}

const fragmentOf = (doc: Y.Doc): Y.XmlFragment => doc.getXmlFragment('default')
const textAt = (doc: Y.Doc, index: number): Y.XmlText => (fragmentOf(doc).get(index) as Y.XmlElement).get(0) as Y.XmlText

function docOf(...texts: string[]): Y.Doc {
  const doc = new Y.Doc()
  fragmentOf(doc).insert(0, texts.map(paragraph))
  return doc
}

/**
 * `version` is the document at a version; `edit` turns it into the current document.
 * An offline copy of the current document types `offline` at the start of paragraph
 * `offlineAt`; the restore is applied to the live document and the offline copy merges.
 * Answers the merged document and whether the live paragraphs were kept as items.
 */
function restoreWithOfflineEdit(version: Y.Doc, edit: (doc: Y.Doc) => void, offlineAt: number, offline: string) {
  const live = new Y.Doc()
  Y.applyUpdate(live, Y.encodeStateAsUpdate(version))
  edit(live)
  const offlineCopy = new Y.Doc()
  Y.applyUpdate(offlineCopy, Y.encodeStateAsUpdate(live))
  textAt(offlineCopy, offlineAt).insert(0, offline)
  const paragraphsBefore = fragmentOf(live).toArray()
  Y.applyUpdate(live, restoreUpdate(Y.encodeStateAsUpdate(live), Y.encodeStateAsUpdate(version)))
  const kept = paragraphsBefore.map((p) => fragmentOf(live).toArray().includes(p))
  const restored = fragmentOf(live).toString()
  Y.applyUpdate(live, Y.encodeStateAsUpdate(offlineCopy))
  return { restored, merged: fragmentOf(live).toString(), kept }
}

describe('restore update', () => {
  it('edits in place a paragraph that more than doubled since the version, so an offline edit inside it survives', () => {
    // The demo's History e2e: both people type on after naming a version, then restore it.
    const version = docOf('First draft by Alice.', 'Bob agrees.')
    const result = restoreWithOfflineEdit(
      version,
      (doc) => {
        textAt(doc, 0).insert(textAt(doc, 0).length, ' Later words from Alice.')
        textAt(doc, 1).insert(textAt(doc, 1).length, ' Later words from Bob.')
      },
      1,
      'Offline: '
    )
    expect(result.restored).toBe('<paragraph>First draft by Alice.</paragraph><paragraph>Bob agrees.</paragraph>')
    expect(result.kept).toEqual([true, true])
    expect(result.merged).toBe('<paragraph>First draft by Alice.</paragraph><paragraph>Offline: Bob agrees.</paragraph>')
  })

  it('edits in place a paragraph that lost more than half of its text since the version', () => {
    const version = docOf('Keep this sentence, and drop the long tail that follows it here.')
    const result = restoreWithOfflineEdit(version, (doc) => textAt(doc, 0).delete(19, textAt(doc, 0).length - 19), 0, 'Offline: ')
    expect(result.kept).toEqual([true])
    expect(result.merged).toBe('<paragraph>Offline: Keep this sentence, and drop the long tail that follows it here.</paragraph>')
  })

  it('replaces a paragraph that has nothing but a few letters in common with the version\'s', () => {
    const version = docOf('The middle paragraph.')
    const result = restoreWithOfflineEdit(
      version,
      (doc) => {
        fragmentOf(doc).delete(0, 1)
        fragmentOf(doc).insert(0, [paragraph('Closing words here.')])
      },
      0,
      'x'
    )
    expect(result.restored).toBe('<paragraph>The middle paragraph.</paragraph>')
    expect(result.kept).toEqual([false])
  })

  it('pairs each paragraph with the one it grew from, not with the first of its kind', () => {
    const version = docOf('Alpha is short.', 'Beta is short too.')
    const result = restoreWithOfflineEdit(
      version,
      (doc) => {
        // A new paragraph before both, and each of the two grew.
        fragmentOf(doc).insert(0, [paragraph('A brand new opening that says something else entirely.')])
        textAt(doc, 1).insert(textAt(doc, 1).length, ' Then it went on and on about alpha.')
        textAt(doc, 2).insert(textAt(doc, 2).length, ' And beta went on even longer than that.')
      },
      2,
      'B: '
    )
    expect(result.restored).toBe('<paragraph>Alpha is short.</paragraph><paragraph>Beta is short too.</paragraph>')
    expect(result.kept).toEqual([false, true, true])
    expect(result.merged).toBe('<paragraph>Alpha is short.</paragraph><paragraph>B: Beta is short too.</paragraph>')
  })
})
