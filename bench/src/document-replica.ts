import * as Y from 'yjs'
import { createSeededRandom } from './seeded-random.js'

/**
 * A document as its clients hold it: the updates it was typed as, its whole state and
 * state vector. Every client of one document holds the same replica (the content was
 * written and synced before the storm), so a thousand clients cost one copy.
 *
 * `reply(serverStateVector)` is what a y-websocket provider answers to the server's sync
 * step 1 (`Y.encodeStateAsUpdate(doc, stateVector)`): what the server lacks. The
 * clients of a document mostly meet the same server state vector (everything, or
 * nothing after an in-memory server restarted), so the last answer is kept: the
 * generator's CPU goes to sockets, not to re-encoding the same diff for each client.
 */
export interface DocumentReplica {
  readonly name: string
  /** The edits in the order they were typed, one update each. */
  readonly updates: readonly Uint8Array[]
  readonly state: Uint8Array
  readonly stateVector: Uint8Array
  reply(serverStateVector: Uint8Array): Uint8Array
}

/**
 * Types about `bytes` characters of text into a fresh document, in chunks of
 * `chunkLength` at seeded positions (so the text is many items, as typed text is, not
 * one run), one update per chunk.
 */
export function createDocumentReplica(name: string, seed: number, bytes: number, chunkLength: number): DocumentReplica {
  const random = createSeededRandom(seed)
  const doc = new Y.Doc()
  doc.clientID = 1 + (seed % 1_000_000)
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  const text = doc.getText('text')
  for (let typed = 0; typed < bytes; typed += chunkLength) {
    const chunk = Array.from({ length: chunkLength }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('')
    text.insert(Math.floor(random() * (text.length + 1)), chunk)
  }
  const state = Y.encodeStateAsUpdate(doc)
  const stateVector = Y.encodeStateVector(doc)
  doc.destroy()
  let lastAsked: string | null = null
  let lastReply: Uint8Array = new Uint8Array(0)
  return {
    name,
    updates,
    state,
    stateVector,
    reply(serverStateVector) {
      const key = Buffer.from(serverStateVector).toString('latin1')
      if (key !== lastAsked) {
        lastReply = Y.diffUpdate(state, serverStateVector)
        lastAsked = key
      }
      return lastReply
    }
  }
}
