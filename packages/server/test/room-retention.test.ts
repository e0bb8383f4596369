import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createApiWriter } from '../src/api/api-writer.js'
import { createCommitQueue } from '../src/commit/commit-queue.js'
import { createRelayScheduler } from '../src/room/relay-scheduler.js'
import { createRoomRegistry } from '../src/room/room-registry.js'
import type { Room } from '../src/room/room.js'
import { createMemoryStorage } from '../src/storage/memory-storage.js'
import { acceptFrom, createDetachedRoom } from './detached-room.js'

// Rooms relay through one scheduler per process; these tests share one (idle, so it relays at the end of each turn).
const relays = createRelayScheduler()
afterAll(() => relays.close())

setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

/** Whether `ref` is cleared by a full collection within `timeoutMs` (a WeakRef is cleared in a later turn). */
async function collectedWithin(ref: WeakRef<object>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    collectGarbage()
    if (ref.deref() === undefined) return true
  }
  return false
}

function storedUpdates(): Uint8Array[] {
  const doc = new Y.Doc()
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  for (let i = 0; i < 20; i++) doc.getText('t').insert(0, `line ${i}\n`)
  return updates
}

/** A room as the registry loads it; the caller keeps no reference to the stored updates. */
function loadRoom(): { room: Room; firstUpdate: WeakRef<Uint8Array> } {
  const updates = storedUpdates()
  const firstUpdate = new WeakRef(updates[0] as Uint8Array)
  return { room: createDetachedRoom('loaded', relays, updates), firstUpdate }
}

describe('what an open room keeps', () => {
  it('lets go of the stored updates it was loaded from once the first peer has synced (the room keeps none of its options)', async () => {
    const { room, firstUpdate } = loadRoom()
    const reply = room.syncReply(Y.encodeStateVector(new Y.Doc()))
    expect(await collectedWithin(firstUpdate, 2000)).toBe(true)
    const text = new Y.Doc()
    Y.applyUpdate(text, reply)
    expect(text.getText('t').toString()).toContain('line 19\n')
  })
})

describe('what an evicted room leaves behind', () => {
  it('does not fold its state once evicted (a room opened for one API write would merge the whole document for nobody)', async () => {
    const storage = createMemoryStorage()
    const commitQueue = createCommitQueue({ storage, log: () => {}, minIntervalMs: 10 })
    const registry = createRoomRegistry({ storage, commitQueue, relays, log: () => {} })
    const writer = new Y.Doc()
    const updates: Uint8Array[] = []
    writer.on('update', (update: Uint8Array) => updates.push(update))
    writer.getText('t').insert(0, 'stored first')
    writer.getText('t').insert(0, 'then more, ')
    await storage.append([{ doc: 'evicted', updates: updates.splice(0) }])

    const room = await registry.open('evicted')
    writer.getText('t').insert(0, 'one write: ')
    const saved = createApiWriter(-1)
    acceptFrom(room, saved, updates.splice(0)[0] as Uint8Array)
    await saved.saved
    registry.releaseIfIdle(room)
    await registry.settled()
    expect(registry.get('evicted')).toBeUndefined()
    expect(room.parts()).toHaveLength(3)
    // Past the fold delay (1 s) of its last update: still the three parts it was left with.
    await new Promise((resolve) => setTimeout(resolve, 1300))
    expect(room.parts()).toHaveLength(3)
  })
})
