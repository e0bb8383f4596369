import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { IndexeddbPersistence } from 'y-indexeddb'
import { assertConverged, startQuireServer, type QuireServerFixture } from '@quire/testkit'
import type { QuireSession } from '@quire/client'
import { findFreePort, startTcpProxy, type TcpProxy } from './tcp-proxy.js'
import { openSession, readFromServer, uniqueName, waitFor } from './client-fixture.js'

/** Everything a test opened, released whatever the outcome. */
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function server(options: { port?: number } = {}): Promise<QuireServerFixture> {
  const fixture = await startQuireServer(options)
  cleanups.push(() => fixture.close())
  return fixture
}

async function proxy(target: { port: number }): Promise<TcpProxy> {
  const p = await startTcpProxy(target)
  cleanups.push(() => p.close())
  return p
}

function session(options: Parameters<typeof openSession>[0]): QuireSession {
  const s = openSession(options)
  cleanups.push(() => s.destroy())
  return s
}

describe('@quire/client offline first', () => {
  it('shows the local copy when the server is down, and two offline clients converge once it starts', async () => {
    const port = await findFreePort()
    const url = `ws://127.0.0.1:${port}`
    const room = uniqueName('room with spaces/and ?odd& chars')
    const dbA = uniqueName('browser-a')

    // An earlier visit left a local copy in browser A (written while offline).
    const earlier = session({ url, room, databaseName: dbA, connect: false })
    await earlier.whenLoaded
    earlier.doc.getText('t').insert(0, 'from before. ')
    await earlier.destroy()

    const a = session({ url, room, databaseName: dbA })
    const b = session({ url, room, databaseName: uniqueName('browser-b') })
    await Promise.all([a.whenLoaded, b.whenLoaded])
    expect(a.doc.getText('t').toString()).toBe('from before. ')
    expect(a.unsavedChanges).toBe(true)
    expect(a.status).not.toBe('connected')

    a.doc.getText('t').insert(a.doc.getText('t').length, 'A offline. ')
    b.doc.getText('t').insert(0, 'B offline. ')
    b.doc.getMap('m').set('who', 'b')
    expect(a.doc.getText('t').toString()).toContain('A offline.')
    expect(b.unsavedChanges).toBe(true)

    await server({ port })
    await waitFor('both synced', () => a.synced && b.synced)
    await waitFor('convergence', () => a.doc.getText('t').toString() === b.doc.getText('t').toString() && a.doc.getMap('m').get('who') === 'b')
    assertConverged([a.doc, b.doc])
    await waitFor('both saved', () => a.saved === true && b.saved === true)
    expect(a.unsavedChanges).toBe(false)
    const text = a.doc.getText('t').toString()
    expect(text).toContain('from before. ')
    expect(text).toContain('A offline. ')
    expect(text).toContain('B offline. ')
    const stored = await readFromServer(url, room)
    assertConverged([stored, a.doc])
  })

  it('edits offline, resyncs by itself, converges with another client; saved goes false then true', async () => {
    const fixture = await server()
    const net = await proxy(fixture)
    const room = uniqueName('doc')
    const a = session({ url: net.url, room, databaseName: uniqueName('a') })
    const b = session({ url: fixture.url, room, databaseName: uniqueName('b') })
    const savedHistory: Array<boolean | null> = []
    a.on('saved', (saved) => savedHistory.push(saved))
    await Promise.all([a.whenSynced, b.whenSynced])
    await waitFor('a knows the server acknowledges', () => a.saved === true)

    net.setRefusing(true)
    net.dropAll()
    await waitFor('a disconnected', () => a.status === 'disconnected')
    a.doc.getText('t').insert(0, 'written offline')
    expect(a.saved).toBe(false)
    b.doc.getText('t').insert(0, 'online edit ')

    net.setRefusing(false)
    await waitFor('a saved again', () => a.saved === true)
    await waitFor('convergence', () => a.doc.getText('t').toString() === b.doc.getText('t').toString())
    assertConverged([a.doc, b.doc])
    expect(savedHistory).toEqual([true, false, true])
  })

  it('regression: a deletion made offline is unsaved until the server acknowledges it', async () => {
    const fixture = await server()
    const net = await proxy(fixture)
    const room = uniqueName('doc')
    const a = session({ url: net.url, room, databaseName: uniqueName('a') })
    await a.whenSynced
    a.doc.getText('t').insert(0, 'abcdef')
    await waitFor('insert saved', () => a.saved === true)
    net.setRefusing(true)
    net.dropAll()
    await waitFor('a disconnected', () => a.status === 'disconnected')
    a.doc.getText('t').delete(1, 3)
    expect(a.saved).toBe(false)
    net.setRefusing(false)
    await waitFor('deletion saved', () => a.saved === true)
    expect((await readFromServer(fixture.url, room)).getText('t').toString()).toBe('aef')
  })

  it('regression: resends structs the server holds but never acknowledged (acknowledgement lost in transit)', async () => {
    const fixture = await server()
    const net = await proxy(fixture)
    const room = uniqueName('doc')
    const a = session({ url: net.url, room, databaseName: uniqueName('a') })
    const observer = session({ url: fixture.url, room, offline: false })
    await Promise.all([a.whenSynced, observer.whenSynced])
    await waitFor('a knows the server acknowledges', () => a.saved === true)

    net.setSwallowingDownstream(true)
    a.doc.getText('t').insert(0, 'ack goes missing')
    // The server got it (it relayed it), but its acknowledgement is swallowed.
    await waitFor('observer sees the edit', () => observer.doc.getText('t').toString() === 'ack goes missing')
    expect(a.saved).toBe(false)
    net.dropAll()
    net.setSwallowingDownstream(false)
    // On reconnect the server's state vector already covers the edit, so sync step 2
    // carries nothing of it; only the resend can earn the acknowledgement.
    await waitFor('saved after reconnect', () => a.saved === true)
  })

  it('regression: a page closed before its acknowledgement arrived becomes saved when reopened', async () => {
    const fixture = await server()
    const net = await proxy(fixture)
    const room = uniqueName('doc')
    const databaseName = uniqueName('browser')
    const observer = session({ url: fixture.url, room, offline: false })
    const first = openSession({ url: net.url, room, databaseName })
    await Promise.all([first.whenSynced, observer.whenSynced])
    await waitFor('first knows the server acknowledges', () => first.saved === true)
    net.setSwallowingDownstream(true)
    first.doc.getText('t').insert(0, 'typed just before closing the tab')
    await waitFor('server relayed it', () => observer.doc.getText('t').length > 0)
    await first.destroy() // the tab closes; its acknowledgement never arrived
    net.setSwallowingDownstream(false)

    const reopened = session({ url: net.url, room, databaseName })
    await reopened.whenLoaded
    expect(reopened.saved).toBe(false)
    // The server holds these structs under the old client id: only an acknowledgement
    // of the resend can clear them, otherwise the page says "unsaved" forever.
    await waitFor('reopened page saved', () => reopened.saved === true)
  })

  it('reload with unsaved work: a new session on the same IndexedDB, still offline, reports it; connecting saves it', async () => {
    const port = await findFreePort()
    const url = `ws://127.0.0.1:${port}`
    const fixture = await server({ port })
    const net = await proxy(fixture)
    const room = uniqueName('doc')
    const databaseName = uniqueName('browser')

    const first = openSession({ url: net.url, room, databaseName })
    await first.whenSynced
    first.doc.getText('t').insert(0, 'saved part. ')
    await waitFor('first edit saved', () => first.saved === true)
    net.setRefusing(true)
    net.dropAll()
    await waitFor('offline', () => first.status === 'disconnected')
    first.doc.getText('t').insert(12, 'unsaved part.')
    first.doc.getText('t').delete(0, 6) // "saved " deleted: a deletion-only change as well
    expect(first.saved).toBe(false)
    const firstClientId = first.doc.clientID
    await first.destroy()

    const reloadedDoc = new Y.Doc()
    const reloaded = session({ url: net.url, room, databaseName, doc: reloadedDoc })
    const events: Array<boolean | null> = []
    reloaded.on('saved', (saved) => events.push(saved))
    await reloaded.whenLoaded
    expect(reloadedDoc.clientID).not.toBe(firstClientId)
    expect(reloadedDoc.getText('t').toString()).toBe('part. unsaved part.')
    expect(reloaded.unsavedChanges).toBe(true)
    expect(reloaded.saved).toBe(false)

    net.setRefusing(false)
    await waitFor('reloaded session saved', () => reloaded.saved === true)
    expect(events.at(-1)).toBe(true)
    expect((await readFromServer(url, room)).getText('t').toString()).toBe('part. unsaved part.')
  })

  it('clearLocalData() removes the IndexedDB copy', async () => {
    const fixture = await server()
    const room = uniqueName('doc')
    const databaseName = uniqueName('browser')
    const a = session({ url: fixture.url, room, databaseName })
    await a.whenSynced
    a.doc.getText('t').insert(0, 'private')
    await waitFor('saved', () => a.saved === true)
    const listed = async (): Promise<boolean> => (await indexedDB.databases()).some((info) => info.name === databaseName)
    expect(await listed()).toBe(true)

    await a.clearLocalData()
    expect(await listed()).toBe(false)
    // Nothing comes back: a fresh copy under the same name is empty.
    const probe = new Y.Doc()
    const persistence = new IndexeddbPersistence(databaseName, probe)
    await persistence.whenSynced
    expect(probe.getText('t').toString()).toBe('')
    expect(await persistence.get('quire:saved-state')).toBeUndefined()
    await persistence.clearData()
    // The session itself keeps working online.
    a.doc.getText('t').insert(7, '!')
    await waitFor('still saving', () => a.saved === true)
  })
})
