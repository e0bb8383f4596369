import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createServer } from '@quire/server'
import { createTestSchema } from '@quire/testkit'
import { createPostgresStorage } from '@quire/postgres'

/**
 * Version history on PostgreSQL (its own schema, dropped after): versions recorded over
 * the API, a restore as a forward update, a compaction that leaves them alone, and a
 * delete that takes them with the document.
 */
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('version history on PostgreSQL', () => {
  it('names, lists, shows and restores versions, and deletes them with the document', async () => {
    const schema = await createTestSchema('versions')
    cleanups.push(() => schema.drop())
    const storage = await createPostgresStorage({ connectionString: schema.url })
    cleanups.push(() => storage.close())
    const server = createServer({ storage, tombstoneDays: 0 })
    const { url } = await server.listen(0, '127.0.0.1')
    cleanups.push(() => server.close())
    const api = `${url}/api/v1/documents/pg-doc`

    const doc = new Y.Doc()
    const write = async (change: () => void): Promise<void> => {
      const before = Y.encodeStateVector(doc)
      change()
      const response = await fetch(`${api}/updates`, { method: 'POST', body: Y.encodeStateAsUpdate(doc, before) })
      expect(response.status).toBe(200)
    }
    await write(() => doc.getText('t').insert(0, 'first draft'))
    const named = await fetch(`${api}/versions`, { method: 'POST', body: JSON.stringify({ name: 'Draft' }) })
    expect(named.status).toBe(201)
    const draft = (await named.json()) as { id: number; summary: { inserted: number } }
    expect(draft.summary.inserted).toBe(11)
    await write(() => {
      doc.getText('t').delete(0, 5)
      doc.getText('t').insert(0, 'second')
    })
    // A compaction of the log leaves the history alone.
    const log = await storage.load('pg-doc')
    await storage.replace('pg-doc', Y.mergeUpdates(log.updates), log.lastSeq)

    const restored = await fetch(`${api}/versions/${draft.id}/restore`, { method: 'POST' })
    expect(restored.status).toBe(200)
    expect(await restored.json()).toMatchObject({ kind: 'restore', name: 'Restored from Draft', restoredFrom: draft.id })
    const now = new Y.Doc()
    Y.applyUpdate(now, new Uint8Array(await (await fetch(api)).arrayBuffer()))
    expect(now.getText('t').toString()).toBe('first draft')
    const listed = (await (await fetch(`${api}/versions`)).json()) as { versions: Array<{ kind: string }> }
    expect(listed.versions.map((v) => v.kind)).toEqual(['restore', 'named'])
    const shown = new Y.Doc()
    Y.applyUpdate(shown, new Uint8Array(await (await fetch(`${api}/versions/${draft.id}?format=update`)).arrayBuffer()))
    expect(shown.getText('t').toString()).toBe('first draft')

    expect((await fetch(api, { method: 'DELETE' })).status).toBe(200)
    expect(await storage.versions?.list('pg-doc')).toEqual([])
    expect((await fetch(api, { method: 'PUT' })).status).toBe(201)
    expect(((await (await fetch(`${api}/versions`)).json()) as { versions: unknown[] }).versions).toEqual([])
  })
})
