import { existsSync, readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'

/**
 * The automerge-paper editing trace (a real LaTeX paper typed over time):
 * { startContent, endContent, txns: [{ patches: [[position, deleteCount, insertText]] }] }.
 * Replaying it into a Y.Text, one transaction per patch, yields the updates a
 * client would have sent while the paper was being written.
 */

/** The workplace keeps traces in shared/ beside the repository; QUIRE_TRACE points elsewhere. */
const TRACE = process.env['QUIRE_TRACE'] ?? fileURLToPath(new URL('../../../shared/traces/automerge-paper.json.gz', import.meta.url))

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

/**
 * The first `limit` patches of the trace. Without the trace file, a smoke run (which only
 * proves the harness works) replays a seeded synthetic typing session instead and says
 * so; a real run refuses, since its figures would not be comparable.
 */
export function readTracePatches(limit: number, options: { allowSynthetic?: boolean } = {}): Patch[] {
  if (!existsSync(TRACE)) {
    const help = `the automerge-paper trace is not at ${TRACE}; put it there or set QUIRE_TRACE=<path to automerge-paper.json.gz>`
    if (!options.allowSynthetic) throw new Error(help)
    console.warn(`[bench] ${help}. Smoke run: replaying a synthetic trace instead.`)
    return syntheticPatches(limit)
  }
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

/** A seeded typing session: mostly appends near a moving caret, some deletions. */
function syntheticPatches(limit: number): Patch[] {
  let seed = 42
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  }
  const patches: Patch[] = []
  let length = 0
  let caret = 0
  for (let i = 0; i < limit; i++) {
    if (length > 0 && next() < 0.3) {
      const at = Math.max(0, Math.min(caret, length) - 1)
      patches.push([at, 1, ''])
      length--
      caret = at
    } else {
      if (next() < 0.05) caret = Math.floor(next() * (length + 1))
      patches.push([caret, 0, String.fromCharCode(97 + Math.floor(next() * 26))])
      length++
      caret++
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
