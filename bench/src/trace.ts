import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'

/**
 * Real editing traces from josephg/editing-traces (`sequential_traces/`):
 * { startContent, endContent, txns: [{ patches: [[position, deleteCount, insertText]] }] }.
 * The patches of a transaction apply one after the other, each against the text as
 * the previous one left it; positions and counts are in unicode code points.
 * Replaying a trace into a Y.Text, one transaction per patch, yields the updates a
 * client would have sent while the text was being written.
 */

/** The workplace keeps traces in shared/traces beside the repository; QUIRE_TRACES names another folder. */
const TRACES_DIR = process.env['QUIRE_TRACES'] ?? fileURLToPath(new URL('../../../shared/traces', import.meta.url))

export interface TraceSource {
  id: string
  file: string
  /** What was typed, for table notes. */
  description: string
}

/** A LaTeX paper typed start to finish: 259,778 single-character patches. */
export const AUTOMERGE_PAPER: TraceSource = {
  id: 'automerge-paper',
  file: 'automerge-paper.json.gz',
  description: 'the automerge-paper trace (a LaTeX paper typed character by character)'
}

/** Someone editing a Rust source file in VS Code: pastes, multi-cursor edits and refactorings. */
export const RUSTCODE: TraceSource = {
  id: 'rustcode',
  file: 'rustcode.json.gz',
  description: 'the rustcode trace (a Rust source file edited in VS Code, multi-cursor edits included)'
}

export type Patch = [number, number, string]

interface TraceFile {
  startContent: string
  endContent: string
  txns: { patches: Patch[] }[]
}

export interface LoadedTrace {
  source: TraceSource
  /** In order; a non-empty start content is the first patch (an insert at 0). */
  patches: Patch[]
  /** Whether a seeded synthetic session stands in for the missing file (smoke runs only). */
  synthetic: boolean
  /** The text after all patches, when all of them were read: the replay is checked against it. */
  endContent: string | undefined
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
 * The first `limit` patches of a trace. Without the trace file, a smoke run (which only
 * proves the harness works) replays a seeded synthetic typing session instead and says
 * so; a real run refuses, since its figures would not be comparable.
 */
export function readTrace(source: TraceSource, limit: number, options: { allowSynthetic?: boolean } = {}): LoadedTrace {
  const path = join(TRACES_DIR, source.file)
  if (!existsSync(path)) {
    const help = `the ${source.id} trace is not at ${path}; put it there or set QUIRE_TRACES=<folder holding ${source.file}>`
    if (!options.allowSynthetic) throw new Error(help)
    console.warn(`[bench] ${help}. Smoke run: replaying a synthetic trace instead.`)
    return { source, patches: syntheticPatches(limit), synthetic: true, endContent: undefined }
  }
  const trace = JSON.parse(gunzipSync(readFileSync(path)).toString('utf8')) as TraceFile
  const all: Patch[] = trace.startContent.length > 0 ? [[0, 0, trace.startContent]] : []
  for (const txn of trace.txns) all.push(...txn.patches)
  if (all.length <= limit) return { source, patches: all, synthetic: false, endContent: trace.endContent }
  return { source, patches: all.slice(0, limit), synthetic: false, endContent: undefined }
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

const SURROGATE = /[\uD800-\uDFFF]/

/**
 * Y.Text counts UTF-16 code units, the traces count code points. They agree unless
 * the text holds a character outside the Basic Multilingual Plane (neither trace here
 * does); then positions are converted against a copy of the text, which is slow but
 * only paid by such a trace.
 */
function toUtf16Patches(patches: readonly Patch[]): Patch[] {
  if (!patches.some(([, , insert]) => SURROGATE.test(insert))) return [...patches]
  let mirror = ''
  const offsetOf = (codePoints: number): number => {
    let offset = 0
    for (let seen = 0; seen < codePoints && offset < mirror.length; seen++) {
      offset += (mirror.codePointAt(offset) ?? 0) > 0xffff ? 2 : 1
    }
    return offset
  }
  return patches.map(([position, deleteCount, insert]) => {
    const start = offsetOf(position)
    const end = offsetOf(position + deleteCount)
    mirror = mirror.slice(0, start) + insert + mirror.slice(end)
    return [start, end - start, insert]
  })
}

export function replayTrace(trace: LoadedTrace, clientId: number): ReplayedTrace {
  const doc = new Y.Doc()
  doc.clientID = clientId
  const text = doc.getText(TRACE_TEXT_KEY)
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  for (const [position, deleteCount, insert] of toUtf16Patches(trace.patches)) {
    doc.transact(() => {
      if (deleteCount > 0) text.delete(position, deleteCount)
      if (insert.length > 0) text.insert(position, insert)
    })
  }
  const result = { updates, state: Y.encodeStateAsUpdate(doc), text: text.toString(), textKey: TRACE_TEXT_KEY }
  doc.destroy()
  if (trace.endContent !== undefined && result.text !== trace.endContent) {
    throw new Error(`replaying the ${trace.source.id} trace does not end with its endContent (${result.text.length} vs ${trace.endContent.length} characters)`)
  }
  return result
}

/**
 * `count` updates, each `Y.mergeUpdates` of a run of consecutive ones: what a client or
 * server that batches edits sends, an import, or a relay that merged a backlog.
 */
export function mergeConsecutive(updates: readonly Uint8Array[], count: number): Uint8Array[] {
  const size = Math.ceil(updates.length / count)
  const merged: Uint8Array[] = []
  for (let start = 0; start < updates.length; start += size) merged.push(Y.mergeUpdates(updates.slice(start, start + size)))
  return merged
}
