import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { assertConverged, findDivergence, startQuireServer, type QuireServerFixture } from '@quire/testkit'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * Two users typing words at the same position end with each word intact, never
 * interleaved character by character, whether they type before seeing each other's
 * keystrokes or with every keystroke relayed through the server in between.
 */

let server: QuireServerFixture
const clients: StockClient[] = []
beforeAll(async () => {
  server = await startQuireServer()
})
afterAll(async () => {
  for (const c of clients) c.destroy()
  await server.close()
})

async function pair(room: string): Promise<[StockClient, StockClient]> {
  const a = createStockClient(server.url, room)
  const b = createStockClient(server.url, room)
  clients.push(a, b)
  await Promise.all([a.synced(), b.synced()])
  a.doc.getText('t').insert(0, 'Hello world')
  await waitUntil(() => b.doc.getText('t').toString() === 'Hello world')
  return [a, b]
}

/**
 * A user's cursor, as an editor keeps it: a relative position bound to the character on
 * its left (assoc -1), so text others insert at the same spot does not push it along.
 */
function createCursor(doc: Y.Doc, index: number) {
  const text = doc.getText('t')
  let position = Y.createRelativePositionFromTypeIndex(text, index, -1)
  return {
    type(char: string): void {
      const absolute = Y.createAbsolutePositionFromRelativePosition(position, doc)
      if (absolute === null) throw new Error('cursor lost')
      text.insert(absolute.index, char)
      position = Y.createRelativePositionFromTypeIndex(text, absolute.index + 1, -1)
    }
  }
}

function expectWordsIntact(doc: Y.Doc, words: readonly string[]): void {
  const text = doc.getText('t').toString()
  for (const word of words) expect(text, `"${word}" in "${text}"`).toContain(word)
  expect(text.length).toBe('Hello world'.length + words.reduce((n, w) => n + w.length, 0))
  expect(text.startsWith('Hello')).toBe(true)
  expect(text.endsWith(' world')).toBe(true)
}

describe('concurrent typing at the same position', () => {
  it('keystrokes typed before either user sees the other: words intact', async () => {
    const [a, b] = await pair('typing-offline')
    const cursorA = createCursor(a.doc, 5)
    const cursorB = createCursor(b.doc, 5)
    // Both type in the same turn of the event loop: neither has seen the other's keystrokes.
    const wordA = ' quick'
    const wordB = ' brown'
    for (let i = 0; i < wordA.length; i++) {
      cursorA.type(wordA[i] as string)
      cursorB.type(wordB[i] as string)
    }
    await waitUntil(() => findDivergence([a.doc, b.doc]) === null)
    assertConverged([a.doc, b.doc])
    expectWordsIntact(a.doc, [wordA, wordB])
  })

  it('keystrokes alternating, each relayed through the server before the next: words intact', async () => {
    const [a, b] = await pair('typing-live')
    const cursorA = createCursor(a.doc, 5)
    const cursorB = createCursor(b.doc, 5)
    const wordA = ' jumps'
    const wordB = ' over!'
    for (let i = 0; i < wordA.length; i++) {
      cursorA.type(wordA[i] as string)
      await waitUntil(() => findDivergence([a.doc, b.doc]) === null)
      cursorB.type(wordB[i] as string)
      await waitUntil(() => findDivergence([a.doc, b.doc]) === null)
    }
    assertConverged([a.doc, b.doc])
    expectWordsIntact(b.doc, [wordA, wordB])
  })

  it('whole words as single edits from several users at once: each intact', async () => {
    const [a, b] = await pair('typing-words')
    const c = createStockClient(server.url, 'typing-words')
    clients.push(c)
    await c.synced()
    await waitUntil(() => c.doc.getText('t').toString() === 'Hello world')
    a.doc.getText('t').insert(5, ' alpha')
    b.doc.getText('t').insert(5, ' beta')
    c.doc.getText('t').insert(5, ' gamma')
    await waitUntil(() => findDivergence([a.doc, b.doc, c.doc]) === null)
    assertConverged([a.doc, b.doc, c.doc])
    expectWordsIntact(c.doc, [' alpha', ' beta', ' gamma'])
  })
})
