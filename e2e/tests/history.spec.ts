import type { Page } from '@playwright/test'
import { expect, test } from '../support/quire-test.js'
import {
  expectBadge,
  expectConverged,
  moveCaretToEndOfBlock,
  readDocument,
  typeText,
  uniqueRoom,
  type DocumentBlock
} from '../support/editor-page.js'

/**
 * The History panel of the rich-text page (demo/src/history-panel.ts) over the server's
 * version API: naming a version, previewing one, and restoring one while two people have
 * the document open. Only clicks and keystrokes; every wait is for a condition.
 */

async function openHistory(page: Page): Promise<void> {
  await page.getByTestId('history-button').click()
  await expect(page.getByTestId('history-panel')).toBeVisible()
  // The list is loaded on every open; wait for that answer before reading it.
  await expect(page.getByTestId('history-list')).not.toHaveAttribute('aria-busy', 'true')
}

async function nameVersion(page: Page, name: string): Promise<void> {
  await page.getByTestId('history-name-button').click()
  await page.getByTestId('history-name-input').fill(name)
  await page.getByTestId('history-name-input').press('Enter')
  await expect(page.getByTestId('history-message')).toHaveText(`Named this version “${name}”.`)
  await expect(page.getByTestId('history-name-form')).toBeHidden()
}

function versionEntry(page: Page, label: string) {
  return page.getByTestId('history-version').filter({ has: page.getByTestId('history-version-label').getByText(label, { exact: true }) })
}

/** The text of the preview frame's body (the server's HTML of the selected version). */
function previewBody(page: Page) {
  return page.frameLocator('[data-testid="history-preview"]').locator('body')
}

async function expectDocument(page: Page, expected: readonly DocumentBlock[]): Promise<void> {
  await expect.poll(() => readDocument(page), { message: 'the page never showed the expected document' }).toEqual(expected)
}

test('two people edit, one names a version, both type more, the other restores it from the History panel', async ({ quire, openEditor }) => {
  const room = uniqueRoom('history')
  const alice = await openEditor(quire, 'Alice', room)
  const bob = await openEditor(quire, 'Bob', room)
  for (const page of [alice, bob]) await expect(page.getByTestId('presence-user')).toHaveCount(2)

  await moveCaretToEndOfBlock(alice, 0)
  await typeText(alice, 'First draft by Alice.')
  await expectDocument(bob, [{ tag: 'p', text: 'First draft by Alice.' }])
  await moveCaretToEndOfBlock(bob, -1)
  await bob.keyboard.press('Enter')
  await typeText(bob, 'Bob agrees.')
  const named = [
    { tag: 'p', text: 'First draft by Alice.' },
    { tag: 'p', text: 'Bob agrees.' }
  ]
  expect(await expectConverged([alice, bob])).toEqual(named)
  // A version is the server's copy: name it only once the server holds everyone's words.
  for (const page of [alice, bob]) await expectBadge(page, 'All changes saved')

  await openHistory(alice)
  await nameVersion(alice, 'Agreed draft')
  const agreed = versionEntry(alice, 'Agreed draft')
  await expect(agreed).toHaveAttribute('aria-pressed', 'true')
  await expect(agreed).toContainText('Alice')
  await expect(agreed).toContainText('Bob')

  // Both keep writing, each in their own paragraph.
  await moveCaretToEndOfBlock(alice, 0)
  await typeText(alice, ' Later words from Alice.')
  await moveCaretToEndOfBlock(bob, 1)
  await typeText(bob, ' Later words from Bob.')
  expect(await expectConverged([alice, bob])).toEqual([
    { tag: 'p', text: 'First draft by Alice. Later words from Alice.' },
    { tag: 'p', text: 'Bob agrees. Later words from Bob.' }
  ])
  for (const page of [alice, bob]) await expectBadge(page, 'All changes saved')

  // Bob restores the named version, confirming in the panel.
  await openHistory(bob)
  await versionEntry(bob, 'Agreed draft').click()
  await expect(previewBody(bob)).toHaveText('First draft by Alice.Bob agrees.')
  await bob.getByTestId('history-restore-button').click()
  await expect(bob.getByTestId('history-confirm')).toBeVisible()
  // Nothing happens before the confirmation.
  await expect(bob.getByTestId('history-list').getByText('Restored from Agreed draft')).toHaveCount(0)
  await bob.getByTestId('history-restore-confirm').click()
  await expect(bob.getByTestId('history-message')).toHaveText('Restored “Agreed draft”. Everyone now sees it.')
  await expect(bob.getByTestId('history-confirm')).toBeHidden()

  // Both pages show exactly the named version, and know it is stored.
  for (const page of [alice, bob]) await expectDocument(page, named)
  for (const page of [alice, bob]) await expectBadge(page, 'All changes saved')
  // The restore is itself a version, the newest, and selected.
  const restore = versionEntry(bob, 'Restored from Agreed draft')
  await expect(bob.getByTestId('history-version').first()).toContainText('Restored from Agreed draft')
  await expect(restore).toHaveAttribute('aria-pressed', 'true')
  // Alice's open panel learns of it when she opens it again.
  await alice.getByTestId('history-close').click()
  await openHistory(alice)
  await expect(alice.getByTestId('history-version').first()).toContainText('Restored from Agreed draft')
})

test('the preview shows the selected version; a request that cannot reach the server says so in the panel', async ({ quire, openEditor }) => {
  const room = uniqueRoom('history-preview')
  const alice = await openEditor(quire, 'Alice', room)
  await moveCaretToEndOfBlock(alice, 0)
  await typeText(alice, 'Alpha')
  await expectBadge(alice, 'All changes saved')
  await openHistory(alice)
  await expect(alice.getByTestId('history-list')).toContainText('No versions yet')
  await nameVersion(alice, 'One')

  await moveCaretToEndOfBlock(alice, 0)
  await typeText(alice, ' Beta')
  await alice.keyboard.press('Enter')
  await typeText(alice, 'Gamma')
  await expectBadge(alice, 'All changes saved')
  await nameVersion(alice, 'Two')

  // Newest first; the new one is selected and previewed.
  await expect(alice.getByTestId('history-version-label')).toHaveText(['Two', 'One'])
  await expect(versionEntry(alice, 'Two')).toContainText('+10')
  await expect(previewBody(alice)).toHaveText('Alpha BetaGamma')
  await expect(previewBody(alice).locator('p')).toHaveText(['Alpha Beta', 'Gamma'])
  await versionEntry(alice, 'One').click()
  await expect(versionEntry(alice, 'One')).toHaveAttribute('aria-pressed', 'true')
  await expect(previewBody(alice)).toHaveText('Alpha')
  await expect(alice.getByTestId('history-preview-title')).toContainText('One')
  // The live document is untouched by previewing.
  await expectDocument(alice, [
    { tag: 'p', text: 'Alpha Beta' },
    { tag: 'p', text: 'Gamma' }
  ])

  await alice.context().setOffline(true)
  await alice.getByTestId('history-name-button').click()
  await alice.getByTestId('history-name-input').fill('Three')
  await alice.getByTestId('history-name-input').press('Enter')
  await expect(alice.getByTestId('history-message')).toHaveText('Cannot reach the server. Check the connection and try again.')
  await expect(alice.getByTestId('history-message')).toHaveClass(/is-error/)
  await expect(alice.getByTestId('history-version-label')).toHaveText(['Two', 'One'])
})
