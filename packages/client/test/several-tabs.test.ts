import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IndexeddbPersistence } from 'y-indexeddb'
import * as Y from 'yjs'
import { decodeSavedStateRecord } from '@quire/client'
import { readFromServer, uniqueName, waitFor } from './client-fixture.js'
import { disposeAfterEachTest } from './test-resources.js'
import { installWebLocks } from './web-locks.js'

/**
 * Tabs of one browser profile: sessions that share one IndexedDB database (the same
 * `databaseName`), each with its own Y.Doc and socket. Each must report its own saved
 * state right whatever the other does, and a tab that loads must count as unsaved the
 * work another tab left unacknowledged.
 */
let uninstallLocks: () => void = () => {}
beforeAll(() => {
  uninstallLocks = installWebLocks()
})
afterAll(() => uninstallLocks())

const { server, proxy, session: tab } = disposeAfterEachTest()

/** The keys of the saved-state records in a database, as the next tab to load finds them. */
async function recordKeys(databaseName: string): Promise<string[]> {
  const persistence = new IndexeddbPersistence(databaseName, new Y.Doc())
  await persistence.whenSynced
  const db = await persistence._db
  const keys = await new Promise<IDBValidKey[]>((resolve, reject) => {
    const request = db.transaction('custom', 'readonly').objectStore('custom').getAllKeys()
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
  await persistence.destroy()
  return keys.map(String).filter((key) => key.startsWith('quire:saved-state')).sort()
}

/** How many saved-state records in a database say that some work is unsaved. */
async function unsavedRecords(databaseName: string): Promise<number> {
  const persistence = new IndexeddbPersistence(databaseName, new Y.Doc())
  await persistence.whenSynced
  let unsaved = 0
  for (const key of await recordKeys(databaseName)) {
    const value: unknown = await persistence.get(key)
    const record = value instanceof ArrayBuffer ? decodeSavedStateRecord(new Uint8Array(value)) : null
    if (record?.ok === true && record.tracker.hasUnsavedChanges) unsaved++
  }
  await persistence.destroy()
  return unsaved
}

/** Polls an asynchronous condition (an IndexedDB read) for up to 5 s. */
async function eventually(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('@quire/client: several tabs of one document', () => {
  it("a tab offline with edits stays unsaved through another tab's saves and its own reload, then saves", async () => {
    const fixture = await server()
    const room = uniqueName('doc')
    const profile = uniqueName('profile')
    // Both tabs open; one is offline (its socket closed, as `disconnect()` or a per-page
    // network block leave it) and types.
    const onlineTab = tab({ url: fixture.url, room, databaseName: profile })
    await onlineTab.whenSynced
    const offlineTab = tab({ url: fixture.url, room, databaseName: profile, connect: false })
    await offlineTab.whenLoaded
    offlineTab.doc.getText('t').insert(0, 'typed offline. ')
    expect(offlineTab.unsavedChanges).toBe(true)
    // Its record (with the unsaved work) is written before the other tab writes its own again.
    await eventually(async () => (await unsavedRecords(profile)) === 1)
    onlineTab.doc.getText('t').insert(0, 'typed online. ')
    await waitFor('the online tab saved', () => onlineTab.saved === true)
    expect(offlineTab.unsavedChanges).toBe(true)
    expect(offlineTab.saved).not.toBe(true)

    // The offline tab reloads, still offline: its unsaved work is still known as such.
    await offlineTab.destroy()
    const reloaded = tab({ url: fixture.url, room, databaseName: profile, connect: false })
    await reloaded.whenLoaded
    expect(reloaded.doc.getText('t').toString()).toContain('typed offline. ')
    expect(reloaded.unsavedChanges).toBe(true)
    expect(onlineTab.saved).toBe(true)

    reloaded.reconnect()
    await waitFor('the reloaded tab saved', () => reloaded.saved === true)
    await waitFor('the online tab sees the offline work', () => onlineTab.doc.getText('t').toString().includes('typed offline. '))
    expect(onlineTab.doc.getText('t').toString()).toBe(reloaded.doc.getText('t').toString())
    expect(onlineTab.saved).toBe(true)
    expect((await readFromServer(fixture.url, room)).getText('t').toString()).toBe(reloaded.doc.getText('t').toString())
  })

  it('work of a tab closed before its acknowledgement is unsaved in the next tab until the server acknowledges it', async () => {
    const fixture = await server()
    const net = await proxy(fixture)
    const room = uniqueName('doc')
    const profile = uniqueName('profile')
    const closing = tab({ url: net.url, room, databaseName: profile })
    await closing.whenSynced
    net.setSwallowingDownstream(true)
    closing.doc.getText('t').insert(0, 'sent, never acknowledged. ')
    const onServer = async (): Promise<string> => (await readFromServer(fixture.url, room)).getText('t').toString()
    await eventually(async () => (await onServer()) === 'sent, never acknowledged. ')
    expect(closing.saved).toBe(false)
    await closing.destroy()
    expect(await recordKeys(profile)).toHaveLength(1)

    // The next tab loads the work and that tab's record: unsaved, until it resends and hears back.
    const next = tab({ url: fixture.url, room, databaseName: profile, connect: false })
    await next.whenLoaded
    expect(next.unsavedChanges).toBe(true)
    next.reconnect()
    await waitFor('the next tab has it acknowledged', () => next.saved === true)
    // The closed tab's record went once the next tab's own held its content.
    await eventually(async () => (await recordKeys(profile)).length === 1)
  })

  it("a living tab's record is never removed by another tab; an abandoned one is", async () => {
    const fixture = await server()
    const room = uniqueName('doc')
    const profile = uniqueName('profile')
    const first = tab({ url: fixture.url, room, databaseName: profile, connect: false })
    await first.whenLoaded
    first.doc.getText('t').insert(0, 'first ')
    const second = tab({ url: fixture.url, room, databaseName: profile, connect: false })
    await second.whenLoaded
    second.doc.getText('t').insert(0, 'second ')
    const third = tab({ url: fixture.url, room, databaseName: profile, connect: false })
    await third.whenLoaded
    // Three living tabs, three records (the third merged both others' into its own).
    expect(await recordKeys(profile)).toHaveLength(3)
    expect(third.unsavedChanges).toBe(true)
    await second.destroy()
    // The second tab had unsaved work: its record stays until a tab that loads takes it over.
    expect(await recordKeys(profile)).toHaveLength(3)
    const fourth = tab({ url: fixture.url, room, databaseName: profile, connect: false })
    await fourth.whenLoaded
    expect(fourth.doc.getText('t').toString()).toContain('second ')
    expect(fourth.unsavedChanges).toBe(true)
    // first, third, fourth: the second's record was merged into the fourth's and removed.
    await eventually(async () => (await recordKeys(profile)).length === 3)
    await fourth.destroy()
    const fifth = tab({ url: fixture.url, room, databaseName: profile, connect: false })
    await fifth.whenLoaded
    expect(fifth.unsavedChanges).toBe(true)
  })
})
