import { readFile } from 'node:fs/promises'
import { openCuttablePage } from '../support/cuttable-page.js'
import { expect, test } from '../support/quire-test.js'
import { editorOf, expectBadge, moveCaretToEnd, typeText, uniqueRoom } from '../support/editor-page.js'

/**
 * A document deleted through the HTTP API while two people have it open: one with
 * everything saved, one cut off with unsaved words. Both pages say the document was
 * deleted; the saved page keeps nothing (a reload shows an empty, refused document); the
 * other offers its unsaved text as a file.
 */
test('a deleted document: both pages say so, the saved local copy is gone after a reload, unsaved text is offered as a copy', async ({
  quire,
  openEditor,
  browser
}) => {
  const room = uniqueRoom('deleted')
  const alice = await openEditor(quire, 'Alice', room)
  await moveCaretToEnd(alice)
  await typeText(alice, 'Saved words.')
  await expectBadge(alice, 'All changes saved')

  const bobContext = await browser.newContext({ baseURL: quire.httpUrl, acceptDownloads: true })
  const bob = await openCuttablePage(bobContext, quire.httpUrl, room, 'Bob')
  await expect(editorOf(bob.page)).toContainText('Saved words.')
  await bob.cut()
  await expectBadge(bob.page, 'Offline')
  await moveCaretToEnd(bob.page)
  await typeText(bob.page, ' Unsaved words.')
  await expect(bob.page.getByTestId('offline-hint')).toContainText('kept on this device')

  const response = await fetch(new URL(`/api/v1/documents/${encodeURIComponent(room)}`, quire.httpUrl), { method: 'DELETE' })
  expect(response.status).toBe(200)

  await expectBadge(alice, 'Deleted')
  await expect(alice.getByTestId('offline-hint')).toContainText('Nothing of it is kept on this device')
  await expect(alice.getByTestId('save-copy-button')).toBeHidden()
  await alice.reload()
  await expectBadge(alice, 'Deleted')
  await expect(editorOf(alice)).not.toContainText('Saved words.')

  await bob.restore()
  await expectBadge(bob.page, 'Deleted')
  await expect(bob.page.getByTestId('offline-hint')).toContainText('save a copy')
  const copyButton = bob.page.getByTestId('save-copy-button')
  await expect(copyButton).toBeVisible()
  const [download] = await Promise.all([bob.page.waitForEvent('download'), copyButton.click()])
  const path = await download.path()
  expect(await readFile(path, 'utf8')).toContain('Saved words. Unsaved words.')
  await bobContext.close()
})
