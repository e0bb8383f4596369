import { afterAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { decodeMessage } from '@quire/protocol'
import { docFromUpdates } from '@quire/testkit'
import type { Peer } from '../src/room/peer.js'
import { createRelayScheduler } from '../src/room/relay-scheduler.js'
import { acceptFrom, createDetachedRoom } from './detached-room.js'
import { waitUntil } from './wait-until.js'

// Rooms relay through one scheduler per process; these tests share one (idle, so it relays at the end of each turn).
const relays = createRelayScheduler()
afterAll(() => relays.close())

/**
 * Relay within one event-loop turn: a few updates reach each receiver as their own
 * frames, in order, in one write (one `sendAll`), never echoing a writer's own updates.
 */
function recordingPeer(id: number): Peer & { writes: Uint8Array[][] } {
  const writes: Uint8Array[][] = []
  return {
    id,
    writes,
    acknowledging: false,
    send: (frame) => writes.push([frame]),
    sendAll: (frames) => writes.push([...frames]),
    disconnect: () => {},
    acknowledge: () => {}
  }
}

function updateOf(frame: Uint8Array): Uint8Array {
  const decoded = decodeMessage(frame)
  if (!decoded.ok || decoded.message.type !== 'sync-update') throw new Error('expected a sync update frame')
  return decoded.message.update
}

describe('relay of one turn', () => {
  it('sends a few updates as separate frames in one write, without echoes', async () => {
    const room = createDetachedRoom('turn', relays)
    const [a, b, reader] = [recordingPeer(1), recordingPeer(2), recordingPeer(3)]
    for (const peer of [a, b, reader]) room.join(peer)
    const docA = new Y.Doc()
    const docB = new Y.Doc()
    const updates: { from: Peer; update: Uint8Array }[] = []
    docA.on('update', (update: Uint8Array) => updates.push({ from: a, update }))
    docB.on('update', (update: Uint8Array) => updates.push({ from: b, update }))
    docA.getText('t').insert(0, 'one')
    docB.getText('t').insert(0, 'two')
    docA.getText('t').insert(3, ' three')
    for (const { from, update } of updates) acceptFrom(room, from, update)
    await waitUntil(() => reader.writes.length > 0)

    expect(reader.writes).toHaveLength(1)
    expect(reader.writes[0]!.map(updateOf)).toEqual(updates.map((u) => u.update))
    // Each writer gets only the other's update, also in one write.
    expect(a.writes).toHaveLength(1)
    expect(a.writes[0]!.map(updateOf)).toEqual([updates[1]!.update])
    expect(b.writes[0]!.map(updateOf)).toEqual([updates[0]!.update, updates[2]!.update])
    const seen = docFromUpdates(reader.writes[0]!.map(updateOf))
    expect(seen.getText('t').toString()).toBe(docFromUpdates(updates.map((u) => u.update)).getText('t').toString())
  })
})

describe('relay under load', () => {
  /** Keeps the event loop busy for `ms`, in slices, so that other callbacks still run. */
  async function keepBusy(ms: number): Promise<void> {
    const until = performance.now() + ms
    while (performance.now() < until) {
      const slice = performance.now() + 40
      while (performance.now() < slice) {
        // spin
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

  function writesOf(turns: number, scheduler: ReturnType<typeof createRelayScheduler>): Promise<Uint8Array[][]> {
    const room = createDetachedRoom('load', scheduler)
    const [writer, reader] = [recordingPeer(1), recordingPeer(2)]
    room.join(writer)
    room.join(reader)
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (update: Uint8Array) => updates.push(update))
    return (async () => {
      // One update per event-loop turn, as updates from different sockets arrive.
      for (let i = 0; i < turns; i++) {
        doc.getText('t').insert(0, `${i}`)
        acceptFrom(room, writer, updates[i]!)
        await new Promise((resolve) => setImmediate(resolve))
      }
      await waitUntil(() => reader.writes.flat().length === turns)
      return reader.writes
    })()
  }

  it('relays at the end of each turn while the process has time to spare', async () => {
    const scheduler = createRelayScheduler()
    try {
      expect(scheduler.busy).toBe(false)
      expect(await writesOf(3, scheduler)).toHaveLength(3)
    } finally {
      scheduler.close()
    }
  })

  it('gathers the updates of a few turns into one write per receiver once the event loop is busy', async () => {
    const scheduler = createRelayScheduler({ busyDelayMs: 50 })
    try {
      await keepBusy(600)
      expect(scheduler.busy).toBe(true)
      const writes = await writesOf(3, scheduler)
      expect(writes).toHaveLength(1)
      expect(writes[0]).toHaveLength(3)
    } finally {
      scheduler.close()
    }
  })
})
