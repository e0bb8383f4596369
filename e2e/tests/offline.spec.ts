import { expect, test } from '../support/quire-test.js'
import {
  editorOf,
  expectBadge,
  expectConverged,
  moveCaretToEnd,
  moveCaretToEndOfBlock,
  readDocumentText,
  typeText,
  uniqueRoom,
  waitForOfflineShell
} from '../support/editor-page.js'

test('a page that goes offline keeps typing, reopens offline from IndexedDB, and converges when back online', async ({
  quire,
  openEditor
}) => {
  const room = uniqueRoom('offline')
  const alice = await openEditor(quire, 'Alice', room)
  const bob = await openEditor(quire, 'Bob', room)

  await moveCaretToEnd(alice)
  await typeText(alice, 'Written online.')
  await expect(editorOf(bob)).toContainText('Written online.')
  // Bob starts a paragraph of his own while both are online. (Splitting a paragraph that
  // someone else edits at the same time has no single right outcome: y-prosemirror may
  // carry the concurrent text into either half. That is not what this test is about.)
  await moveCaretToEnd(bob)
  await bob.keyboard.press('Enter')
  await typeText(bob, 'Bob wrote this')
  await expect(editorOf(alice)).toContainText('Bob wrote this')
  await expectBadge(alice, 'All changes saved')
  // The page must have been opened once with its service worker in control to reopen offline.
  await waitForOfflineShell(alice)

  await alice.context().setOffline(true)
  await expectBadge(alice, 'Offline')
  await moveCaretToEndOfBlock(alice, 0)
  await typeText(alice, ' Written offline.')
  await expect(alice.getByTestId('offline-hint')).toContainText('kept on this device')

  // Meanwhile Bob keeps working online in his own paragraph.
  await moveCaretToEnd(bob)
  await typeText(bob, ' while Alice was away.')
  await expectBadge(bob, 'All changes saved')

  // Reload while still offline: the shell comes from the service worker, the text from IndexedDB,
  // and the page still knows that part of it never reached the server.
  await alice.reload()
  await expect(editorOf(alice)).toContainText('Written online. Written offline.')
  await expectBadge(alice, 'Offline')
  await expect(alice.getByTestId('offline-hint')).toContainText('kept on this device')
  expect(await readDocumentText(alice)).not.toContain('while Alice was away')
  expect(await readDocumentText(bob)).not.toContain('Written offline')

  // Any room opens offline, even one this browser never visited: the cached shell serves every route.
  const elsewhere = await alice.context().newPage()
  await elsewhere.goto(new URL(`/d/${encodeURIComponent(uniqueRoom('never-visited'))}`, quire.httpUrl).href)
  await expect(editorOf(elsewhere)).toBeVisible()
  await expectBadge(elsewhere, 'Offline')
  await elsewhere.close()

  // More offline typing after the reload is kept as well.
  await moveCaretToEndOfBlock(alice, 0)
  await typeText(alice, ' And after the reload.')

  await alice.context().setOffline(false)
  const document = await expectConverged([alice, bob], 30_000)
  expect(document).toEqual([
    { tag: 'p', text: 'Written online. Written offline. And after the reload.' },
    { tag: 'p', text: 'Bob wrote this while Alice was away.' }
  ])
  await expectBadge(alice, 'All changes saved', 30_000)
  await expectBadge(bob, 'All changes saved')
})
