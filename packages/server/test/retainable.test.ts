import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { decodeMessage, encodeMessage } from '@quire/protocol'
import { retainable } from '../src/room/retainable.js'

function typedUpdate(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

/** A frame as a socket read delivers it: its own buffer, or one of several frames in one read. */
function decodedUpdate(frame: Uint8Array): Uint8Array {
  const decoded = decodeMessage(frame)
  if (!decoded.ok || decoded.message.type !== 'sync-update') throw new Error('expected a sync update')
  return decoded.message.update
}

describe('retainable', () => {
  it('keeps an update that fills its read buffer as it is, without a second allocation', () => {
    const frame = encodeMessage({ type: 'sync-update', update: typedUpdate('x'.repeat(4000)) })
    const update = decodedUpdate(frame)
    expect(update.buffer).toBe(frame.buffer)
    const kept = retainable(update)
    expect(kept).toBe(update)
  })

  it('copies a small update out of a read that held many frames', () => {
    const small = encodeMessage({ type: 'sync-update', update: typedUpdate('hello') })
    const others = encodeMessage({ type: 'sync-update', update: typedUpdate('y'.repeat(2000)) })
    const read = new Uint8Array(small.byteLength + others.byteLength)
    read.set(small, 0)
    read.set(others, small.byteLength)
    const update = decodedUpdate(read.subarray(0, small.byteLength))
    const kept = retainable(update)
    expect(kept).not.toBe(update)
    expect(kept.buffer).not.toBe(read.buffer)
    expect(kept.buffer.byteLength).toBe(update.byteLength)
    expect(Array.from(kept)).toEqual(Array.from(update))
    // The copy is the room's own: the read buffer changing later cannot reach it.
    read.fill(0)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, kept)
    expect(doc.getText('t').toString()).toBe('hello')
  })
})
