import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { IndexeddbPersistence } from 'y-indexeddb'
import { createMemoryStorage, type Storage } from '@quire/server'
import { assertConverged, docFromUpdates, spawnQuireServer, startQuireServer, type SpawnedQuireServer } from '@quire/testkit'
import { startTcpProxy } from './tcp-proxy.js'
import { openSession, readFromServer, uniqueName, waitFor } from './client-fixture.js'
import { holdsUpdate, readStoredDocument, recordLocalUpdates } from './stored-document.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Updates that did not come from the user: the provider (an object with `ws`) or the IndexedDB copy. */
const isRemote = (origin: unknown): boolean =>
  origin instanceof IndexeddbPersistence || (typeof origin === 'object' && origin !== null && 'ws' in origin)

describe('@quire/client durability', () => {
  it('reports saved only once the server has written the update: kill -9 right after saved loses nothing', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'quire-client-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    let server: SpawnedQuireServer = await spawnQuireServer({ dataDir })
    cleanups.push(() => server.kill())
    const net = await startTcpProxy(server)
    cleanups.push(() => net.close())
    const room = uniqueName('doc')

    const a = openSession({ url: net.url, room, databaseName: uniqueName('a') })
    const b = openSession({ url: server.url, room, databaseName: uniqueName('b') })
    cleanups.push(() => a.destroy(), () => b.destroy())
    const ownUpdatesOfA = recordLocalUpdates(a.doc, isRemote)
    const history: Array<boolean | null> = []
    let armed = false
    let promised: Uint8Array | null = null
    let killed: Promise<void> | null = null
    a.on('saved', (saved) => {
      history.push(saved)
      if (saved === true && armed && killed === null) {
        // The very moment saved turns true: remember what it promised and kill the server.
        promised = ownUpdatesOfA()
        killed = server.kill('SIGKILL')
      }
    })
    await Promise.all([a.whenSynced, b.whenSynced])
    a.doc.getText('t').insert(0, 'base text that will be partly deleted')
    await waitFor('a saved', () => a.saved === true)

    net.setRefusing(true)
    net.dropAll()
    await waitFor('a offline', () => a.status === 'disconnected')
    a.doc.getText('t').insert(0, 'offline insert. ')
    a.doc.getText('t').delete(16 + 5, 5) // "text " of the base text
    a.doc.getMap('m').set('offline', true)
    b.doc.getText('t').insert(0, 'B online. ')
    expect(a.saved).toBe(false)

    armed = true
    net.setRefusing(false)
    await waitFor('a saved after reconnect', () => killed !== null)
    // Assigned in the status listener, which TypeScript's narrowing does not see.
    await (killed as Promise<void> | null)
    expect(history).toEqual([true, false, true, false, true])
    expect(a.unsavedChanges).toBe(false)

    const stored = await readStoredDocument(dataDir, room)
    expect(promised).not.toBeNull()
    expect(holdsUpdate(stored, promised as unknown as Uint8Array)).toBe(true)
    expect(stored.getText('t').toString()).toContain('offline insert. ')
    expect(stored.getText('t').toString()).not.toContain('text that')
    expect(stored.getMap('m').get('offline')).toBe(true)

    // Same port again: both clients come back by themselves and converge.
    server = await spawnQuireServer({ dataDir, port: server.port })
    await waitFor('b saved', () => b.saved === true)
    await waitFor('convergence', () => a.doc.getText('t').toString() === b.doc.getText('t').toString())
    assertConverged([a.doc, b.doc])
    assertConverged([await readFromServer(server.url, room), a.doc])
  })

  it('never runs ahead of a slow disk: each saved moment finds the changes already in storage', async () => {
    // A real storage whose writes take a while, as a loaded disk's fsync would.
    const inner = createMemoryStorage()
    const storage: Storage = {
      ...inner,
      append: async (batch) => {
        await new Promise((resolve) => setTimeout(resolve, 150))
        await inner.append(batch)
      }
    }
    const fixture = await startQuireServer({ storage })
    cleanups.push(() => fixture.close())
    const net = await startTcpProxy(fixture)
    cleanups.push(() => net.close())
    const room = uniqueName('doc')
    const a = openSession({ url: net.url, room, databaseName: uniqueName('a') })
    cleanups.push(() => a.destroy())
    const ownUpdates = recordLocalUpdates(a.doc, isRemote)
    const checks: Array<Promise<boolean>> = []
    a.on('saved', (saved) => {
      if (saved !== true) return
      const promised = ownUpdates()
      checks.push(inner.load(room).then((log) => holdsUpdate(docFromUpdates(log.updates), promised)))
    })
    await a.whenSynced
    a.doc.getText('t').insert(0, 'online edit')
    await waitFor('first save', () => a.saved === true && checks.length === 2)
    net.setRefusing(true)
    net.dropAll()
    await waitFor('offline', () => a.status === 'disconnected')
    a.doc.getText('t').insert(0, 'offline edit, ')
    a.doc.getText('t').delete(0, 8)
    net.setRefusing(false)
    await waitFor('saved after reconnect', () => a.saved === true && checks.length === 3)
    expect(await Promise.all(checks)).toEqual([true, true, true])
  })
})
