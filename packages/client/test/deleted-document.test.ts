import { describe, expect, it } from 'vitest'
import { IndexeddbPersistence } from 'y-indexeddb'
import * as Y from 'yjs'
import type { QuireServerFixture } from '@quire/testkit'
import { expectUnchangedFor, uniqueName, waitFor } from './client-fixture.js'
import { disposeAfterEachTest } from './test-resources.js'

/**
 * A document deleted on the server (`DELETE /api/v1/documents/<room>`): its sessions are
 * closed with 4404 and a tombstone refuses it. The session stops for good, drops its local
 * copy when it holds nothing unsaved, and otherwise keeps it and hands the application
 * the document to save a copy.
 */
const { server, proxy, session } = disposeAfterEachTest()

async function deleteOnServer(fixture: QuireServerFixture, room: string): Promise<void> {
  const response = await fetch(`${fixture.httpUrl}/api/v1/documents/${encodeURIComponent(room)}`, { method: 'DELETE' })
  expect(response.status).toBe(200)
}

/** What a fresh load of the local copy holds. */
async function localText(databaseName: string): Promise<string> {
  const doc = new Y.Doc()
  const persistence = new IndexeddbPersistence(databaseName, doc)
  await persistence.whenSynced
  const text = doc.getText('t').toString()
  await persistence.destroy()
  return text
}

describe('@quire/client: a deleted document', () => {
  it('a saved session is told, stops reconnecting, and its local copy is gone', async () => {
    const fixture = await server()
    const net = await proxy(fixture)
    const room = uniqueName('doc')
    const databaseName = uniqueName('browser')
    const reader = session({ url: net.url, room, databaseName, backoff: () => 20 })
    await reader.whenSynced
    reader.doc.getText('t').insert(0, 'saved, then deleted')
    await waitFor('saved', () => reader.saved === true)
    const deleted = new Promise<{ reason: string; unsaved: Uint8Array | null }>((resolve) => reader.on('deleted', resolve))
    await deleteOnServer(fixture, room)
    expect(await deleted).toEqual({ reason: 'document deleted', unsaved: null })
    expect(reader.status).toBe('disconnected')
    await expectUnchangedFor('connection attempts after the deletion', () => net.connectionAttempts, 300)
    expect(await localText(databaseName)).toBe('')
  })

  it('a session with unsaved work keeps its copy and hands it over; the server keeps the document deleted', async () => {
    const fixture = await server()
    const net = await proxy(fixture)
    const room = uniqueName('doc')
    const databaseName = uniqueName('browser')
    const writer = session({ url: net.url, room, databaseName, backoff: () => 20 })
    await writer.whenSynced
    writer.doc.getText('t').insert(0, 'saved. ')
    await waitFor('saved', () => writer.saved === true)
    // Cut off from the server, the writer types on; meanwhile the document is deleted.
    net.setRefusing(true)
    net.dropAll()
    await waitFor('offline', () => writer.status === 'disconnected')
    writer.doc.getText('t').insert(7, 'typed while away.')
    expect(writer.unsavedChanges).toBe(true)
    await deleteOnServer(fixture, room)
    const deleted = new Promise<{ reason: string; unsaved: Uint8Array | null }>((resolve) => writer.on('deleted', resolve))
    net.setRefusing(false)
    const { unsaved } = await deleted
    if (unsaved === null) throw new Error('the unsaved work was not handed over')
    const copy = new Y.Doc()
    Y.applyUpdate(copy, unsaved)
    expect(copy.getText('t').toString()).toBe('saved. typed while away.')
    expect(await localText(databaseName)).toBe('saved. typed while away.')
    // The stale copy did not bring the document back.
    const probe = await fetch(`${fixture.httpUrl}/api/v1/documents/${encodeURIComponent(room)}`)
    expect(probe.status).toBe(410)
  })
})
