import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { assertConverged, findDivergence, startQuireServer, type QuireServerFixture } from '@quire/testkit'
import { createStockClient, type StockClient } from './stock-client.js'
import { waitUntil } from './wait-until.js'

/**
 * Any string is a room name: each of these works, holds only its own data (live and
 * after a restart), and nothing in a name reaches the file system. Names that look
 * alike (a/b and a%2Fb, a prefix and its extensions, NUL-separated) stay different rooms.
 */

const ROOM_NAMES: readonly string[] = [
  'plain',
  'ünïcødé 文档 🦊',
  'a/b',
  'a%2Fb',
  '%2F',
  '%',
  '../..',
  '../../../../etc/passwd',
  '/',
  '//',
  'trailing/',
  ' ',
  '\t',
  '?',
  '#hash',
  'query?quire=1&token=x',
  'plain\u0000',
  'plain\u0000x',
  'plai',
  'plainer',
  'x'.repeat(1000),
  'é'.repeat(512) // exactly 1024 UTF-8 bytes, the default limit
]

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('room names', () => {
  it('every name works, rooms never see each other, and all survive a restart', async () => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'quire-names-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    let server: QuireServerFixture = await startQuireServer({ dataDir })
    cleanups.push(() => server.close())
    const clients: StockClient[] = []
    cleanups.push(() => {
      for (const c of clients) c.destroy()
    })
    const join = (room: string): StockClient => {
      const client = createStockClient(server.url, room)
      clients.push(client)
      return client
    }

    const pairs = ROOM_NAMES.map((name) => ({ name, writer: join(name), reader: join(name) }))
    await Promise.all(clients.map((c) => c.synced()))
    for (const { name, writer } of pairs) writer.doc.getMap('m').set('room', name)
    for (const { name, writer, reader } of pairs) {
      await waitUntil(() => findDivergence([writer.doc, reader.doc]) === null, {
        describe: () => `room ${JSON.stringify(name)}: ${findDivergence([writer.doc, reader.doc])}`
      })
      // Exactly one writer ever reached this room: its own.
      expect(reader.doc.getMap('m').toJSON(), JSON.stringify(name)).toEqual({ room: name })
      expect([...Y.decodeStateVector(Y.encodeStateVector(reader.doc)).keys()], `writers seen in room ${JSON.stringify(name)}: ${JSON.stringify(reader.doc.getMap('m').toJSON())}`).toEqual([writer.doc.clientID])
    }

    for (const c of clients.splice(0)) c.destroy()
    await server.close()
    // Nothing in a name touched the file system outside LevelDB's own files.
    const entries = await readdir(dataDir)
    expect(entries.every((entry) => /^(LOCK|LOG(\.old)?|CURRENT|MANIFEST-\d+|\d+\.(log|ldb|sst))$/.test(entry)), entries.join(', ')).toBe(true)

    server = await startQuireServer({ dataDir })
    const fresh = ROOM_NAMES.map((name) => ({ name, client: join(name) }))
    await Promise.all(fresh.map(({ client }) => client.synced()))
    for (const { name, client } of fresh) {
      await waitUntil(() => client.doc.getMap('m').size > 0, { describe: () => `room ${JSON.stringify(name)} came back empty` })
      expect(client.doc.getMap('m').toJSON()).toEqual({ room: name })
    }
  })

  // WHATWG URL parsing (ws, browsers) turns a path segment `.`/`..` (and `%2e`/`%2e%2e`)
  // into a directory step, so `ws://host/..` arrives as `/`: these three names collide
  // unless the room name travels some other way than as a bare path segment.
  // WHATWG URL parsing (ws, browsers) turns a path of "." or ".." (even as %2e) into a
  // directory step, so those names cannot travel in the path; the `room` query
  // parameter carries them (and @quire/client always sends it).
  it('the names "", "." and ".." are three different rooms when named in the room parameter', async () => {
    const server = await startQuireServer()
    cleanups.push(() => server.close())
    const names = ['', '.', '..']
    const writers = names.map((name) => createStockClient(server.url, name, { roomParam: true }))
    cleanups.push(() => {
      for (const w of writers) w.destroy()
    })
    await Promise.all(writers.map((w) => w.synced()))
    writers.forEach((w, i) => w.doc.getMap('m').set('room', names[i]))
    const readers = names.map((name) => createStockClient(server.url, name, { roomParam: true }))
    cleanups.push(() => {
      for (const r of readers) r.destroy()
    })
    await Promise.all(readers.map((r) => r.synced()))
    for (let i = 0; i < names.length; i++) {
      const reader = readers[i] as StockClient
      await waitUntil(() => reader.doc.getMap('m').size > 0)
      expect(
        [...Y.decodeStateVector(Y.encodeStateVector(reader.doc)).keys()].length,
        `room ${JSON.stringify(names[i])} holds ${JSON.stringify(reader.doc.getMap('m').toJSON())} from several writers`
      ).toBe(1)
    }
  })

  it('a raw path and its percent-encoded form are the same room', async () => {
    const server = await startQuireServer()
    cleanups.push(() => server.close())
    const encoded = createStockClient(server.url, 'a b/c')
    cleanups.push(() => encoded.destroy())
    await encoded.synced()
    encoded.doc.getText('t').insert(0, 'same room')
    // y-websocket appends the name as is; `a%20b/c` and the encoded `a%20b%2Fc` decode alike.
    const other = new Y.Doc()
    const provider = new WebsocketProvider(server.url, 'a%20b/c', other, {
      disableBc: true,
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket
    })
    cleanups.push(() => provider.destroy())
    await waitUntil(() => other.getText('t').toString() === 'same room')
    assertConverged([encoded.doc, other])
  })

  it('a name over the byte limit is refused with 1008 and a reason, and the server goes on', async () => {
    const server = await startQuireServer()
    cleanups.push(() => server.close())
    const socket = new WebSocket(`${server.url}/${encodeURIComponent('x'.repeat(1025))}`)
    const closed = await new Promise<{ code: number; reason: string }>((resolve) =>
      socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    )
    expect(closed.code).toBe(1008)
    expect(closed.reason).toMatch(/room name/)
    const ok = createStockClient(server.url, 'after the long name')
    cleanups.push(() => ok.destroy())
    await ok.synced()
  })
})
