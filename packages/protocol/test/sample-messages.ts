import * as Y from 'yjs'
import { createSavedAcknowledgement, encodeAwarenessUpdate, updateMetaOf } from '@quire/protocol'
import type { DecodedMessage, Message, MessageKind } from '@quire/protocol'

/** `message` as `decodeMessage` returns it: an update with what validating it learned. */
export function decodedForm(message: Message): DecodedMessage {
  return message.type === 'sync-step-2' || message.type === 'sync-update' ? { ...message, meta: updateMetaOf(message.update) } : message
}

/**
 * A table of valid messages, at least three of every kind, with payloads taken from
 * real Y.Docs: empty ones, small ones, and one large enough that its length prefix
 * needs a multi-byte varUint. Typed as a Record over MessageKind so a new kind in the
 * union fails to compile here until it has samples.
 */
export function createSampleMessages(): Record<MessageKind, Message[]> {
  const empty = new Y.Doc()
  const small = new Y.Doc()
  small.clientID = 1
  small.getText('text').insert(0, 'hello wörld 👋')
  small.getText('text').delete(2, 3)
  small.getMap('map').set('key', { nested: [1, 2, 3] })
  small.getArray<unknown>('array').insert(0, [1, 'two', new Uint8Array([3])])
  const large = new Y.Doc()
  large.clientID = 2
  large.getText('text').insert(0, 'x'.repeat(20_000))

  const smallUpdate = Y.encodeStateAsUpdate(small)
  const ack = createSavedAcknowledgement(smallUpdate)
  const largeAck = createSavedAcknowledgement(Y.encodeStateAsUpdate(large))

  return {
    'sync-step-1': [
      { type: 'sync-step-1', stateVector: Y.encodeStateVector(empty) },
      { type: 'sync-step-1', stateVector: Y.encodeStateVector(small) },
      { type: 'sync-step-1', stateVector: Y.encodeStateVectorFromUpdate(Y.mergeUpdates([smallUpdate, Y.encodeStateAsUpdate(large)])) }
    ],
    'sync-step-2': [
      { type: 'sync-step-2', update: Y.encodeStateAsUpdate(empty) },
      { type: 'sync-step-2', update: smallUpdate },
      { type: 'sync-step-2', update: Y.encodeStateAsUpdate(large) }
    ],
    'sync-update': [
      { type: 'sync-update', update: Y.encodeStateAsUpdate(empty) },
      { type: 'sync-update', update: smallUpdate },
      { type: 'sync-update', update: Y.encodeStateAsUpdate(large) }
    ],
    awareness: [
      { type: 'awareness', update: encodeAwarenessUpdate([]) },
      { type: 'awareness', update: encodeAwarenessUpdate([{ clientId: 1, clock: 0, state: '{"user":{"name":"Zoë 🦊"}}' }]) },
      {
        type: 'awareness',
        update: encodeAwarenessUpdate([
          { clientId: 2 ** 32 - 1, clock: 300, state: 'null' },
          { clientId: 7, clock: 1, state: JSON.stringify({ cursor: 'c'.repeat(200) }) }
        ])
      }
    ],
    'auth-permission-denied': [
      { type: 'auth-permission-denied', reason: '' },
      { type: 'auth-permission-denied', reason: 'read-only access' },
      { type: 'auth-permission-denied', reason: 'нет доступа ✋'.repeat(20) }
    ],
    'query-awareness': [{ type: 'query-awareness' }],
    'quire-hello': [
      { type: 'quire-hello', version: 1 },
      { type: 'quire-hello', version: 0 },
      { type: 'quire-hello', version: 2 ** 31 }
    ],
    'quire-saved': [
      { type: 'quire-saved', stateVector: Y.encodeStateVector(empty), deleteSet: Y.encodeStateAsUpdate(empty) },
      { type: 'quire-saved', ...ack },
      { type: 'quire-saved', ...largeAck }
    ],
    'quire-deleted': [{ type: 'quire-deleted' }]
  }
}

/** The table flattened, each message with a label for test names. */
export function listSampleMessages(): { label: string; message: Message }[] {
  return Object.entries(createSampleMessages()).flatMap(([kind, messages]) =>
    messages.map((message, i) => ({ label: `${kind} #${i}`, message }))
  )
}
