import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { createMemoryStorage, createServer, type QuireServer } from '@quire/server'
import { docFromUpdates } from '@quire/testkit'

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
})
