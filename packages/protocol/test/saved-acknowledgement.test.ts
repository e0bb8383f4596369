import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createSavedAcknowledgement, decodeMessage, encodeMessage } from '@quire/protocol'
import { seeded } from './seeded.js'

/**
 * createSavedAcknowledgement(update) must tell a writer exactly what of its update is
 * durable: the end clock of its structs per client id, and its delete set. Checked
 * against real Y.Docs: a client that treats the ack as "covered" must be right.
 */

function recordUpdates(doc: Y.Doc): Uint8Array[] {
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  return updates
}

function decodedStateVector(encoded: Uint8Array): Record<number, number> {
  return Object.fromEntries(Y.decodeStateVector(encoded))
}

/** The delete set of an update as sorted [client, clock, len] ranges. */
function deleteRanges(update: Uint8Array): [number, number, number][] {
  const ranges: [number, number, number][] = []
  for (const [client, items] of Y.decodeUpdate(update).ds.clients) {
    for (const item of items) ranges.push([client, item.clock, item.len])
  }
  return ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1])
}

describe('createSavedAcknowledgement', () => {
  it('keeps the end clock of every client in the batch', () => {
    const writer = new Y.Doc()
    writer.clientID = 10
    const updates = recordUpdates(writer)
    writer.getText('t').insert(0, 'hello')
    writer.getMap('m').set('k', 'v')
    writer.getArray('a').insert(0, [1, 2, 3])
    const ack = createSavedAcknowledgement(Y.mergeUpdates(updates))
    expect(decodedStateVector(ack.stateVector)).toEqual(decodedStateVector(Y.encodeStateVector(writer)))
    expect(decodedStateVector(ack.stateVector)).toEqual({ 10: 5 + 1 + 3 })
  })

  it('keeps end clocks of several clients when a writer relays what it received offline', () => {
    const a = new Y.Doc()
    a.clientID = 1
    const b = new Y.Doc()
    b.clientID = 2
    a.getText('t').insert(0, 'from a')
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    b.getText('t').insert(0, 'from b, ')
    const ack = createSavedAcknowledgement(Y.encodeStateAsUpdate(b))
    expect(decodedStateVector(ack.stateVector)).toEqual({ 1: 6, 2: 8 })
  })

  it('for a later update, the state vector holds its end clock (not its start)', () => {
    const writer = new Y.Doc()
    writer.clientID = 3
    writer.getText('t').insert(0, 'abcdef')
    const before = Y.encodeStateVector(writer)
    writer.getText('t').insert(6, 'ghi')
    const ack = createSavedAcknowledgement(Y.encodeStateAsUpdate(writer, before))
    expect(decodedStateVector(ack.stateVector)).toEqual({ 3: 9 })
  })

  it('keeps deletions, which do not move the state vector', () => {
    const writer = new Y.Doc()
    writer.clientID = 4
    writer.getText('t').insert(0, 'hello world')
    const afterInsert = Y.encodeStateVector(writer)
    const updates = recordUpdates(writer)
    writer.getText('t').delete(0, 6)
    writer.getText('t').delete(2, 1)
    const batch = Y.mergeUpdates(updates)
    // The deletions moved no clock ...
    expect(decodedStateVector(Y.encodeStateVector(writer))).toEqual(decodedStateVector(afterInsert))
    const ack = createSavedAcknowledgement(batch)
    // ... so the state vector of a deletion-only batch is empty, and the delete set carries them.
    expect(decodedStateVector(ack.stateVector)).toEqual({})
    expect(Y.decodeUpdate(ack.deleteSet).structs).toEqual([])
    expect(deleteRanges(ack.deleteSet)).toEqual(deleteRanges(batch))
    expect(deleteRanges(ack.deleteSet)).toEqual([
      [4, 0, 6],
      [4, 8, 1]
    ])
  })

  it('a mixed batch keeps both its structs end clocks and its deletions of another client', () => {
    const a = new Y.Doc()
    a.clientID = 5
    a.getText('t').insert(0, 'typed by a')
    const b = new Y.Doc()
    b.clientID = 6
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    const updates = recordUpdates(b)
    b.getText('t').delete(0, 6) // deletes a's structs
    b.getText('t').insert(0, 'b: ')
    b.getText('t').delete(0, 1) // deletes one of its own
    const batch = Y.mergeUpdates(updates)
    const ack = createSavedAcknowledgement(batch)
    expect(decodedStateVector(ack.stateVector)).toEqual({ 6: 3 })
    expect(deleteRanges(ack.deleteSet)).toEqual([
      [5, 0, 6],
      [6, 0, 1]
    ])

    // The ack's delete set, applied to a replica holding only a's structs, deletes what b deleted of them.
    const replica = new Y.Doc()
    Y.applyUpdate(replica, Y.encodeStateAsUpdate(a))
    expect(replica.getText('t').toString()).toBe('typed by a')
    Y.applyUpdate(replica, ack.deleteSet)
    expect(replica.getText('t').toString()).toBe('by a')
  })

  it('a client whose local state is covered by the ack has everything it sent acknowledged', () => {
    const writer = new Y.Doc()
    writer.clientID = 8
    const updates = recordUpdates(writer)
    writer.getText('t').insert(0, 'one two three')
    writer.getText('t').delete(4, 4)
    writer.getMap('m').set('x', 1)
    const ack = createSavedAcknowledgement(Y.mergeUpdates(updates))
    const local = Y.decodeStateVector(Y.encodeStateVector(writer))
    const acked = Y.decodeStateVector(ack.stateVector)
    for (const [client, clock] of local) expect(acked.get(client) ?? 0).toBeGreaterThanOrEqual(clock)
    // A replica built from only "what was acknowledged" (the structs up to the clocks plus
    // the delete set) equals the writer.
    const replica = new Y.Doc()
    Y.applyUpdate(replica, Y.mergeUpdates(updates))
    Y.applyUpdate(replica, ack.deleteSet)
    expect(replica.getText('t').toString()).toBe('one three')
    expect(Y.equalSnapshots(Y.snapshot(replica), Y.snapshot(writer))).toBe(true)
  })

  it('an empty update acknowledges nothing', () => {
    const ack = createSavedAcknowledgement(Y.encodeStateAsUpdate(new Y.Doc()))
    expect(decodedStateVector(ack.stateVector)).toEqual({})
    expect(deleteRanges(ack.deleteSet)).toEqual([])
  })

  it('travels in a quire-saved message unchanged', () => {
    const writer = new Y.Doc()
    writer.getText('t').insert(0, 'abc')
    writer.getText('t').delete(0, 1)
    const ack = createSavedAcknowledgement(Y.encodeStateAsUpdate(writer))
    const bytes = encodeMessage({ type: 'quire-saved', ...ack })
    expect(Array.from(bytes.subarray(0, 2))).toEqual([100, 1])
    expect(decodeMessage(bytes)).toEqual({ ok: true, message: { type: 'quire-saved', ...ack } })
  })
})

describe('createSavedAcknowledgement of several updates', () => {
  it.each([1, 2, 3, 4, 5])('says the same as the ack of their merge (seed %i)', (seed) => {
    const prng = seeded(seed)
    const docs = [new Y.Doc(), new Y.Doc()]
    const updates: Uint8Array[] = []
    for (const doc of docs) doc.on('update', (update: Uint8Array) => updates.push(update))
    for (let i = 0; i < 60; i++) {
      const doc = prng.pick(docs)
      const text = doc.getText('t')
      if (text.length > 0 && prng.bool(0.4)) text.delete(prng.int(0, text.length - 1), 1)
      else text.insert(prng.int(0, text.length), prng.string(3))
      if (prng.bool(0.1)) Y.applyUpdate(prng.pick(docs), Y.encodeStateAsUpdate(doc))
    }
    const batch = updates.slice(prng.int(0, 20))
    const separate = createSavedAcknowledgement(batch)
    const merged = createSavedAcknowledgement(Y.mergeUpdates(batch))
    expect(decodedStateVector(separate.stateVector)).toEqual(decodedStateVector(merged.stateVector))
    expect(deleteRanges(Y.mergeUpdates([separate.deleteSet]))).toEqual(deleteRanges(merged.deleteSet))
  })

  it('acknowledges a batch without deletions with an empty delete set', () => {
    const writer = new Y.Doc()
    const updates = recordUpdates(writer)
    writer.getText('t').insert(0, 'abc')
    writer.getText('t').insert(3, 'def')
    expect(deleteRanges(createSavedAcknowledgement(updates).deleteSet)).toEqual([])
  })
})
