import * as Y from 'yjs'
import { createMemoryStorage, createServer } from '@quire/server'
import { formatBytes } from './markdown-table.js'
import { AUTOMERGE_PAPER, readTrace, replayTrace, TRACE_TEXT_KEY } from './trace.js'

/**
 * What a document's version history costs in storage: the automerge-paper document
 * (the whole trace replayed), then VERSIONS rounds of a small edit (a sentence typed,
 * a word deleted, written through the document API) each followed by a named version
 * (`POST .../versions`). Prints, per version, the bytes stored for it (a diff against the
 * previous version, or a checkpoint of the whole state), against the document's encoded
 * size. Run: `nice -n 19 pnpm --filter @quire/bench exec tsx src/version-storage.ts`.
 */
const VERSIONS = 250

const trace = replayTrace(readTrace(AUTOMERGE_PAPER, Number.POSITIVE_INFINITY), 1)
const storage = createMemoryStorage()
const server = createServer({ storage })
const { url } = await server.listen(0, '127.0.0.1')
const api = `${url}/api/v1/documents/paper`

const doc = new Y.Doc()
doc.clientID = 2
Y.applyUpdate(doc, trace.state)
const post = async (path: string, body: Uint8Array | string, expected: number): Promise<void> => {
  const response = await fetch(`${api}${path}`, { method: 'POST', body })
  if (response.status !== expected) throw new Error(`${path}: ${response.status} ${await response.text()}`)
}
await post('/updates', trace.state, 200)
const text = doc.getText(TRACE_TEXT_KEY)
for (let i = 0; i < VERSIONS; i++) {
  const before = Y.encodeStateVector(doc)
  const at = Math.floor((text.length * (i + 1)) / (VERSIONS + 2))
  text.insert(at, ` A sentence added in round ${i}.`)
  text.delete(Math.floor(text.length / 3) + i * 7, 5)
  await post('/updates', Y.encodeStateAsUpdate(doc, before), 200)
  await post('/versions', JSON.stringify({ name: `round ${i}` }), 201)
}
const versions = (await storage.versions?.list('paper')) ?? []
const documentBytes = Y.encodeStateAsUpdate(doc).byteLength
const diffs = versions.filter((v) => v.base !== null)
const checkpoints = versions.filter((v) => v.base === null)
const total = versions.reduce((sum, v) => sum + v.bytes, 0)
const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

console.log(`automerge-paper: ${trace.text.length} characters, ${formatBytes(documentBytes)} encoded (Y.encodeStateAsUpdate); ${versions.length} versions, a small edit (~35 characters typed, 5 deleted) before each\n`)
console.log('| | versions | bytes each (median) | bytes total | per version vs the whole document |')
console.log('| --- | --- | --- | --- | --- |')
console.log(`| diff against the previous version | ${diffs.length} | ${formatBytes(median(diffs.map((v) => v.bytes)))} | ${formatBytes(diffs.reduce((s, v) => s + v.bytes, 0))} | ${((median(diffs.map((v) => v.bytes)) / documentBytes) * 100).toFixed(2)}% |`)
console.log(`| checkpoint (whole state) | ${checkpoints.length} | ${formatBytes(median(checkpoints.map((v) => v.bytes)))} | ${formatBytes(checkpoints.reduce((s, v) => s + v.bytes, 0))} | ${((median(checkpoints.map((v) => v.bytes)) / documentBytes) * 100).toFixed(1)}% |`)
console.log(`| all versions | ${versions.length} | ${formatBytes(total / versions.length)} (mean) | ${formatBytes(total)} | ${((total / versions.length / documentBytes) * 100).toFixed(1)}% |`)
console.log(`| a full copy per version (for comparison) | ${versions.length} | ${formatBytes(documentBytes)} | ${formatBytes(documentBytes * versions.length)} | 100% |`)
// Showing a version rebuilds it from its checkpoint and the diffs after it, in the worker.
const longest = versions.reduce((best, v) => (chainLength(v) > chainLength(best) ? v : best), versions[0] as (typeof versions)[number])
function chainLength(version: (typeof versions)[number]): number {
  let length = 0
  for (let at: number | null = version.id; at !== null; length++) at = versions.find((v) => v.id === at)?.base ?? null
  return length
}
const times: number[] = []
for (let i = 0; i < 10; i++) {
  const started = performance.now()
  const response = await fetch(`${api}/versions/${longest.id}?format=update`)
  await response.arrayBuffer()
  times.push(performance.now() - started)
}
console.log(`\nShowing the version with the longest chain (${chainLength(longest)} updates: its checkpoint and the diffs after it) as an update: median ${median(times).toFixed(1)} ms over 10 GETs.`)
await server.close()
