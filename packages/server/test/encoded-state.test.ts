import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { docFromUpdates, readSeeds, runWithSeed } from '@quire/testkit'
import { createEncodedState } from '../src/room/encoded-state.js'

/**
 * Differential: the room's lazily merged encoded state must answer exactly as a real
 * Y.Doc fed the same updates, whatever the interleaving of appends, folds, snapshots
 * and diffs against peers' state vectors.
 */
describe('encoded room state against a real Y.Doc', () => {
  for (const seed of readSeeds([1, 2, 3])) {
    it(`answers like a Y.Doc after random appends, folds, compactions and diffs (seed ${seed})`, () =>
      runWithSeed('encoded room state against a real Y.Doc', seed, (prng) => {
        const writers = [new Y.Doc(), new Y.Doc(), new Y.Doc()]
        const reference = new Y.Doc()
        const state = createEncodedState([])
        // States some peer held at some point: what it knew, and its state vector.
        const peerStates = [{ update: Y.encodeStateAsUpdate(new Y.Doc()), stateVector: Y.encodeStateVector(new Y.Doc()) }]
        // A compaction in flight: marked, then its snapshot made (from everything stored
        // by then, which may be more than at the mark), then swapped in.
        let compaction: { snapshot: Uint8Array | null } | null = null
        for (const writer of writers) {
          writer.on('update', (update: Uint8Array) => {
            state.append(update)
            Y.applyUpdate(reference, update)
          })
        }
        for (let step = 0; step < 1500; step++) {
          const writer = prng.pick(writers)
          const text = writer.getText('t')
          const roll = prng.int(0, 99)
          if (roll < 55) text.insert(prng.int(0, text.length), prng.string(prng.int(1, 4)))
          else if (roll < 75 && text.length > 0) text.delete(prng.int(0, text.length - 1), 1)
          else if (roll < 85) writer.getMap('m').set(`k${prng.int(0, 9)}`, step)
          else if (roll < 90) Y.applyUpdate(writer, Y.encodeStateAsUpdate(reference)) // a writer catches up
          else if (roll < 92) state.fold()
          else if (roll < 94) {
            if (compaction === null) {
              state.mark()
              compaction = { snapshot: null }
            } else if (compaction.snapshot === null) {
              compaction.snapshot = Y.encodeStateAsUpdate(reference) // the reference garbage-collects, as a compaction does
            } else {
              state.replaceUpToMark(compaction.snapshot)
              compaction = null
            }
          }
          else if (roll < 97) peerStates.push({ update: Y.encodeStateAsUpdate(reference), stateVector: Y.encodeStateVector(reference) })
          else {
            // A peer holding an older state asks for what it lacks (sync step 1 -> step 2).
            const peerState = prng.pick(peerStates)
            const peer = docFromUpdates([peerState.update, state.diff(peerState.stateVector)])
            expect(peer.getText('t').toString()).toBe(reference.getText('t').toString())
            expect(peer.getMap('m').toJSON()).toEqual(reference.getMap('m').toJSON())
          }
        }
        expect(Y.decodeStateVector(state.stateVector())).toEqual(Y.decodeStateVector(Y.encodeStateVector(reference)))
        const rebuilt = docFromUpdates([state.snapshot()])
        expect(rebuilt.getText('t').toString()).toBe(reference.getText('t').toString())
        expect(rebuilt.getMap('m').toJSON()).toEqual(reference.getMap('m').toJSON())
        state.fold()
        expect(state.byteLength()).toBe(state.snapshot().byteLength)
      }))
  }
})

describe('encoded room state of a busy, growing document', () => {
  it('merges a long tail into chunks and still answers like a Y.Doc', () =>
    runWithSeed('encoded room state of a busy, growing document', 7, (prng) => {
      const writer = new Y.Doc()
      const reference = new Y.Doc()
      const state = createEncodedState([])
      let midway: { update: Uint8Array; stateVector: Uint8Array } | null = null
      let appended = 0
      writer.on('update', (update: Uint8Array) => {
        state.append(update)
        appended += update.byteLength
        Y.applyUpdate(reference, update)
      })
      // About 1.5 MB in ~1 KiB updates: past the 256 KiB tail limit several times, so
      // chunks form and merge into each other while nothing reads the state.
      for (let step = 0; step < 1500; step++) {
        const text = writer.getText('t')
        if (text.length > 2000 && prng.bool(0.2)) text.delete(prng.int(0, text.length - 100), 50)
        else text.insert(prng.int(0, text.length), prng.string(1000))
        if (step === 700) midway = { update: Y.encodeStateAsUpdate(reference), stateVector: Y.encodeStateVector(reference) }
      }
      expect(appended).toBeGreaterThan(1_000_000)
      const peer = docFromUpdates([midway!.update, state.diff(midway!.stateVector)])
      expect(peer.getText('t').toString()).toBe(reference.getText('t').toString())
      const rebuilt = docFromUpdates([state.snapshot()])
      expect(rebuilt.getText('t').toString()).toBe(reference.getText('t').toString())
    }))
})


describe('encoded room state answering many peers with one state vector', () => {
  it('encodes the diff for a state vector once until the state changes (a reconnect storm)', () => {
    const writer = new Y.Doc()
    const state = createEncodedState([])
    writer.on('update', (update: Uint8Array) => state.append(update))
    writer.getText('t').insert(0, 'held by every client before the restart')
    writer.getText('t').delete(0, 5)
    const held = Y.encodeStateVector(writer)
    const heldDocument = Y.encodeStateAsUpdate(writer)
    const first = state.diff(held)
    // Each client's state vector arrives in a frame of its own: equal bytes, not one array.
    expect(state.diff(held.slice())).toBe(first)
    writer.getText('t').insert(0, 'new ')
    const after = state.diff(held.slice())
    expect(after).not.toBe(first)
    const peer = docFromUpdates([heldDocument, after])
    expect(peer.getText('t').toString()).toBe(writer.getText('t').toString())
  })
})

describe('encoded room state of a document opened from a snapshot and later updates', () => {
  it('gives its parts and its highest clocks without merging them', () => {
    const writer = new Y.Doc()
    const other = new Y.Doc()
    writer.getText('t').insert(0, 'a large document, compacted into one snapshot')
    Y.applyUpdate(other, Y.encodeStateAsUpdate(writer))
    const snapshot = Y.encodeStateAsUpdate(writer)
    const later: Uint8Array[] = []
    writer.on('update', (update: Uint8Array) => later.push(update))
    other.on('update', (update: Uint8Array) => later.push(update))
    writer.getText('t').insert(0, 'and another, ')
    other.getText('t').delete(0, 4)
    const reference = docFromUpdates([snapshot, ...later])
    const state = createEncodedState([snapshot, ...later])

    // Per client, as Yjs reads each part: the guard's starting clocks, and still unmerged.
    expect(state.highestClocks()).toEqual(Y.decodeStateVector(Y.encodeStateVector(reference)))
    expect(state.parts()).toHaveLength(1 + later.length)
    // The parts applied in turn are the document (what the render worker does with them).
    expect(docFromUpdates(state.parts()).getText('t').toString()).toBe(reference.getText('t').toString())
    // Once merged, one part.
    state.snapshot()
    expect(state.parts()).toHaveLength(1)
    expect(state.highestClocks()).toEqual(Y.decodeStateVector(Y.encodeStateVector(reference)))
  })
})
