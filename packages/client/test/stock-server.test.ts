import { afterEach, describe, expect, it } from 'vitest'
import { assertConverged, startQuireServer } from '@quire/testkit'
import type { QuireSession } from '@quire/client'
import { startStockSyncServer } from './stock-sync-server.js'
import { openSession, uniqueName, waitFor } from './client-fixture.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function session(options: Parameters<typeof openSession>[0]): QuireSession {
  const s = openSession(options)
  cleanups.push(() => s.destroy())
  return s
}

describe('@quire/client against a server without the acknowledgement extension', () => {
  it('syncs, and says saved is unknown (null) instead of claiming true or false', async () => {
    const stock = await startStockSyncServer()
    cleanups.push(() => stock.close())
    const room = uniqueName('ünïcode room/with?query&chars')
    const a = session({ url: stock.url, room, databaseName: uniqueName('a') })
    const b = session({ url: stock.url, room, databaseName: uniqueName('b') })
    const savedEvents: Array<boolean | null> = []
    a.on('saved', (saved) => savedEvents.push(saved))
    await Promise.all([a.whenSynced, b.whenSynced])
    a.doc.getText('t').insert(0, 'hello from a')
    b.doc.getMap('m').set('from', 'b')
    await waitFor('convergence', () => a.doc.getMap('m').get('from') === 'b' && b.doc.getText('t').toString() === 'hello from a')
    assertConverged([a.doc, b.doc])
    // The room name reached the server decoded exactly once.
    expect(stock.docOf(room)?.getText('t').toString()).toBe('hello from a')
    expect(a.saved).toBeNull()
    expect(a.unsavedChanges).toBe(true) // nobody acknowledged the edit
    expect(savedEvents).toEqual([])
  })

  it('learns acknowledgements are supported when the same document later syncs with a Quire server', async () => {
    const stock = await startStockSyncServer()
    cleanups.push(() => stock.close())
    const room = uniqueName('doc')
    const databaseName = uniqueName('browser')
    const first = openSession({ url: stock.url, room, databaseName })
    await first.whenSynced
    first.doc.getText('t').insert(0, 'typed against a stock server')
    await waitFor('stock server has it', () => stock.docOf(room)?.getText('t').length === 28)
    expect(first.saved).toBeNull()
    await first.destroy()

    const quire = await startQuireServer()
    cleanups.push(() => quire.close())
    const second = session({ url: quire.url, room, databaseName })
    await second.whenLoaded
    expect(second.saved).toBeNull() // still unknown: the last server never acknowledged
    expect(second.unsavedChanges).toBe(true)
    await waitFor('saved on the Quire server', () => second.saved === true)
  })
})
