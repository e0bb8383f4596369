import { expect, test } from '../support/quire-test.js'
import {
  editorOf,
  expectBadge,
  lastSavedSnapshot,
  moveCaretToEnd,
  readDocument,
  recordSavedSnapshots,
  typeText,
  uniqueRoom
} from '../support/editor-page.js'
import type { DemoClones } from '../support/demo-clones.js'
import { readStoredBlockTexts } from '../support/stored-document.js'

/** Waits until the page's WebSocket is the only connection of all clones, and returns the clone holding it. */
async function cloneOfThePage(cluster: DemoClones): Promise<number> {
  const message = "exactly one clone should hold exactly one connection, the page's"
  await expect.poll(() => cluster.cloneHoldingTheOnlyConnection(), { message }).not.toBeNull()
  const clone = await cluster.cloneHoldingTheOnlyConnection()
  if (clone === null) throw new Error(message)
  return clone
}

test('the clone a page is on is killed with SIGKILL: the page reconnects through HAProxy to another clone by itself, and what it showed as saved is in PostgreSQL', async ({
  launchClones,
  openEditor
}) => {
  const cluster = await launchClones()
  const room = uniqueRoom('failover')
  const alice = await openEditor(cluster, 'Alice', room)
  await recordSavedSnapshots(alice)

  await moveCaretToEnd(alice)
  await typeText(alice, 'Saved on the first clone.')
  await expectBadge(alice, 'All changes saved')
  const first = await cloneOfThePage(cluster)
  const savedBefore = await lastSavedSnapshot(alice)
  expect(savedBefore).toEqual([{ tag: 'p', text: 'Saved on the first clone.' }])

  // Alice is mid-sentence when her clone is killed; the rest of her typing waits for another one.
  const typing = typeText(alice, ' Typed while its clone dies.', 60)
  await expect(editorOf(alice)).toContainText('Typed wh')
  await cluster.crash(first)
  await typing
  // No reload, no click: the page reconnects through HAProxy and its edits are saved again.
  await expectBadge(alice, 'All changes saved', 30_000)
  const second = await cloneOfThePage(cluster)
  expect(second).not.toBe(first)

  await moveCaretToEnd(alice)
  await typeText(alice, ' Typed after the failover.')
  await expectBadge(alice, 'All changes saved')
  const savedAfter = await lastSavedSnapshot(alice)
  expect(savedAfter).toEqual([{ tag: 'p', text: 'Saved on the first clone. Typed while its clone dies. Typed after the failover.' }])

  // The page said so only once PostgreSQL had it: read it back as a clone would load it.
  expect(await readStoredBlockTexts(cluster.schema.url, room)).toEqual(savedAfter.map((block) => block.text))

  // Someone opening the document afterwards, through HAProxy, gets the same text.
  const bob = await openEditor(cluster, 'Bob', room)
  await expect.poll(() => readDocument(bob)).toEqual(savedAfter)
})
