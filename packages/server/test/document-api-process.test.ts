import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { CLOSE_DOCUMENT_DELETED } from '@quire/protocol'
import { spawnQuireServer, type SpawnedQuireServer } from '@quire/testkit'
import { joinClone, startCluster, type Cleanups } from './clone-cluster.js'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * The document API of the real CLI process (`quire serve`): a POSTed update, once
 * answered, survives kill -9; and with several clones (PostgreSQL + Redis), a DELETE on
 * one closes the room's clients on every clone with 4404.
 */

const cleanups: Cleanups = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const API_KEY = 'process-test-key-0123456789'
const auth = { authorization: `Bearer ${API_KEY}` }

function documentUrl(server: SpawnedQuireServer, room: string): string {
  return `${server.httpUrl}/api/v1/documents/${encodeURIComponent(room)}`
}

async function getText(server: SpawnedQuireServer, room: string): Promise<string> {
  const response = await fetch(documentUrl(server, room), { headers: auth })
  expect(response.status).toBe(200)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, new Uint8Array(await response.arrayBuffer()))
  return doc.getText('t').toString()
}

function recordCloses(client: StockClient): number[] {
  const codes: number[] = []
  client.provider.on('connection-close', (event: { code: number } | null) => {
    if (event) codes.push(event.code)
  })
  return codes
}

describe('document API: the quire serve process', () => {
  it('keeps every answered POST across kill -9, and relays each to a connected client', async () => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-api-process-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const start = async (port?: number): Promise<SpawnedQuireServer> => {
      const server = await spawnQuireServer({
        dataDir,
        args: ['--api-key-env', 'QUIRE_TEST_API_KEY'],
        env: { QUIRE_TEST_API_KEY: API_KEY },
        ...(port === undefined ? {} : { port })
      })
      cleanups.push(() => server.kill('SIGKILL'))
      return server
    }
    const server = await start()
    await waitUntil(() => server.output().includes('document API at /api/v1: API keys from $QUIRE_TEST_API_KEY'), { describe: () => server.output() })
    const client = createStockClient(server.url, 'durable', { maxBackoffTime: 100 })
    cleanups.push(() => client.destroy())
    await client.synced()

    const backend = new Y.Doc()
    backend.clientID = 77
    const postText = async (text: string): Promise<void> => {
      const before = Y.encodeStateVector(backend)
      backend.getText('t').insert(backend.getText('t').length, text)
      const response = await fetch(`${documentUrl(server, 'durable')}/updates`, { method: 'POST', headers: auth, body: Y.encodeStateAsUpdate(backend, before) })
      expect(response.status).toBe(200)
    }
    for (let i = 0; i < 10; i++) await postText(`${i};`)
    // Relayed at once, to a client that never wrote.
    await waitUntil(() => client.doc.getText('t').toString() === backend.getText('t').toString())
    // A large last write (its fsync takes a while), and the process killed the moment its
    // answer arrived: an answer sent before the write was durable would lose it.
    await postText('x'.repeat(4 * 1024 * 1024))
    const expected = backend.getText('t').toString()
    await server.kill('SIGKILL')
    const restarted = await start()
    expect(await getText(restarted, 'durable')).toBe(expected)
    expect((await fetch(documentUrl(restarted, 'durable'))).status).toBe(401)
  })
})

describe('document API: several clones', () => {
  it('a DELETE on one clone closes the room\'s clients on every clone with 4404, and every clone refuses the room', async () => {
    const cluster = await startCluster(2, cleanups)
    const [first, second] = cluster.clones as [SpawnedQuireServer, SpawnedQuireServer]
    const a = joinClone(first, 'shared/doc', cleanups)
    const b = joinClone(second, 'shared/doc', cleanups)
    const closesA = recordCloses(a)
    const closesB = recordCloses(b)
    await Promise.all([a.synced(), b.synced()]).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${first.output()}\n${second.output()}`)
    })
    a.doc.getText('t').insert(0, 'across clones')
    await waitUntil(() => b.doc.getText('t').toString() === 'across clones')

    const deleted = await fetch(documentUrl(second, 'shared/doc'), { method: 'DELETE' })
    expect(deleted.status).toBe(200)
    await waitUntil(() => closesA.includes(CLOSE_DOCUMENT_DELETED) && closesB.includes(CLOSE_DOCUMENT_DELETED), {
      describe: () => `first clone's client: ${closesA.join(', ')}; second's: ${closesB.join(', ')}`
    })
    // A stale copy reconnecting to the other clone is refused there too (the tombstone is in PostgreSQL).
    const stale = createStockClient(first.url, 'shared/doc', { doc: a.doc, maxBackoffTime: 100 })
    cleanups.push(() => stale.destroy())
    const closesStale = recordCloses(stale)
    await waitUntil(() => closesStale.includes(CLOSE_DOCUMENT_DELETED))
    const gone = await fetch(documentUrl(first, 'shared/doc'))
    expect(gone.status).toBe(410)
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe('document-deleted')
  })
})
