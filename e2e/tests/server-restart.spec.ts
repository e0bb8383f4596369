import { expect, test } from '../support/quire-test.js'
import {
  editorOf,
  expectBadge,
  expectConverged,
  lastSavedSnapshot,
  moveCaretToEnd,
  readDocument,
  recordSavedSnapshots,
  typeText,
  uniqueRoom,
  type DocumentBlock
} from '../support/editor-page.js'

/** Each block of `saved` must still be there, as the start of the same block (typing only appended). */
function expectStillHolds(document: readonly DocumentBlock[], saved: readonly DocumentBlock[]): void {
  expect(document.length).toBeGreaterThanOrEqual(saved.length)
  saved.forEach((block, index) => {
    expect(document[index]?.tag).toBe(block.tag)
    expect(document[index]?.text.startsWith(block.text), `block ${index}: "${document[index]?.text}" should start with "${block.text}"`).toBe(true)
  })
}

test('the server is killed with SIGKILL mid-session: what was shown as saved survives, and pages reconnect by themselves', async ({
  quire,
  openEditor
}) => {
  const room = uniqueRoom('crash')
  const alice = await openEditor(quire, 'Alice', room)
  const bob = await openEditor(quire, 'Bob', room)
  for (const page of [alice, bob]) await recordSavedSnapshots(page)

  await moveCaretToEnd(alice)
  await typeText(alice, 'Saved before the crash.')
  await moveCaretToEnd(bob)
  await bob.keyboard.press('Enter')
  await typeText(bob, 'Bob saved this too.')
  await expectConverged([alice, bob])
  for (const page of [alice, bob]) await expectBadge(page, 'All changes saved')

  // Alice is mid-sentence when the server process is killed.
  const typing = typeText(alice, ' Typing while the server dies.', 60)
  await expect(editorOf(alice)).toContainText('Typing wh')
  await quire.crash()
  await typing
  for (const page of [alice, bob]) await expectBadge(page, 'Offline')
  await moveCaretToEnd(bob)
  await typeText(bob, ' Bob typed while it was down.')
  const savedByAlice = await lastSavedSnapshot(alice)
  const savedByBob = await lastSavedSnapshot(bob)
  // Both were told at least their first sentences were safe (the badge said so before the crash).
  expect(savedByAlice[0]?.text).toContain('Saved before the crash.')
  expect(savedByBob[1]?.text).toContain('Bob saved this too.')

  // First the server alone: the pages are kept off the network so they cannot
  // resend anything, and a fresh browser (no IndexedDB copy) opens the room.
  for (const page of [alice, bob]) await page.context().setOffline(true)
  await quire.restart()
  const carol = await openEditor(quire, 'Carol', room)
  await expectBadge(carol, 'All changes saved')
  // Polled: the editor renders the synced document a moment after the sync; lost data never appears.
  await expect(async () => {
    const fromDisk = await readDocument(carol)
    expectStillHolds(fromDisk, savedByAlice)
    expectStillHolds(fromDisk, savedByBob)
  }).toPass({ timeout: 10_000 })

  // Back on the network, the pages reconnect by themselves (no reload, no click)
  // and send what the server never acknowledged.
  for (const page of [alice, bob]) await page.context().setOffline(false)
  const merged = await expectConverged([alice, bob, carol], 30_000)
  expect(merged).toEqual([
    { tag: 'p', text: 'Saved before the crash. Typing while the server dies.' },
    { tag: 'p', text: 'Bob saved this too. Bob typed while it was down.' }
  ])
  for (const page of [alice, bob, carol]) await expectBadge(page, 'All changes saved', 30_000)

  // A second crash with everyone online: restarted at once, every page finds it again on its own.
  await quire.crash()
  for (const page of [alice, bob, carol]) await expectBadge(page, 'Offline')
  await quire.restart()
  for (const page of [alice, bob, carol]) await expectBadge(page, 'All changes saved', 30_000)
  await moveCaretToEnd(carol)
  await carol.keyboard.press('Enter')
  await typeText(carol, 'Carol after the second restart.')
  const final = await expectConverged([alice, bob, carol])
  expect(final.at(-1)).toEqual({ tag: 'p', text: 'Carol after the second restart.' })
  for (const page of [alice, bob, carol]) await expectBadge(page, 'All changes saved')
})
