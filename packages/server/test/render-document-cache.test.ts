import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createPrng, type Prng } from '@quire/testkit'
import { createDocumentCache } from '@quire/render'

/**
 * The render worker's held documents (document-cache.ts): whatever parts a request
 * brings, the Y.Doc it gets holds exactly those parts, built again only when the parts
 * do not begin with those of a held document.
 */

/**
 * A document edited at random, held the way a room holds it: a snapshot and the updates
 * since, folded into a new snapshot now and then. `parts()` is what the server sends.
 */
function editedDocument(prng: Prng, clientID: number) {
  const doc = new Y.Doc()
  doc.clientID = clientID
  const text = doc.getText('t')
  text.insert(0, `document ${clientID}\n`)
  let snapshot = Y.encodeStateAsUpdate(doc)
  let tail: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => tail.push(update))
  return {
    text: () => text.toString(),
    edit() {
      if (text.length > 0 && prng.bool(0.3)) text.delete(prng.int(0, text.length - 1), 1)
      else text.insert(prng.int(0, text.length), prng.string(prng.int(1, 6)))
    },
    fold() {
      snapshot = Y.encodeStateAsUpdate(doc)
      tail = []
    },
    parts: (): Uint8Array[] => [snapshot, ...tail]
  }
}

const textOf = (doc: Y.Doc): string => doc.getText('t').toString()

describe('the render worker\'s held documents', () => {
  for (const maxDocuments of [1, 4]) {
    it(`hold exactly the parts of each request, extending a held document when its parts continue (seeded edits on 3 documents, at most ${maxDocuments} held)`, () => {
      const prng = createPrng(70 + maxDocuments)
      const documents = [1, 2, 3].map((id) => editedDocument(prng, id))
      const cache = createDocumentCache({ maxDocuments, maxBytes: 1024 * 1024 })
      let folds = 0
      let switches = 0
      let last = -1
      for (let step = 0; step < 600; step++) {
        // Mostly the same document again (someone editing it), sometimes another.
        const which = prng.bool(0.9) && last >= 0 ? last : prng.int(0, documents.length - 1)
        if (which !== last) switches++
        last = which
        const document = documents[which]!
        for (let i = prng.int(0, 3); i > 0; i--) document.edit()
        if (prng.bool(0.05)) {
          document.fold()
          folds++
        }
        expect(textOf(cache.documentOf(`doc ${which}`, document.parts()))).toBe(document.text())
      }
      // Built again only when a fold changed the first part, or (one held) on a switch.
      expect(cache.builds).toBeLessThanOrEqual(folds + (maxDocuments === 1 ? switches : documents.length))
      expect(cache.builds).toBeLessThan(100)
    })
  }

  it('builds a document again when a request brings fewer parts than it holds, and extends that one with the rest', () => {
    const prng = createPrng(75)
    const document = editedDocument(prng, 9)
    const cache = createDocumentCache({ maxDocuments: 4, maxBytes: 1024 * 1024 })
    for (let i = 0; i < 5; i++) document.edit()
    const shorter = document.parts()
    const shorterText = document.text()
    for (let i = 0; i < 5; i++) document.edit()
    expect(textOf(cache.documentOf('doc', document.parts()))).toBe(document.text())
    expect(textOf(cache.documentOf('doc', shorter))).toBe(shorterText)
    expect(textOf(cache.documentOf('doc', document.parts()))).toBe(document.text())
    expect(cache.builds).toBe(2)
  })

  it('holds no more than its byte bound beyond the newest document', () => {
    const prng = createPrng(76)
    const documents = [1, 2].map((id) => editedDocument(prng, id))
    for (const document of documents) for (let i = 0; i < 200; i++) document.edit()
    const bytes = documents[0]!.parts().reduce((sum, part) => sum + part.byteLength, 0)
    // Room for one document only: the second evicts the first, which is then built again.
    const cache = createDocumentCache({ maxDocuments: 4, maxBytes: bytes + 1 })
    cache.documentOf('first', documents[0]!.parts())
    cache.documentOf('second', documents[1]!.parts())
    cache.documentOf('first', documents[0]!.parts())
    expect(cache.builds).toBe(3)
  })
})
