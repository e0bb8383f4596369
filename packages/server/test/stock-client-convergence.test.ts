import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { WebSocket } from 'ws'
import { decodeAwarenessUpdate, encodeMessage } from '@quire/protocol'
import { assertConverged, findDivergence, startQuireServer, type QuireServerFixture } from '@quire/testkit'
import { openRawClient } from './raw-client.js'
import { createStockClient, dropConnection, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * Stock y-websocket 3 clients against a real server on 127.0.0.1 with real LevelDB:
 * concurrent edits of every shared type converge, a late joiner catches up, rooms are
 * isolated, and presence is relayed and removed when its connection goes away.
 */

let server: QuireServerFixture
const clients: StockClient[] = []

beforeAll(async () => {
  server = await startQuireServer()
})

afterAll(async () => {
  for (const client of clients.splice(0)) client.destroy()
  await server.close()
})

function join(room: string): StockClient {
  const client = createStockClient(server.url, room)
  clients.push(client)
  return client
}

async function joinAll(room: string, count: number): Promise<StockClient[]> {
  const joined = Array.from({ length: count }, () => join(room))
  await Promise.all(joined.map((c) => c.synced()))
  return joined
}

async function converge(group: readonly StockClient[]): Promise<void> {
  const docs = group.map((c) => c.doc)
  await waitUntil(() => findDivergence(docs) === null, { describe: () => findDivergence(docs) ?? '' })
  assertConverged(docs)
}

describe('stock WebsocketProvider clients converge', () => {
  it('on concurrent Y.Text edits', async () => {
    const [a, b, c] = (await joinAll('text', 3)) as [StockClient, StockClient, StockClient]
    a.doc.getText('t').insert(0, 'shared start')
    await converge([a, b, c])
    // All three edit in the same turn, before any of them has seen the others' edits.
    a.doc.getText('t').insert(0, 'A-')
    b.doc.getText('t').insert(6, ' B ')
    c.doc.getText('t').delete(0, 6)
    c.doc.getText('t').insert(c.doc.getText('t').length, ' -C')
    b.doc.getText('t').format(0, 3, { bold: true })
    await converge([a, b, c])
    const text = a.doc.getText('t').toString()
    expect(text).toContain('A-')
    expect(text).toContain(' B ')
    expect(text).toContain(' -C')
    expect(text).not.toContain('shared')
  })

  it('on concurrent Y.Map edits, including the same key', async () => {
    const [a, b, c] = (await joinAll('map', 3)) as [StockClient, StockClient, StockClient]
    a.doc.getMap('m').set('same', 'from a')
    b.doc.getMap('m').set('same', 'from b')
    c.doc.getMap('m').set('same', 'from c')
    a.doc.getMap('m').set('only-a', 1)
    b.doc.getMap('m').set('nested', new Y.Map([['deep', [1, 2]]]))
    c.doc.getMap('m').set('gone', true)
    await converge([a, b, c])
    c.doc.getMap('m').delete('gone')
    a.doc.getMap('m').set('only-a', 2)
    await converge([a, b, c])
    const json = a.doc.getMap('m').toJSON()
    expect(['from a', 'from b', 'from c']).toContain(json['same'])
    expect(json).toMatchObject({ 'only-a': 2, nested: { deep: [1, 2] } })
    expect(json).not.toHaveProperty('gone')
  })

  it('on concurrent Y.Array edits', async () => {
    const [a, b, c] = (await joinAll('array', 3)) as [StockClient, StockClient, StockClient]
    a.doc.getArray<number>('a').insert(0, [1, 2, 3, 4, 5])
    await converge([a, b, c])
    a.doc.getArray<number>('a').insert(0, [10, 11])
    b.doc.getArray<number>('a').delete(1, 2)
    c.doc.getArray<number>('a').push([99])
    b.doc.getArray<number>('a').insert(2, [20])
    await converge([a, b, c])
    const values = a.doc.getArray<number>('a').toArray()
    expect(values).toEqual(expect.arrayContaining([10, 11, 20, 99, 1, 4, 5]))
    expect(values).not.toContain(2)
    expect(values).not.toContain(3)
    expect(values).toHaveLength(7)
  })

  it('a late joiner receives everything, while others are there and after all have left', async () => {
    const [a, b] = (await joinAll('late', 2)) as [StockClient, StockClient]
    a.doc.getText('t').insert(0, 'written before the late joiner')
    b.doc.getMap('m').set('k', 'v')
    a.doc.getText('t').delete(0, 8)
    await converge([a, b])
    const late = join('late')
    await late.synced()
    await converge([a, b, late])
    expect(late.doc.getText('t').toString()).toBe('before the late joiner')

    // Everyone leaves (the room may be evicted from memory); a newcomer loads it from storage.
    const expected = Y.encodeStateAsUpdate(a.doc)
    for (const c of [a, b, late]) c.destroy()
    const afterwards = join('late')
    await afterwards.synced()
    const reference = new Y.Doc()
    Y.applyUpdate(reference, expected)
    await waitUntil(() => findDivergence([reference, afterwards.doc]) === null, {
      describe: () => findDivergence([reference, afterwards.doc]) ?? ''
    })
    assertConverged([reference, afterwards.doc])
  })

  it('rooms are isolated: no update, state or presence crosses between them', async () => {
    const [a1, a2] = (await joinAll('isolated-a', 2)) as [StockClient, StockClient]
    const [b1, b2] = (await joinAll('isolated-b', 2)) as [StockClient, StockClient]
    a1.doc.getText('t').insert(0, 'only in room a')
    b1.doc.getText('t').insert(0, 'only in room b')
    a1.provider.awareness.setLocalState({ room: 'a' })
    b1.provider.awareness.setLocalState({ room: 'b' })
    await converge([a1, a2])
    await converge([b1, b2])
    await waitUntil(() => a2.provider.awareness.getStates().has(a1.doc.clientID) && b2.provider.awareness.getStates().has(b1.doc.clientID))
    expect(a2.doc.getText('t').toString()).toBe('only in room a')
    expect(b2.doc.getText('t').toString()).toBe('only in room b')
    for (const c of [a1, a2]) {
      const writers = [...Y.decodeStateVector(Y.encodeStateVector(c.doc)).keys()]
      expect(writers).toEqual([a1.doc.clientID])
      expect(c.provider.awareness.getStates().has(b1.doc.clientID)).toBe(false)
    }
    for (const c of [b1, b2]) {
      const writers = [...Y.decodeStateVector(Y.encodeStateVector(c.doc)).keys()]
      expect(writers).toEqual([b1.doc.clientID])
      expect(c.provider.awareness.getStates().has(a1.doc.clientID)).toBe(false)
    }
  })
})

describe('awareness', () => {
  it('is relayed to peers and sent to late joiners', async () => {
    const [a, b] = (await joinAll('presence', 2)) as [StockClient, StockClient]
    a.provider.awareness.setLocalState({ user: { name: 'Ada', color: '#f00' } })
    await waitUntil(() => b.provider.awareness.getStates().get(a.doc.clientID)?.['user']?.name === 'Ada')
    a.provider.awareness.setLocalStateField('cursor', { index: 4 })
    await waitUntil(() => b.provider.awareness.getStates().get(a.doc.clientID)?.['cursor']?.index === 4)
    const late = join('presence')
    await late.synced()
    await waitUntil(() => late.provider.awareness.getStates().get(a.doc.clientID)?.['cursor']?.index === 4, {
      describe: () => JSON.stringify([...late.provider.awareness.getStates()])
    })
  })

  it('query-awareness is answered with every state present', async () => {
    const [a] = (await joinAll('presence-query', 1)) as [StockClient]
    a.provider.awareness.setLocalState({ user: 'queried' })
    const raw = await openRawClient(server.url, 'presence-query')
    try {
      await raw.waitForMessage((m) => m.type === 'sync-step-1')
      const before = raw.messages.length
      await raw.send(encodeMessage({ type: 'query-awareness' }))
      const answer = await raw.waitForMessage((m) => m.type === 'awareness' && raw.messages.indexOf(m) >= before)
      if (answer.type !== 'awareness') throw new Error('unreachable')
      const decoded = decodeAwarenessUpdate(answer.update)
      expect(decoded.ok && decoded.entries.map((e) => [e.clientId, JSON.parse(e.state)])).toEqual([[a.doc.clientID, { user: 'queried' }]])
    } finally {
      raw.close()
    }
  })

  it('is removed for peers when a client disconnects (y-websocket sends its own removal)', async () => {
    const [a, b] = (await joinAll('presence-leave', 2)) as [StockClient, StockClient]
    a.provider.awareness.setLocalState({ user: 'leaving' })
    await waitUntil(() => b.provider.awareness.getStates().has(a.doc.clientID))
    a.provider.disconnect()
    await waitUntil(() => !b.provider.awareness.getStates().has(a.doc.clientID), {
      describe: () => JSON.stringify([...b.provider.awareness.getStates()])
    })
  })

  it('is removed by the server when a connection vanishes without a word', async () => {
    const [a, b] = (await joinAll('presence-drop', 2)) as [StockClient, StockClient]
    a.provider.awareness.setLocalState({ user: 'dropped' })
    b.provider.awareness.setLocalState({ user: 'stays' })
    await waitUntil(() => b.provider.awareness.getStates().has(a.doc.clientID) && a.provider.awareness.getStates().has(b.doc.clientID))
    // No close frame, no awareness removal from the client: only the server can tell b.
    dropConnection(a)
    await waitUntil(() => !b.provider.awareness.getStates().has(a.doc.clientID), {
      describe: () => `b still sees ${JSON.stringify([...b.provider.awareness.getStates()])}`
    })
    // b's own presence is untouched, and a newcomer sees b but not a.
    const late = join('presence-drop')
    await late.synced()
    await waitUntil(() => late.provider.awareness.getStates().has(b.doc.clientID))
    expect(late.provider.awareness.getStates().has(a.doc.clientID)).toBe(false)
  })
})

describe('a peer whose network vanishes', () => {
  it('is dropped by the heartbeat and its presence removed for the others', async () => {
    const quick = await startQuireServer({ heartbeatMs: 100 })
    const a = createStockClient(quick.url, 'heartbeat')
    const b = createStockClient(quick.url, 'heartbeat')
    try {
      await Promise.all([a.synced(), b.synced()])
      a.provider.awareness.setLocalState({ user: 'vanishing' })
      await waitUntil(() => b.provider.awareness.getStates().has(a.doc.clientID))
      // Stop reading a's socket: no close, no FIN, no pongs, as when a laptop lid closes.
      a.provider.shouldConnect = false
      const socket = a.provider.ws as unknown as WebSocket
      socket.pause()
      await waitUntil(() => !b.provider.awareness.getStates().has(a.doc.clientID), {
        describe: () => `b still sees ${JSON.stringify([...b.provider.awareness.getStates()])}`
      })
      // b's connection was not disturbed and the room still works for it.
      expect(b.provider.wsconnected).toBe(true)
      b.doc.getText('t').insert(0, 'still here')
      const c = createStockClient(quick.url, 'heartbeat')
      try {
        await c.synced()
        await waitUntil(() => c.doc.getText('t').toString() === 'still here')
      } finally {
        c.destroy()
      }
    } finally {
      a.destroy()
      b.destroy()
      await quick.close()
    }
  })
})
