import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { inspectUpdate, type UpdateMeta } from '@quire/protocol'
import { docFromUpdates } from '@quire/testkit'
import { createUpdateGuard, type GuardedState } from '../src/limits/update-guard.js'

function metaOf(update: Uint8Array): UpdateMeta {
  const inspected = inspectUpdate(update)
  if (!inspected.ok) throw new Error(inspected.problem)
  return inspected.meta
}

/**
 * The guard reads the room's exact state vector, which costs a merge of the whole
 * document on the event loop, only for an update that re-sends clocks the room may
 * hold. Updates in order, the common case, must never ask for it.
 */
describe('update guard', () => {
  it('admits updates in order without the exact state vector, and diffs a resend against it', () => {
    const writer = new Y.Doc()
    const updates: Uint8Array[] = []
    writer.on('update', (update: Uint8Array) => updates.push(update))
    writer.getText('t').insert(0, 'stored before the room opened')
    const stored = updates.splice(0)
    const room = docFromUpdates(stored)
    let exactReads = 0
    const state: GuardedState = {
      highestClocks: () => Y.decodeStateVector(Y.encodeStateVector(room)),
      stateVector: () => {
        exactReads++
        return Y.encodeStateVector(room)
      }
    }
    const guard = createUpdateGuard(state)

    writer.getText('t').insert(0, 'new: ')
    const fresh = updates.splice(0)[0] as Uint8Array
    expect(guard.admit(fresh, metaOf(fresh))).toBe(fresh)
    Y.applyUpdate(room, fresh)
    expect(exactReads).toBe(0)

    // The same clocks again (a resend after a lost acknowledgement): nothing new.
    expect(guard.admit(fresh, metaOf(fresh))).toBeNull()
    expect(exactReads).toBe(1)
  })
})
