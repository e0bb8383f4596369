import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { encodeMessage } from '@quire/protocol'
import { createLevelStorage } from '@quire/server'
import { docFromUpdates, startQuireServer } from '@quire/testkit'
import { openRawClient } from './raw-client.js'
import { describeLostAcknowledged, describeUnsaved, foldSaved } from './saved-state.js'
import { createStockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * The Quire extension (outer type 100) end to end: a client that opts in with
 * `?quire=1` gets a hello and `quire-saved` acknowledgements that cover exactly what it
 * wrote, deletions included, and only once it is in LevelDB; a stock client never sees
 * a type 100 frame.
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(joinPath(tmpdir(), 'quire-ext-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

describe('Quire extension', () => {
  it('an opted-in client gets quire-hello version 1 after connecting', async () => {
    const server = await startQuireServer()
    cleanups.push(() => server.close())
    const client = await openRawClient(server.url, 'hello', { quire: true })
    cleanups.push(() => client.close())
    const hello = await client.waitForMessage((m) => m.type === 'quire-hello')
    expect(hello).toEqual({ type: 'quire-hello', version: 1 })
    expect(client.frames.find((f) => f[0] === 100)).toEqual(Uint8Array.of(100, 0, 1))
  })

  it('saved acknowledgements cover inserts and deletions, and what they cover is in LevelDB', async () => {
    const dataDir = await tempDir()
    let server = await startQuireServer({ dataDir })
    cleanups.push(() => server.close())
    const writer = createStockClient(server.url, 'acked', { quire: true })
    cleanups.push(() => writer.destroy())
    await writer.synced()
    const text = writer.doc.getText('t')
    for (let i = 0; i < 50; i++) text.insert(text.length, `word${i} `)
    writer.doc.getMap('m').set('k', { nested: true })
    const saved = () => foldSaved(writer.quireMessages)
    await waitUntil(() => describeUnsaved(writer.doc, saved()) === null, { describe: () => describeUnsaved(writer.doc, saved()) ?? '' })

    // A deletion-only edit moves no clock; the acknowledgement must still cover it.
    const clocksBefore = Y.encodeStateVector(writer.doc)
    text.delete(0, 20)
    writer.doc.getMap('m').delete('k')
    expect(Y.encodeStateVector(writer.doc)).toEqual(clocksBefore)
    expect(describeUnsaved(writer.doc, saved())).toMatch(/deletion/)
    await waitUntil(() => describeUnsaved(writer.doc, saved()) === null, { describe: () => describeUnsaved(writer.doc, saved()) ?? '' })
    const acknowledged = saved()

    writer.provider.destroy()
    await server.close()
    const storage = await createLevelStorage(dataDir)
    const stored = docFromUpdates((await storage.load('acked')).updates)
    await storage.close()
    expect(describeLostAcknowledged(stored, acknowledged)).toBeNull()
    expect(stored.getText('t').toString()).toBe(text.toString())
    server = await startQuireServer({ dataDir })
  })

  it('a stock client never receives a type 100 frame, as reader or as writer', async () => {
    const server = await startQuireServer()
    cleanups.push(() => server.close())
    const stockReader = await openRawClient(server.url, 'mixed')
    const stockWriter = await openRawClient(server.url, 'mixed')
    cleanups.push(() => stockReader.close())
    cleanups.push(() => stockWriter.close())
    await stockWriter.waitForMessage((m) => m.type === 'sync-step-1')
    const stockDoc = new Y.Doc()
    stockDoc.getText('t').insert(0, 'from a stock writer. ')
    await stockWriter.send(encodeMessage({ type: 'sync-update', update: Y.encodeStateAsUpdate(stockDoc) }))

    const quireWriter = createStockClient(server.url, 'mixed', { quire: true })
    cleanups.push(() => quireWriter.destroy())
    await quireWriter.synced()
    quireWriter.doc.getText('t').insert(0, 'from a quire writer. ')
    // Group commits go in order: once the quire writer is acknowledged, the stock writer's
    // earlier update is durable too, and any ack for it would have been sent.
    await waitUntil(() => describeUnsaved(quireWriter.doc, foldSaved(quireWriter.quireMessages), quireWriter.doc.clientID) === null)
    await waitUntil(() => stockReader.messages.some((m) => m.type === 'sync-update'))
    await waitUntil(() => quireWriter.doc.getText('t').toString().includes('stock writer'))
    // Acknowledgements speak only of what this connection sent.
    expect([...foldSaved(quireWriter.quireMessages).clocks.keys()]).toEqual([quireWriter.doc.clientID])
    for (const client of [stockReader, stockWriter]) {
      expect(client.frames.length).toBeGreaterThan(0)
      expect(client.frames.map((f) => f[0]).filter((type) => type === undefined || type > 3)).toEqual([])
    }
  })

  it('a client may opt in with a quire-hello message instead of the query parameter', async () => {
    const server = await startQuireServer()
    cleanups.push(() => server.close())
    const client = await openRawClient(server.url, 'hello by message')
    cleanups.push(() => client.close())
    await client.waitForMessage((m) => m.type === 'sync-step-1')
    expect(client.messages.some((m) => m.type === 'quire-hello')).toBe(false)
    await client.send(encodeMessage({ type: 'quire-hello', version: 1 }))
    expect(await client.waitForMessage((m) => m.type === 'quire-hello')).toEqual({ type: 'quire-hello', version: 1 })
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'acknowledged after a hello')
    await client.send(encodeMessage({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc) }))
    await waitUntil(() => describeUnsaved(doc, foldSaved(client.messages)) === null)
  })

  it('a client that sends quire-saved is closed with 1008 and a reason', async () => {
    const server = await startQuireServer()
    cleanups.push(() => server.close())
    const client = await openRawClient(server.url, 'saved from a client', { quire: true })
    await client.waitForMessage((m) => m.type === 'quire-hello')
    const empty = new Y.Doc()
    await client.send(encodeMessage({ type: 'quire-saved', stateVector: Y.encodeStateVector(empty), deleteSet: Y.encodeStateAsUpdate(empty) }))
    const { code, reason } = await client.closed
    expect(code).toBe(1008)
    expect(reason).toMatch(/quire-saved/)
  })
})
