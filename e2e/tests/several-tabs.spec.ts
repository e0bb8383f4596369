import { openCuttablePage } from '../support/cuttable-page.js'
import { expect, test } from '../support/quire-test.js'
import { editorOf, expectBadge, expectConverged, moveCaretToEnd, readDocumentText, typeText, uniqueRoom } from '../support/editor-page.js'

/**
 * Two tabs of one browser profile share the document's IndexedDB copy. One tab loses its
 * connection while the browser (and the other tab) stays online, types, and reloads: each
 * tab must show its own saved state all along, and both must end converged and saved.
 */

test('two tabs of one profile: one offline types and reloads, each shows its own saved state, both converge saved', async ({
  quire,
  openEditor
}) => {
  const room = uniqueRoom('tabs')
  const first = await openEditor(quire, 'Ada', room)
  const cuttable = await openCuttablePage(first.context(), quire.httpUrl, room, 'Ada')
  const second = cuttable.page

  await moveCaretToEnd(first)
  await typeText(first, 'Both tabs online.')
  await expect(editorOf(second)).toContainText('Both tabs online.')
  await expectBadge(first, 'All changes saved')
  await expectBadge(second, 'All changes saved')

  await cuttable.cut()
  await expectBadge(second, 'Offline')
  await moveCaretToEnd(second)
  await second.keyboard.press('Enter')
  await typeText(second, 'Typed in the second tab while it was cut off.')
  await expect(second.getByTestId('offline-hint')).toContainText('kept on this device')

  // The first tab keeps working and saving; it does not see the cut-off tab's work.
  await moveCaretToEnd(first)
  await typeText(first, ' More from the first tab.')
  await expectBadge(first, 'All changes saved')
  expect(await readDocumentText(first)).not.toContain('cut off')

  // The cut-off tab reloads (its sockets still blocked): its work comes back from IndexedDB,
  // still known as unsaved although the other tab saved its own record meanwhile.
  await second.reload()
  await expect(editorOf(second)).toContainText('Typed in the second tab while it was cut off.')
  await expectBadge(second, 'Offline')
  await expect(second.getByTestId('offline-hint')).toContainText('kept on this device')
  await expectBadge(first, 'All changes saved')

  await cuttable.restore()
  const document = await expectConverged([first, second], 30_000)
  expect(document.map((block) => block.text)).toEqual(['Both tabs online. More from the first tab.', 'Typed in the second tab while it was cut off.'])
  await expectBadge(second, 'All changes saved', 30_000)
  await expectBadge(first, 'All changes saved')

  // A reload of either tab now finds nothing unsaved.
  await first.reload()
  await expect(editorOf(first)).toContainText('cut off')
  await expectBadge(first, 'All changes saved')
})
