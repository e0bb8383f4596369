import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { createMemoryStorage, createServer, type QuireServer } from '@quire/server'
import { createObservedStorage, docFromUpdates } from '@quire/testkit'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function start(options: Parameters<typeof createServer>[0]): Promise<{ server: QuireServer; url: string }> {
  const server = createServer(options)
  const { url } = await server.listen(0, '127.0.0.1')
  cleanups.push(() => server.close())
  return { server, url: url.replace('http', 'ws') }
}

function connect(url: string, room: string): { doc: Y.Doc; provider: WebsocketProvider } {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket as never, disableBc: true })
  cleanups.push(() => provider.destroy())
  return { doc, provider }
}

const synced = (provider: WebsocketProvider): Promise<void> =>
  provider.synced ? Promise.resolve() : new Promise((resolve) => provider.once('sync', () => resolve()))

describe('compaction', () => {
  it('replaces a long stored log by one garbage-collected snapshot without losing anything', async () => {
    const storage = createMemoryStorage()
    const { url } = await start({ storage, compactAfter: 50 })
    const { doc, provider } = connect(url, 'long log')
    await synced(provider)
    const sent: Uint8Array[] = []
    doc.on('update', (update: Uint8Array) => sent.push(update))
    const text = doc.getText('t')
    for (let i = 0; i < 300; i++) {
      text.insert(text.length, `word${i} `)
      if (i % 3 === 2) text.delete(0, 3) // deletions leave content that GC can drop
      await new Promise((resolve) => setImmediate(resolve))
    }
    const expected = text.toString()
    // Everything stored, and the log folded well below its 300+ appends.
    await until(async () => {
      const { updates } = await storage.load('long log')
      return updates.length > 0 && updates.length < 50 && docFromUpdates(updates).getText('t').toString() === expected
    }, 'the log to be compacted and complete')
    // The log is a snapshot plus whatever arrived after that compaction started.
    const stored = Y.mergeUpdates((await storage.load('long log')).updates)
    // Garbage collection dropped the deleted text that a plain merge of the log keeps.
    expect(stored.byteLength).toBeLessThan(Y.mergeUpdates(sent).byteLength)
    expect(Y.encodeStateVectorFromUpdate(stored)).toEqual(Y.encodeStateVector(doc))

    // A late joiner gets the same document from the compacted room.
    const late = connect(url, 'long log')
    await synced(late.provider)
    await until(() => late.doc.getText('t').toString() === expected, 'the late joiner to converge')
  })
})

describe('eviction', () => {
  it('drops an idle room from memory once its writes are durable, and reloads it on demand', async () => {
    const storage = createMemoryStorage()
    const { server, url } = await start({ storage })
    const first = connect(url, 'evict me')
    await synced(first.provider)
    first.doc.getMap('m').set('kept', 'yes')
    await until(() => server.stats().rooms === 1 && server.stats().unsavedUpdates === 0, 'the write to commit')
    await until(async () => (await storage.load('evict me')).updates.length > 0, 'the write to be stored')
    first.provider.destroy()
    await until(() => server.stats().rooms === 0, 'the room to be evicted')

    const second = connect(url, 'evict me')
    await synced(second.provider)
    expect(second.doc.getMap('m').get('kept')).toBe('yes')
    expect(server.stats().rooms).toBe(1)
  })

  it('keeps a room whose last client left while its writes were pending until they commit', async () => {
    // The write is held at the storage's door, so "pending" lasts as long as the test needs.
    const observed = createObservedStorage(createMemoryStorage())
    const { server, url } = await start({ storage: observed.storage })
    cleanups.push(() => observed.release())
    const first = connect(url, 'pending')
    await synced(first.provider)
    await until(() => server.stats().unsavedUpdates === 0 && observed.inFlight === 0, 'the join to settle')

    observed.hold()
    first.doc.getMap('m').set('written', 'before leaving')
    await until(() => server.stats().unsavedUpdates > 0 && observed.inFlight === 1, 'the write to reach the storage')
    first.provider.destroy()
    // The server has seen the last client leave (the same close event releases the room).
    await until(() => server.stats().connections === 0, 'the server to see the client leave')
    expect(server.stats().rooms, 'rooms open while the write is pending').toBe(1)

    // Whoever joins now gets the write from the room in memory: the storage does not have it yet.
    const second = connect(url, 'pending')
    await synced(second.provider)
    expect(second.doc.getMap('m').get('written')).toBe('before leaving')
    expect((await observed.storage.load('pending')).updates).toEqual([])
    second.provider.destroy()
    await until(() => server.stats().connections === 0, 'the server to see the second client leave')
    expect(server.stats().rooms, 'rooms open while the write is still pending').toBe(1)

    observed.release()
    await until(() => server.stats().rooms === 0, 'the room to be evicted once its write committed')
    expect(docFromUpdates((await observed.storage.load('pending')).updates).getMap('m').get('written')).toBe('before leaving')
  })
})
