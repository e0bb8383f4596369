import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'

/**
 * The automerge-paper editing trace (a real LaTeX paper typed over time):
 * { startContent, endContent, txns: [{ patches: [[position, deleteCount, insertText]] }] }.
 * Replaying it into a Y.Text, one transaction per patch, yields the updates a
 * client would have sent while the paper was being written.
 */

const TRACE = fileURLToPath(new URL('../../../shared/traces/automerge-paper.json.gz', import.meta.url))

type Patch = [number, number, string]

interface Trace {
  startContent: string
  endContent: string
  txns: { patches: Patch[] }[]
}

export interface ReplayedTrace {
  /** One update per patch, in order. */
  updates: Uint8Array[]
  /** The whole document as one update. */
  state: Uint8Array
  text: string
  textKey: string
}

export const TRACE_TEXT_KEY = 'text'

export function readTracePatches(limit: number): Patch[] {
  const trace = JSON.parse(gunzipSync(readFileSync(TRACE)).toString('utf8')) as Trace
  const patches: Patch[] = []
  for (const txn of trace.txns) {
    for (const patch of txn.patches) {
      if (patches.length >= limit) return patches
      patches.push(patch)
    }
  }
  return patches
}

export function replayTrace(patches: readonly Patch[], clientId: number): ReplayedTrace {
  const doc = new Y.Doc()
  doc.clientID = clientId
  const text = doc.getText(TRACE_TEXT_KEY)
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  for (const [position, deleteCount, insert] of patches) {
    doc.transact(() => {
      if (deleteCount > 0) text.delete(position, deleteCount)
      if (insert.length > 0) text.insert(position, insert)
    })
  }
  const result = { updates, state: Y.encodeStateAsUpdate(doc), text: text.toString(), textKey: TRACE_TEXT_KEY }
  doc.destroy()
  return result
}
