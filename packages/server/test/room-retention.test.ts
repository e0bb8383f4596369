import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createRelayScheduler } from '../src/room/relay-scheduler.js'
import { createRoom } from '../src/room/room.js'

// Rooms relay through one scheduler per process; these tests share one (idle, so it relays at the end of each turn).
const relays = createRelayScheduler()
afterAll(() => relays.close())

setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

/** Resolves after a full collection in a later turn, when WeakRefs to garbage are cleared. */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 0))
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
function loadRoom(): { room: ReturnType<typeof createRoom>; firstUpdate: WeakRef<Uint8Array> } {
  const updates = storedUpdates()
  const firstUpdate = new WeakRef(updates[0] as Uint8Array)
  return { room: createRoom({ name: 'loaded', storedUpdates: updates, commit: () => {}, relays }), firstUpdate }
}

describe('what an open room keeps', () => {
  it('lets go of the stored updates it was loaded from once it has folded them', async () => {
    const { room, firstUpdate } = loadRoom()
    room.state.fold()
    expect(await collected(firstUpdate)).toBe(true)
    const text = new Y.Doc()
    Y.applyUpdate(text, room.state.snapshot())
    expect(text.getText('t').toString()).toContain('line 19\n')
  })
})
