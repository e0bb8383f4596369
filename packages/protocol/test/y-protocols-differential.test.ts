import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as authProtocol from 'y-protocols/auth'
import { decodeAwarenessUpdate, decodeMessage, encodeAwarenessUpdate, encodeMessage } from '@quire/protocol'
import type { Message } from '@quire/protocol'
import { decodedForm } from './sample-messages.js'

/**
 * Differential tests: our bytes must equal the bytes stock y-websocket clients produce
 * and expect (y-websocket frames are the outer varUint type followed by y-protocols'
 * encoding), in both directions.
 */

// y-websocket's outer message types.
const Y_WEBSOCKET_SYNC = 0
const Y_WEBSOCKET_AWARENESS = 1
const Y_WEBSOCKET_AUTH = 2
const Y_WEBSOCKET_QUERY_AWARENESS = 3

function frame(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

function createEditedDocs(): Y.Doc[] {
  const empty = new Y.Doc()
  const a = new Y.Doc()
  a.getText('t').insert(0, 'Grüße, world ✓')
  a.getText('t').delete(0, 2)
  a.getMap('m').set('k', [1, { deep: true }])
  const b = new Y.Doc()
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
  b.getArray<string>('a').insert(0, ['x'.repeat(5000)])
  b.getText('t').format(0, 3, { bold: true })
  return [empty, a, b]
}

function expectDecodesTo(bytes: Uint8Array, message: Message): void {
  expect(decodeMessage(bytes)).toEqual({ ok: true, message: decodedForm(message) })
}

describe('sync messages equal y-protocols/sync', () => {
  it.each(createEditedDocs().map((doc, i) => ({ i, doc })))('sync step 1 of doc #$i', ({ doc }) => {
    const theirs = frame((encoder) => {
      encoding.writeVarUint(encoder, Y_WEBSOCKET_SYNC)
      syncProtocol.writeSyncStep1(encoder, doc)
    })
    const message: Message = { type: 'sync-step-1', stateVector: Y.encodeStateVector(doc) }
    expect(encodeMessage(message)).toEqual(theirs)
    expectDecodesTo(theirs, message)
  })

  it.each(createEditedDocs().map((doc, i) => ({ i, doc })))('sync step 2 of doc #$i, full and against a state vector', ({ doc }) => {
    const partner = new Y.Doc()
    partner.getText('t').insert(0, 'partner')
    for (const stateVector of [undefined, Y.encodeStateVector(partner), Y.encodeStateVector(doc)]) {
      const theirs = frame((encoder) => {
        encoding.writeVarUint(encoder, Y_WEBSOCKET_SYNC)
        syncProtocol.writeSyncStep2(encoder, doc, stateVector)
      })
      const message: Message = { type: 'sync-step-2', update: Y.encodeStateAsUpdate(doc, stateVector) }
      expect(encodeMessage(message)).toEqual(theirs)
      expectDecodesTo(theirs, message)
    }
  })

  it('sync update equals y-protocols writeUpdate for every update a doc emits', () => {
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (update: Uint8Array) => updates.push(update))
    doc.getText('t').insert(0, 'abc')
    doc.getText('t').delete(1, 1)
    doc.getMap('m').set('x', 1)
    doc.getMap('m').delete('x')
    doc.getArray('a').insert(0, [new Y.Map()])
    expect(updates.length).toBe(5)
    for (const update of updates) {
      const theirs = frame((encoder) => {
        encoding.writeVarUint(encoder, Y_WEBSOCKET_SYNC)
        syncProtocol.writeUpdate(encoder, update)
      })
      expect(encodeMessage({ type: 'sync-update', update })).toEqual(theirs)
      expectDecodesTo(theirs, { type: 'sync-update', update })
    }
  })

  it('y-protocols readSyncMessage applies our sync frames to a doc and answers our step 1', () => {
    const source = createEditedDocs()[2] as Y.Doc
    const target = new Y.Doc()
    const readOurs = (bytes: Uint8Array): Uint8Array => {
      const decoder = decoding.createDecoder(bytes)
      expect(decoding.readVarUint(decoder)).toBe(Y_WEBSOCKET_SYNC)
      const reply = encoding.createEncoder()
      encoding.writeVarUint(reply, Y_WEBSOCKET_SYNC)
      syncProtocol.readSyncMessage(decoder, reply, target, 'test')
      return encoding.toUint8Array(reply)
    }
    const reply = readOurs(encodeMessage({ type: 'sync-step-1', stateVector: Y.encodeStateVector(source) }))
    // The answer to a step 1 is a step 2 we decode into an update of target's state.
    expect(decodeMessage(reply)).toEqual({ ok: true, message: decodedForm({ type: 'sync-step-2', update: Y.encodeStateAsUpdate(target, Y.encodeStateVector(source)) }) })
    readOurs(encodeMessage({ type: 'sync-step-2', update: Y.encodeStateAsUpdate(source) }))
    expect(target.getText('t').toJSON()).toBe(source.getText('t').toJSON())
    expect(target.getArray('a').toJSON()).toEqual(source.getArray('a').toJSON())
    source.getMap('m').set('later', 'yes')
    readOurs(encodeMessage({ type: 'sync-update', update: Y.encodeStateAsUpdate(source, Y.encodeStateVector(target)) }))
    expect(target.getMap('m').get('later')).toBe('yes')
  })
})

describe('awareness messages equal y-protocols/awareness', () => {
  function createAwareness(clientID: number): awarenessProtocol.Awareness {
    const doc = new Y.Doc()
    doc.clientID = clientID
    return new awarenessProtocol.Awareness(doc)
  }

  it('a present, an updated, and a removed client encode the same', () => {
    const awareness = createAwareness(12345)
    awareness.setLocalState({ user: { name: 'Zoë', color: '#ff0000' }, cursor: null })
    awareness.setLocalStateField('cursor', { anchor: 3, head: 5 })
    const other = createAwareness(2 ** 31 + 5)
    other.setLocalState({ emoji: '🦊' })
    try {
      for (const clients of [[12345], [12345, 2 ** 31 + 5]]) {
        // y-protocols encodes from its own state map; feed the other client's state in.
        awarenessProtocol.applyAwarenessUpdate(awareness, awarenessProtocol.encodeAwarenessUpdate(other, [other.clientID]), 'test')
        const theirsUpdate = awarenessProtocol.encodeAwarenessUpdate(awareness, clients)
        const entries = clients.map((clientId) => {
          const meta = awareness.meta.get(clientId)
          if (meta === undefined) throw new Error('missing meta')
          return { clientId, clock: meta.clock, state: JSON.stringify(awareness.getStates().get(clientId) ?? null) }
        })
        expect(encodeAwarenessUpdate(entries)).toEqual(theirsUpdate)
        expect(decodeAwarenessUpdate(theirsUpdate)).toEqual({ ok: true, entries })

        const theirs = frame((encoder) => {
          encoding.writeVarUint(encoder, Y_WEBSOCKET_AWARENESS)
          encoding.writeVarUint8Array(encoder, theirsUpdate)
        })
        expect(encodeMessage({ type: 'awareness', update: encodeAwarenessUpdate(entries) })).toEqual(theirs)
        expectDecodesTo(theirs, { type: 'awareness', update: theirsUpdate })
      }

      // Construction sets {} (clock 0); two updates and the removal make clock 3.
      awareness.setLocalState(null)
      const removal = awarenessProtocol.encodeAwarenessUpdate(awareness, [12345])
      const decoded = decodeAwarenessUpdate(removal)
      expect(decoded).toEqual({ ok: true, entries: [{ clientId: 12345, clock: 3, state: 'null' }] })
    } finally {
      awareness.destroy()
      other.destroy()
    }
  })

  it('y-protocols applies our awareness update, including a removal', () => {
    const awareness = createAwareness(1)
    try {
      awarenessProtocol.applyAwarenessUpdate(awareness, encodeAwarenessUpdate([{ clientId: 99, clock: 1, state: '{"name":"remote"}' }]), 'test')
      expect(awareness.getStates().get(99)).toEqual({ name: 'remote' })
      awarenessProtocol.applyAwarenessUpdate(awareness, encodeAwarenessUpdate([{ clientId: 99, clock: 2, state: 'null' }]), 'test')
      expect(awareness.getStates().has(99)).toBe(false)
    } finally {
      awareness.destroy()
    }
  })
})

describe('auth and query-awareness equal y-websocket', () => {
  it.each(['', 'permission denied', 'read-only: 🔒 ' + 'x'.repeat(300)])('permission denied with reason %#', (reason) => {
    const theirs = frame((encoder) => {
      encoding.writeVarUint(encoder, Y_WEBSOCKET_AUTH)
      authProtocol.writePermissionDenied(encoder, reason)
    })
    expect(encodeMessage({ type: 'auth-permission-denied', reason })).toEqual(theirs)
    expectDecodesTo(theirs, { type: 'auth-permission-denied', reason })
    // And y-protocols reads ours back to the same reason.
    const decoder = decoding.createDecoder(encodeMessage({ type: 'auth-permission-denied', reason }))
    expect(decoding.readVarUint(decoder)).toBe(Y_WEBSOCKET_AUTH)
    let received: string | null = null
    authProtocol.readAuthMessage(decoder, new Y.Doc(), (_doc, denied) => {
      received = denied
    })
    expect(received).toBe(reason)
  })

  it('query awareness is the single byte y-websocket sends', () => {
    const theirs = frame((encoder) => encoding.writeVarUint(encoder, Y_WEBSOCKET_QUERY_AWARENESS))
    expect(encodeMessage({ type: 'query-awareness' })).toEqual(theirs)
    expectDecodesTo(theirs, { type: 'query-awareness' })
  })
})
