/**
 * The demo's code editor (`/c/<room>`: CodeMirror 6 through y-codemirror.next, on the
 * Y.Text `codemirror`), driven like the rich-text one: same badge, presence and offline
 * behaviour, since both are thin layers over the same page code.
 */
import { expect, test } from '../support/quire-test.js'
import {
  codeEditorOf,
  expectCodeConverged,
  moveCodeCaretToEnd,
  moveCodeCaretToEndOfLine,
  readCodeLines,
  remoteCodeCaretLabel,
  remoteCodeSelection
} from '../support/code-editor-page.js'
import { editorOf, expectBadge, setDisplayName, typeText, uniqueRoom, waitForOfflineShell } from '../support/editor-page.js'

test('two people type into the code editor at the same time, converge, and see each other\'s caret and selection by name', async ({
  quire,
  openCodeEditor
}) => {
  const room = uniqueRoom('code-together')
  const alice = await openCodeEditor(quire, 'Alice', room)
  const bob = await openCodeEditor(quire, 'Bob', room)

  for (const page of [alice, bob]) {
    await expect(page.getByTestId('presence-user')).toHaveCount(2)
    await expectBadge(page, 'All changes saved')
  }

  await moveCodeCaretToEnd(alice)
  await typeText(alice, 'Shopping list')
  await expect(codeEditorOf(bob)).toContainText('Shopping list')

  await moveCodeCaretToEnd(bob)
  await bob.keyboard.press('Enter')
  await typeText(bob, 'Bob:')
  await expect(codeEditorOf(alice)).toContainText('Bob:')

  // Both keep typing at once, each on a line of their own, keystroke by keystroke.
  await moveCodeCaretToEndOfLine(alice, 0)
  await Promise.all([typeText(alice, ' for Saturday: apples, pears, plums', 30), typeText(bob, ' bread and cheese, please', 30)])
  expect(await expectCodeConverged([alice, bob])).toEqual(['Shopping list for Saturday: apples, pears, plums', 'Bob: bread and cheese, please'])

  // Each sees the other's caret, labelled with the name typed in the name field, and not their own.
  await expect(remoteCodeCaretLabel(alice, 'Bob')).toBeVisible()
  await expect(remoteCodeCaretLabel(bob, 'Alice')).toBeVisible()
  await expect(remoteCodeCaretLabel(alice, 'Alice')).toHaveCount(0)
  await expect(remoteCodeCaretLabel(bob, 'Bob')).toHaveCount(0)

  // A selection is shared too: Bob sees the word Alice selects highlighted.
  await moveCodeCaretToEndOfLine(alice, 0)
  await alice.keyboard.press('Control+Shift+ArrowLeft')
  await expect(remoteCodeSelection(bob)).toHaveText('plums')
  await expect(remoteCodeSelection(alice)).toHaveCount(0)

  await expect(alice.getByTestId('presence-list')).toContainText('Bob')
  await expect(bob.getByTestId('presence-list')).toContainText('Alice')

  // A new name reaches the caret the other person already sees.
  await setDisplayName(bob, 'Robert')
  await expect(remoteCodeCaretLabel(alice, 'Robert')).toBeVisible()
  await expect(remoteCodeCaretLabel(alice, 'Bob')).toHaveCount(0)
  for (const page of [alice, bob]) await expectBadge(page, 'All changes saved')
})

test('undo in the code editor takes back only your own change, and redo brings it back', async ({ quire, openCodeEditor }) => {
  const room = uniqueRoom('code-undo')
  const alice = await openCodeEditor(quire, 'Alice', room)
  const bob = await openCodeEditor(quire, 'Bob', room)

  await moveCodeCaretToEnd(alice)
  await typeText(alice, 'Alice wrote this')
  await expect(codeEditorOf(bob)).toContainText('Alice wrote this')
  await moveCodeCaretToEnd(bob)
  await bob.keyboard.press('Enter')
  await typeText(bob, 'Bob wrote this')
  await expect(codeEditorOf(alice)).toContainText('Bob wrote this')

  // Yjs' UndoManager (yUndoManagerKeymap's Ctrl+Z): Alice's typing goes, Bob's line stays.
  await codeEditorOf(alice).click()
  await alice.keyboard.press('Control+z')
  expect(await expectCodeConverged([alice, bob])).toEqual(['', 'Bob wrote this'])

  await alice.getByTestId('tool-redo').click()
  expect(await expectCodeConverged([alice, bob])).toEqual(['Alice wrote this', 'Bob wrote this'])
  await expect(bob.getByTestId('tool-undo')).toBeEnabled()
  for (const page of [alice, bob]) await expectBadge(page, 'All changes saved')
})

test('a code editor page that goes offline keeps typing, reopens offline from IndexedDB, and converges when back online', async ({
  quire,
  openCodeEditor
}) => {
  const room = uniqueRoom('code-offline')
  const alice = await openCodeEditor(quire, 'Alice', room)
  const bob = await openCodeEditor(quire, 'Bob', room)

  await moveCodeCaretToEnd(alice)
  await typeText(alice, 'Written online.')
  await expect(codeEditorOf(bob)).toContainText('Written online.')
  await moveCodeCaretToEnd(bob)
  await bob.keyboard.press('Enter')
  await typeText(bob, 'Bob wrote this')
  await expect(codeEditorOf(alice)).toContainText('Bob wrote this')
  await expectBadge(alice, 'All changes saved')
  // The page must have been opened once with its service worker in control to reopen offline.
  await waitForOfflineShell(alice)

  await alice.context().setOffline(true)
  await expectBadge(alice, 'Offline')
  await moveCodeCaretToEndOfLine(alice, 0)
  await typeText(alice, ' Written offline.')
  await expect(alice.getByTestId('offline-hint')).toContainText('kept on this device')

  // Meanwhile Bob keeps working online on his own line.
  await moveCodeCaretToEnd(bob)
  await typeText(bob, ' while Alice was away.')
  await expectBadge(bob, 'All changes saved')

  // Reload while still offline: the shell and the code editor's chunk come from the service
  // worker, the text from IndexedDB, and the page still knows part of it never reached the server.
  await alice.reload()
  await expect(codeEditorOf(alice)).toContainText('Written online. Written offline.')
  await expectBadge(alice, 'Offline')
  await expect(alice.getByTestId('offline-hint')).toContainText('kept on this device')
  expect((await readCodeLines(alice)).join('\n')).not.toContain('while Alice was away')
  expect((await readCodeLines(bob)).join('\n')).not.toContain('Written offline')

  // More offline typing after the reload is kept as well.
  await moveCodeCaretToEndOfLine(alice, 0)
  await typeText(alice, ' And after the reload.')

  await alice.context().setOffline(false)
  expect(await expectCodeConverged([alice, bob], 30_000)).toEqual([
    'Written online. Written offline. And after the reload.',
    'Bob wrote this while Alice was away.'
  ])
  await expectBadge(alice, 'All changes saved', 30_000)
  await expectBadge(bob, 'All changes saved')
})

test('a browser that only ever used the rich-text editor opens the code editor offline (the service worker precaches both)', async ({
  quire,
  openEditor
}) => {
  // This browser never fetched the code editor's chunks: only the precache can have them.
  const alice = await openEditor(quire, 'Alice', uniqueRoom('rich-only'))
  await expect(editorOf(alice)).toBeVisible()
  await waitForOfflineShell(alice)

  await alice.context().setOffline(true)
  const code = await alice.context().newPage()
  await code.goto(new URL(`/c/${encodeURIComponent(uniqueRoom('code-offline-first'))}`, quire.httpUrl).href)
  await expect(codeEditorOf(code)).toBeVisible()
  await expectBadge(code, 'Offline')
  await codeEditorOf(code).click()
  await typeText(code, 'typed offline')
  await expect.poll(() => readCodeLines(code)).toEqual(['typed offline'])
  await expect(code.getByTestId('editor-failure')).toHaveCount(0)
})
