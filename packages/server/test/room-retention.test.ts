import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Peer } from '../src/room/peer.js'
import { createRelayScheduler } from '../src/room/relay-scheduler.js'
import type { Room } from '../src/room/room.js'
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

/** 20 lines typed into a document, and the update that types one more. */
function typedLines(): { updates: Uint8Array[]; next: Uint8Array } {
  const doc = new Y.Doc()
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  for (let i = 0; i < 21; i++) doc.getText('t').insert(0, `line ${i}\n`)
  const next = updates.pop() as Uint8Array
  return { updates, next }
}

/** A room as the registry loads it; the caller keeps no reference to the stored updates. */
function loadRoom(): { room: Room; firstUpdate: WeakRef<Uint8Array>; next: Uint8Array } {
  const { updates, next } = typedLines()
  const firstUpdate = new WeakRef(updates[0] as Uint8Array)
  return { room: createDetachedRoom('loaded', relays, updates), firstUpdate, next }
}

const writer: Peer = { id: 1, acknowledging: false, send: () => {}, sendAll: () => {}, acknowledge: () => {} }

describe('what an open room keeps', () => {
  it('lets go of the stored updates it was loaded from once it has folded them (a second after an update)', async () => {
    const { room, firstUpdate, next } = loadRoom()
    acceptFrom(room, writer, next)
    // The room folds its state once quiet for a second.
    expect(await collectedWithin(firstUpdate, 5000)).toBe(true)
    const text = new Y.Doc()
    Y.applyUpdate(text, room.syncReply(Y.encodeStateVector(new Y.Doc())))
    expect(text.getText('t').toString()).toContain('line 20\n')
    expect(text.getText('t').toString()).toContain('line 0\n')
  })
})
