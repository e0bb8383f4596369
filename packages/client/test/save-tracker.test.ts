import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createSavedAcknowledgement } from '@quire/protocol'
import { SaveTracker, decodeSavedStateRecord, encodeSavedStateRecord } from '@quire/client'

/** Feeds every local transaction of `doc` to `tracker`, as the session does. */
function track(doc: Y.Doc, tracker: SaveTracker): Uint8Array[] {
  const sent: Uint8Array[] = []
  doc.on('afterTransaction', (tr: Y.Transaction) => {
    const end = new Map<number, number>()
    for (const [client, clock] of tr.afterState) if (clock > (tr.beforeState.get(client) ?? 0)) end.set(client, clock)
    tracker.recordLocalChange(end, tr.deleteSet)
  })
  doc.on('update', (update: Uint8Array) => sent.push(update))
  return sent
}

/** What the server sends back after committing `updates` from this writer. */
function acknowledge(tracker: SaveTracker, updates: Uint8Array[]): void {
  const ack = createSavedAcknowledgement(Y.mergeUpdates(updates))
  tracker.applyAcknowledgement(Y.decodeStateVector(ack.stateVector), Y.decodeUpdate(ack.deleteSet).ds)
}

describe('SaveTracker', () => {
  it('is saved once the acknowledgement covers every inserted struct', () => {
    const doc = new Y.Doc()
    const tracker = new SaveTracker()
    const sent = track(doc, tracker)
    doc.getText('t').insert(0, 'hello')
    doc.getText('t').insert(5, ' world')
    expect(tracker.hasUnsavedChanges).toBe(true)
    acknowledge(tracker, sent.slice(0, 1))
    expect(tracker.hasUnsavedChanges).toBe(true)
    acknowledge(tracker, sent.slice(1))
    expect(tracker.hasUnsavedChanges).toBe(false)
  })

  it('regression: a deletion alone is unsaved until its delete set is acknowledged', () => {
    const doc = new Y.Doc()
    const tracker = new SaveTracker()
    const sent = track(doc, tracker)
    doc.getText('t').insert(0, 'abcdef')
    acknowledge(tracker, sent.splice(0))
    expect(tracker.hasUnsavedChanges).toBe(false)
    doc.getText('t').delete(1, 3)
    // The state vector did not move, yet the change is not durable.
    expect(tracker.hasUnsavedChanges).toBe(true)
    expect([...tracker.pendingDeletions.get(doc.clientID) ?? []]).toEqual([[1, 4]])
    acknowledge(tracker, sent.splice(0))
    expect(tracker.hasUnsavedChanges).toBe(false)
  })

  it('keeps the uncovered part of a deletion when an acknowledgement covers only some of it', () => {
    const doc = new Y.Doc()
    const tracker = new SaveTracker()
    const sent = track(doc, tracker)
    doc.getText('t').insert(0, 'abcdefghij')
    acknowledge(tracker, sent.splice(0))
    doc.getText('t').delete(0, 2) // clocks 0-1
    const first = sent.splice(0)
    doc.getText('t').delete(3, 4) // clocks 5-8
    acknowledge(tracker, first)
    expect([...tracker.pendingDeletions.get(doc.clientID) ?? []]).toEqual([[5, 9]])
    acknowledge(tracker, sent.splice(0))
    expect(tracker.hasUnsavedChanges).toBe(false)
  })

  it('is cleared by a sync step 2 that carries the full delete set (what a reconnect sends)', () => {
    const doc = new Y.Doc()
    const tracker = new SaveTracker()
    track(doc, tracker)
    doc.getText('t').insert(0, 'abcdef')
    doc.getText('t').delete(2, 2)
    doc.getMap('m').set('k', 1)
    doc.getMap('m').set('k', 2) // overwriting deletes the old value
    acknowledge(tracker, [Y.encodeStateAsUpdate(doc)])
    expect(tracker.hasUnsavedChanges).toBe(false)
  })

  it('ignores acknowledgements that do not reach the pending clock', () => {
    const tracker = new SaveTracker()
    tracker.recordLocalChange(new Map([[7, 10]]), { clients: new Map() })
    tracker.applyAcknowledgement(new Map([[7, 9], [8, 100]]), { clients: new Map() })
    expect(tracker.hasUnsavedChanges).toBe(true)
    tracker.applyAcknowledgement(new Map([[7, 10]]), { clients: new Map() })
    expect(tracker.hasUnsavedChanges).toBe(false)
  })

  it('names the clients whose pending structs the server already holds', () => {
    const tracker = new SaveTracker()
    tracker.recordLocalChange(new Map([[1, 5], [2, 9]]), { clients: new Map() })
    expect(tracker.clientsTheServerHasButNeverAcknowledged(new Map([[1, 5], [2, 3]]))).toEqual([1])
  })

  it('round-trips through its stored record and merges with changes made before loading', () => {
    const doc = new Y.Doc()
    const tracker = new SaveTracker()
    const sent = track(doc, tracker)
    doc.getText('t').insert(0, 'abcdefgh')
    acknowledge(tracker, sent.splice(0))
    doc.getText('t').delete(2, 3)
    doc.getText('t').insert(0, 'xy')
    tracker.support = 'yes'
    const decoded = decodeSavedStateRecord(encodeSavedStateRecord(tracker))
    if (!decoded.ok) throw new Error(decoded.reason)
    expect(decoded.tracker.support).toBe('yes')
    expect(decoded.tracker.acknowledged).toEqual(tracker.acknowledged)
    expect(decoded.tracker.pending).toEqual(tracker.pending)
    expect(decoded.tracker.pendingDeletions).toEqual(tracker.pendingDeletions)

    const reloaded = new SaveTracker()
    reloaded.recordLocalChange(new Map([[42, 3]]), { clients: new Map() })
    reloaded.merge(decoded.tracker)
    expect(reloaded.support).toBe('yes')
    expect(reloaded.pending.get(42)).toBe(3)
    expect(reloaded.pending.get(doc.clientID)).toBe(tracker.pending.get(doc.clientID))
    acknowledge(reloaded, [Y.encodeStateAsUpdate(doc)])
    reloaded.applyAcknowledgement(new Map([[42, 3]]), { clients: new Map() })
    expect(reloaded.hasUnsavedChanges).toBe(false)
  })

  it('forgets pending clocks the local document does not hold (record stored, update lost)', () => {
    const tracker = new SaveTracker()
    tracker.applyAcknowledgement(new Map([[3, 4]]), { clients: new Map() })
    tracker.recordLocalChange(new Map([[1, 10], [2, 8], [3, 9]]), { clients: new Map() })
    tracker.forgetBeyond(new Map([[1, 10], [2, 5], [3, 4]]))
    expect(tracker.pending).toEqual(new Map([[1, 10], [2, 5]]))
  })

  it('refuses a damaged record instead of throwing', () => {
    const bytes = encodeSavedStateRecord(new SaveTracker())
    expect(decodeSavedStateRecord(bytes.subarray(0, bytes.length - 1)).ok).toBe(false)
    expect(decodeSavedStateRecord(new Uint8Array([9])).ok).toBe(false)
    expect(decodeSavedStateRecord(new Uint8Array([...bytes, 0])).ok).toBe(false)
  })
})
