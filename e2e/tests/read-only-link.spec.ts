import { expect, test } from '../support/quire-test.js'
import { editorOf, expectBadge, expectConverged, moveCaretToEnd, readDocument, typeText, uniqueRoom } from '../support/editor-page.js'
import { createSecret, findMissingAuthSupport, mintToken, SECRET_ENV } from '../support/room-tokens.js'

test('a read-only link shows the document live but cannot change it', async ({ launchQuire, openEditor }) => {
  // Token auth and share links are features of the CLI: without them this test fails, it
  // never skips itself (a skip would keep CI green with the feature gone).
  expect(findMissingAuthSupport(), 'the quire CLI offers token auth').toBeNull()

  const secret = createSecret()
  const server = await launchQuire({ args: ['--secret-env', SECRET_ENV], env: { [SECRET_ENV]: secret } })
  const probe = await fetch(`${server.httpUrl}/api/share?room=probe&access=read`)
  expect(probe.status, `GET /api/share must exist and refuse a request without a token (it answered: ${await probe.clone().text()})`).toBe(401)

  const room = uniqueRoom('read-only')
  const writeToken = mintToken(secret, room, 'write', 'alice')
  const alice = await openEditor(server, 'Alice', room, writeToken)
  await expect(alice.getByTestId('access-badge')).toBeHidden()
  await moveCaretToEnd(alice)
  await typeText(alice, 'Only writers can change this.')
  await expectBadge(alice, 'All changes saved')

  // Alice asks the server for a read-only link and hands it over.
  await alice.getByTestId('share-read-only-button').click()
  await expect(alice.getByTestId('share-access')).toHaveText('read')
  await expect(alice.getByTestId('share-url')).toHaveValue(/\/d\/.+\?token=/)
  const link = new URL(await alice.getByTestId('share-url').inputValue())
  expect(link.origin).toBe(server.httpUrl)
  const readToken = link.searchParams.get('token')
  expect(readToken).not.toBeNull()
  expect(readToken).not.toBe(writeToken)

  const bob = await openEditor(server, 'Bob', room, readToken ?? '')
  expect(new URL(bob.url()).href).toBe(link.href)
  await expect(editorOf(bob)).toContainText('Only writers can change this.')
  await expect(bob.getByTestId('access-badge')).toHaveText('Read-only')
  await expect(editorOf(bob)).toHaveAttribute('contenteditable', 'false')
  await expect(bob.getByTestId('tool-bold')).toBeDisabled()
  await expect(bob.getByTestId('share-read-only-button')).toBeHidden()
  await expectBadge(bob, 'All changes saved')
  // Passing the link on can only pass on read access.
  await bob.getByTestId('share-button').click()
  await expect(bob.getByTestId('share-access')).toHaveText('read')
  await expect(bob.getByTestId('share-url')).toHaveValue(link.href)
  // A reader is present (awareness is allowed) ...
  await expect(alice.getByTestId('presence-list')).toContainText('Bob')

  // ... but typing does nothing, here or for the writer.
  await editorOf(bob).click()
  await typeText(bob, 'vandalism')
  expect(await readDocument(bob)).toEqual([{ tag: 'p', text: 'Only writers can change this.' }])

  // The writer keeps writing and the reader follows live.
  await moveCaretToEnd(alice)
  await typeText(alice, ' Still live.')
  const document = await expectConverged([alice, bob])
  expect(document).toEqual([{ tag: 'p', text: 'Only writers can change this. Still live.' }])
  await expectBadge(alice, 'All changes saved')

  // A fresh browser with the writer's token sees what the server stored: no trace of the reader's typing.
  const carol = await openEditor(server, 'Carol', room, writeToken)
  await expectBadge(carol, 'All changes saved')
  await expect.poll(() => readDocument(carol)).toEqual(document)

  // Without a token the server refuses the page, and the badge says so instead of "Offline".
  const stranger = await openEditor(server, 'Stranger', room)
  await expectBadge(stranger, 'No access')
  expect(await readDocument(stranger)).not.toEqual(document)
})
