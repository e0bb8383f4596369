import { expect, test } from '../support/quire-test.js'
import { editorOf, expectBadge, expectConverged, expectTexts, moveCaretToEnd, remoteCaretLabel, typeText, uniqueRoom } from '../support/editor-page.js'

test('two people type into the same document at the same time and see each other', async ({ quire, openEditor }) => {
  const room = uniqueRoom('together')
  const alice = await openEditor(quire, 'Alice', room)
  const bob = await openEditor(quire, 'Bob', room)

  for (const page of [alice, bob]) {
    await expect(page.getByTestId('presence-user')).toHaveCount(2)
    await expectBadge(page, 'All changes saved')
  }

  await moveCaretToEnd(alice)
  await typeText(alice, 'Shopping list')
  await expect(editorOf(bob)).toContainText('Shopping list')

  await moveCaretToEnd(bob)
  await bob.keyboard.press('Enter')
  await typeText(bob, 'Bob:')
  await expect(editorOf(alice)).toContainText('Bob:')

  // Both keep typing at once, each in their own paragraph, keystroke by keystroke.
  await Promise.all([typeText(alice, ' for Saturday: apples, pears, plums', 30), typeText(bob, ' bread and cheese, please', 30)])

  const document = await expectConverged([alice, bob])
  expect(document).toEqual([
    { tag: 'p', text: 'Shopping list for Saturday: apples, pears, plums' },
    { tag: 'p', text: 'Bob: bread and cheese, please' }
  ])

  // Each sees the other's caret, labelled with the name typed in the name field.
  await expect(remoteCaretLabel(alice, 'Bob')).toBeVisible()
  await expect(remoteCaretLabel(bob, 'Alice')).toBeVisible()
  await expect(remoteCaretLabel(alice, 'Alice')).toHaveCount(0)
  await expect(alice.getByTestId('presence-list')).toContainText('Bob')
  await expect(bob.getByTestId('presence-list')).toContainText('Alice')

  for (const page of [alice, bob]) await expectBadge(page, 'All changes saved')
})

test('formatting from the toolbar reaches the other person, and undo reverts only your own change', async ({ quire, openEditor }) => {
  const room = uniqueRoom('format')
  const alice = await openEditor(quire, 'Alice', room)
  const bob = await openEditor(quire, 'Bob', room)

  await moveCaretToEnd(alice)
  await typeText(alice, 'Agenda')
  await alice.getByTestId('tool-heading-1').click()
  await expect(alice.getByTestId('tool-heading-1')).toHaveAttribute('aria-pressed', 'true')
  await alice.keyboard.press('End')
  await alice.keyboard.press('Enter')
  await alice.getByTestId('tool-bullet-list').click()
  await typeText(alice, 'budget')
  await expectTexts(bob, 'h1', ['Agenda'])
  await expectTexts(bob, 'ul > li', ['budget'])

  // Bob leaves the list (Enter on an empty item) and writes a paragraph of his own.
  await moveCaretToEnd(bob)
  await bob.keyboard.press('Enter')
  await bob.keyboard.press('Enter')
  await typeText(bob, 'Bob was here')
  await bob.getByTestId('tool-bold').click()
  await typeText(bob, ' in bold')
  await expectTexts(alice, 'p strong', [' in bold'])

  // Alice edits her item again, then undoes: Yjs' UndoManager takes back her
  // last change only, never Bob's paragraph.
  await editorOf(alice).locator('li p').last().click()
  await alice.keyboard.press('End')
  await typeText(alice, ' review')
  await expectTexts(bob, 'ul > li', ['budget review'])
  await alice.getByTestId('tool-undo').click()
  const expected = [
    { tag: 'h1', text: 'Agenda' },
    { tag: 'ul', text: 'budget' },
    { tag: 'p', text: 'Bob was here in bold' }
  ]
  await expect.poll(() => expectConverged([alice, bob])).toEqual(expected)

  await alice.getByTestId('tool-redo').click()
  await expectTexts(bob, 'ul > li', ['budget review'])
  expect(await expectConverged([alice, bob])).toEqual([expected[0], { tag: 'ul', text: 'budget review' }, expected[2]])
  for (const page of [alice, bob]) await expectBadge(page, 'All changes saved')
})
