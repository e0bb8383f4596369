import type { Socket as NetSocket } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { decodeMessage, encodeMessage } from '@quire/protocol'
import { createPrng, docFromUpdates, startQuireServer } from '@quire/testkit'
import { mergeUpdates } from '../src/room/merge-updates.js'
import type { Peer } from '../src/room/peer.js'
import { createRelayScheduler } from '../src/room/relay-scheduler.js'
import { createStockClient } from './stock-client.js'
import { acceptFrom, createDetachedRoom } from './detached-room.js'
import { waitUntil } from './wait-until.js'

// Rooms relay through one scheduler per process; these tests share one (idle, so it relays at the end of each turn).
const relays = createRelayScheduler()
afterAll(() => relays.close())

function randomUpdates(seed: number, count: number): Uint8Array[] {
  const prng = createPrng(seed)
  const docs = [new Y.Doc(), new Y.Doc(), new Y.Doc()]
  const updates: Uint8Array[] = []
  for (const doc of docs) doc.on('update', (u: Uint8Array) => updates.push(u))
  for (let i = 0; i < count; i++) {
    const doc = prng.pick(docs)
    const text = doc.getText('t')
    if (text.length > 0 && prng.bool(0.3)) text.delete(prng.int(0, text.length - 1), 1)
    else text.insert(prng.int(0, text.length), prng.string(2))
    if (prng.bool(0.2)) {
      const other = prng.pick(docs)
      Y.applyUpdate(other, Y.encodeStateAsUpdate(doc))
    }
  }
  return updates
}

describe('mergeUpdates (tree of small merges)', () => {
  it.each([1, 2, 7, 8, 9, 64, 1000])('yields the same document as one Y.mergeUpdates call for %i updates', (count) => {
    const updates = randomUpdates(count, count)
    const ours = mergeUpdates(updates)
    const reference = Y.mergeUpdates(updates)
    const a = docFromUpdates([ours])
    const b = docFromUpdates([reference])
    expect(a.getText('t').toString()).toBe(b.getText('t').toString())
    expect(Y.encodeStateVector(a)).toEqual(Y.encodeStateVector(b))
    expect(Y.encodeStateAsUpdate(a)).toEqual(Y.encodeStateAsUpdate(b))
  })

  it('merges no updates into an empty update', () => {
    expect(docFromUpdates([mergeUpdates([])]).getText('t').toString()).toBe('')
  })
})

// Regression: one Y.mergeUpdates over thousands of updates received in one event-loop
// turn took minutes (it is quadratic in its inputs) and left the server unresponsive.
describe('a burst of thousands of updates in one turn', () => {
  it('reaches the other peer of the room as one merged relay (found stalling flooded servers)', async () => {
    const received: Uint8Array[] = []
    const room = createDetachedRoom('burst', relays)
    const writer: Peer = { id: 1, acknowledging: false, send: () => {}, sendAll: () => {}, acknowledge: () => {}, disconnect: () => {} }
    const reader: Peer = { id: 2, acknowledging: false, send: (frame) => received.push(frame), sendAll: (frames) => received.push(...frames), acknowledge: () => {}, disconnect: () => {} }
    room.join(writer)
    room.join(reader)
    const doc = new Y.Doc()
    doc.on('update', (update: Uint8Array) => acceptFrom(room, writer, update))
    for (let i = 0; i < 20_000; i++) doc.getText('t').insert(i, 'x')
    await waitUntil(() => received.length > 0, { timeoutMs: 30_000 })
    expect(received).toHaveLength(1)
    const decoded = decodeMessage(received[0]!)
    if (!decoded.ok || decoded.message.type !== 'sync-update') throw new Error('expected one sync update frame')
    expect(docFromUpdates([decoded.message.update]).getText('t').length).toBe(20_000)
  })

  it('sent over a socket is relayed to the other peers and the server keeps answering', async () => {
    const server = await startQuireServer({ limits: { maxMessagesPerSecond: 1e9, messageBurst: 1e9, maxBytesPerSecond: 1e12 } })
    const reader = createStockClient(server.url, 'burst')
    try {
      await reader.synced()
      const writer = new Y.Doc()
      const frames: Buffer[] = []
      writer.on('update', (update: Uint8Array) => frames.push(Buffer.from(encodeMessage({ type: 'sync-update', update }))))
      for (let i = 0; i < 20_000; i++) writer.getText('t').insert(i, 'x')
      const socket = new WebSocket(`${server.url}/burst`)
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
      // Cork so the frames leave in as few TCP writes as possible: many per event-loop turn on the server.
      ;(socket as unknown as { _socket: NetSocket })._socket.cork()
      for (const frame of frames) socket.send(frame)
      ;(socket as unknown as { _socket: NetSocket })._socket.uncork()
      await waitUntil(() => reader.doc.getText('t').length === 20_000, { timeoutMs: 60_000 })
      const health = await fetch(`${server.httpUrl}/healthz`)
      expect(health.status).toBe(200)
      socket.close()
    } finally {
      reader.destroy()
      await server.close()
    }
  })
})
