import { performance } from 'node:perf_hooks'
import * as Y from 'yjs'
import type { BenchContext, Scenario } from '../bench-context.js'
import { createDataDir } from '../data-dir.js'
import { formatBytes, formatMedianMax, formatNumber, formatP50P99, type Table } from '../markdown-table.js'
import type { ServerKind } from '../server-kind.js'
import type { RunningServer } from '../server-process.js'
import { waitForServerIdle } from '../settle.js'
import { AUTOMERGE_PAPER, mergeConsecutive, readTrace, replayTrace, type ReplayedTrace } from '../trace.js'
import { loadOnce, type LoadResult } from './cold-load.js'

/**
 * Reading a large document through Quire's document API (`GET /api/v1/documents/<room>`)
 * against reading it as a stock WebSocket client does (connect, sync, apply). The
 * automerge-paper trace is uploaded through the API itself (`POST .../updates`, 200
 * updates each merging a run of consecutive patches, each answered once durable; 20 in a
 * smoke run), then:
 *
 * - cold: right after a restart, the first GET (the document comes from storage), and
 *   the first WebSocket load after another restart;
 * - repeated: GETs one after another (no client is connected, so each is read from
 *   storage again), the same GETs with the previous ETag (answered 304), and WebSocket
 *   loads one after another (the room stays open between them only while a client is in it).
 *
 * Times are ms at the client: "bytes" until the whole body (or the completing sync reply)
 * arrived, "applied" until a Y.Doc held the whole text. Quire only: no other server here
 * has a document API.
 */

const MERGED_UPDATES = 200
/** A smoke run proves the path with fewer POSTs: each waits for its commit. */
const SMOKE_MERGED_UPDATES = 20
/** As in the cold load: the first applies of a large update run uncompiled code. */
const CLIENT_WARM_UP_APPLIES = 5
const IDLE_TIMEOUT_MS = 120_000

interface Timed {
  bytesMs: number
  appliedMs: number
}

interface Measurement {
  uploadSeconds: number
  documentBytes: number
  coldGet: Timed[]
  coldSocket: LoadResult[]
  repeatedGet: Timed[]
  notModified: number[]
  repeatedSocket: LoadResult[]
}

function httpUrlOf(server: RunningServer): string {
  return server.url.replace(/^ws/, 'http')
}

async function upload(server: RunningServer, room: string, updates: readonly Uint8Array[]): Promise<void> {
  const url = `${httpUrlOf(server)}/api/v1/documents/${encodeURIComponent(room)}/updates`
  for (const update of updates) {
    const response = await fetch(url, { method: 'POST', body: update })
    if (response.status !== 200) throw new Error(`upload through the API answered ${response.status}: ${await response.text()}`)
  }
}

async function getOnce(server: RunningServer, room: string, trace: ReplayedTrace): Promise<Timed & { etag: string; bytes: number }> {
  const start = performance.now()
  const response = await fetch(`${httpUrlOf(server)}/api/v1/documents/${encodeURIComponent(room)}`)
  const body = new Uint8Array(await response.arrayBuffer())
  const bytesMs = performance.now() - start
  if (response.status !== 200) throw new Error(`GET answered ${response.status}`)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, body)
  const appliedMs = performance.now() - start
  if (doc.getText(trace.textKey).toString() !== trace.text) throw new Error('the document read through the API is not the uploaded one')
  doc.destroy()
  return { bytesMs, appliedMs, etag: response.headers.get('etag') ?? '', bytes: body.byteLength }
}

async function notModifiedOnce(server: RunningServer, room: string, etag: string): Promise<number> {
  const start = performance.now()
  const response = await fetch(`${httpUrlOf(server)}/api/v1/documents/${encodeURIComponent(room)}`, { headers: { 'if-none-match': etag } })
  await response.arrayBuffer()
  if (response.status !== 304) throw new Error(`GET with the current ETag answered ${response.status}, not 304`)
  return performance.now() - start
}

function mergedUpdates(context: BenchContext): number {
  return context.scale.smoke ? SMOKE_MERGED_UPDATES : MERGED_UPDATES
}

function warmUpClient(trace: ReplayedTrace): void {
  for (let round = 0; round < CLIENT_WARM_UP_APPLIES; round++) {
    const doc = new Y.Doc()
    Y.applyUpdate(doc, trace.state)
    doc.destroy()
  }
}

function repeatedReads(context: BenchContext): number {
  return context.scale.smoke ? 3 : 50
}

async function measure(context: BenchContext, kind: ServerKind, room: string, trace: ReplayedTrace): Promise<Measurement> {
  const dataDir = createDataDir(context, `api-read-${kind.id}`)
  let server = await kind.start({ dataDir, profileDir: context.profileDir })
  const restart = async (): Promise<void> => {
    await waitForServerIdle(server, { quietMs: context.scale.settleMs, timeoutMs: IDLE_TIMEOUT_MS })
    await server.stop()
    server = await kind.start({ dataDir, profileDir: context.profileDir })
  }
  try {
    const uploadStart = performance.now()
    await upload(server, room, mergeConsecutive(trace.updates, mergedUpdates(context)))
    const uploadSeconds = (performance.now() - uploadStart) / 1000
    const coldGet: Timed[] = []
    const coldSocket: LoadResult[] = []
    let documentBytes = 0
    for (let repetition = 0; repetition < context.scale.repetitions; repetition++) {
      await restart()
      const read = await getOnce(server, room, trace)
      documentBytes = read.bytes
      coldGet.push(read)
      await restart()
      coldSocket.push(await loadOnce(server, kind, room, trace))
    }
    // Unmeasured first reads: the client's code for each path is compiled before the measured ones.
    const { etag } = await getOnce(server, room, trace)
    await loadOnce(server, kind, room, trace)
    const repeatedGet: Timed[] = []
    const notModified: number[] = []
    const repeatedSocket: LoadResult[] = []
    for (let i = 0; i < repeatedReads(context); i++) repeatedGet.push(await getOnce(server, room, trace))
    for (let i = 0; i < repeatedReads(context); i++) notModified.push(await notModifiedOnce(server, room, etag))
    for (let i = 0; i < repeatedReads(context); i++) repeatedSocket.push(await loadOnce(server, kind, room, trace))
    return { uploadSeconds, documentBytes, coldGet, coldSocket, repeatedGet, notModified, repeatedSocket }
  } finally {
    await server.stop()
  }
}

export const apiReadScenario: Scenario = {
  name: 'api-read',
  description: "reading a large document through Quire's HTTP API (cold and repeated, with ETag) against a WebSocket client's sync",
  run: async (context) => {
    const kind = context.servers.find((server) => server.id === 'quire')
    if (kind === undefined) return []
    const loaded = readTrace(AUTOMERGE_PAPER, context.scale.coldLoadPatches, { allowSynthetic: context.scale.smoke })
    const trace = replayTrace(loaded, 1)
    warmUpClient(trace)
    context.log(`api-read: ${AUTOMERGE_PAPER.id} (${formatNumber(loaded.patches.length)} patches), ${kind.label}`)
    const result = await measure(context, kind, AUTOMERGE_PAPER.id, trace)
    context.log(
      `  upload ${result.uploadSeconds.toFixed(1)} s; GET cold ${formatMedianMax(result.coldGet.map((r) => r.appliedMs))} ms, repeated ${formatP50P99(result.repeatedGet.map((r) => r.appliedMs))} ms; 304 ${formatP50P99(result.notModified)} ms; WebSocket cold ${formatMedianMax(result.coldSocket.map((r) => r.appliedMs))} ms, repeated ${formatP50P99(result.repeatedSocket.map((r) => r.appliedMs))} ms`
    )
    const table: Table = {
      title: `Reading a document through the HTTP API: ${AUTOMERGE_PAPER.id}`,
      notes: [
        `${loaded.synthetic ? 'A synthetic typing session standing in for ' : ''}${AUTOMERGE_PAPER.description}: ${formatNumber(loaded.patches.length)} patches, ${formatNumber(trace.text.length)} characters; the API serves it as one update of ${formatBytes(result.documentBytes)}.` +
          ` Uploaded through the API as ${mergedUpdates(context)} merged updates in ${result.uploadSeconds.toFixed(1)} s (each POST answered once durable).`,
        `ms at the client. bytes = until the whole body (HTTP) or the sync reply that completed the document (WebSocket) arrived; applied = until a Y.Doc held the whole text.` +
          ` Cold = right after a restart, from storage (median of ${context.scale.repetitions}, and the slowest). Repeated = ${repeatedReads(context)} reads one after another, p50 / p99:` +
          ` no client stays connected, so each GET reads the document from storage again, and each WebSocket client opens the room again.`
      ],
      columns: ['read', 'cold ms: bytes', 'cold ms: applied', 'repeated ms: bytes p50 / p99', 'repeated ms: applied p50 / p99'],
      rows: [
        [
          'GET /api/v1/documents/<room>',
          formatMedianMax(result.coldGet.map((r) => r.bytesMs)),
          formatMedianMax(result.coldGet.map((r) => r.appliedMs)),
          formatP50P99(result.repeatedGet.map((r) => r.bytesMs)),
          formatP50P99(result.repeatedGet.map((r) => r.appliedMs))
        ],
        ['GET with If-None-Match (304)', 'n/a', 'n/a', formatP50P99(result.notModified), 'n/a (nothing to apply)'],
        [
          'WebSocket client (sync handshake)',
          formatMedianMax(result.coldSocket.map((r) => r.bytesMs)),
          formatMedianMax(result.coldSocket.map((r) => r.appliedMs)),
          formatP50P99(result.repeatedSocket.map((r) => r.bytesMs)),
          formatP50P99(result.repeatedSocket.map((r) => r.appliedMs))
        ]
      ]
    }
    return [table]
  }
}
