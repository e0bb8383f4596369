import { performance } from 'node:perf_hooks'
import * as Y from 'yjs'
import { createBenchClient, SYNC_STEP_2, type BenchClient } from '../bench-client.js'
import type { BenchContext, Scenario } from '../bench-context.js'
import { createDataDir } from '../data-dir.js'
import { formatBytes, formatNumber, formatRatio, type Table } from '../markdown-table.js'
import type { ServerKind } from '../server-kind.js'
import type { RunningServer } from '../server-process.js'
import { waitFor, waitForServerIdle } from '../settle.js'
import { median } from '../stats.js'
import { AUTOMERGE_PAPER, RUSTCODE, mergeConsecutive, readTrace, replayTrace, type ReplayedTrace, type TraceSource } from '../trace.js'

/**
 * Cold and warm load of a large document, as a user meets it: a fresh client opens
 * the document and the clock stops when its Y.Doc holds the whole text (the reply
 * applied), not when the bytes arrived; the time the first byte of that completing
 * reply arrived is reported beside it.
 *
 * Each trace is replayed once into a Y.Doc, one transaction per patch, and uploaded in
 * two shapes by one client: one update per patch (the way the text reached the server
 * while being typed) and 200 updates that each `Y.mergeUpdates` a run of consecutive
 * ones (what a client or server that batches edits sends, an import, or a relay that
 * merged a backlog). Once the server is idle (and past any store it debounces), warm
 * load is measured while the uploading client stays connected, so servers without
 * persistence still hold the document; the first warm load of each server is not
 * counted, and this process applies each document a few times before it measures
 * anything, so that no server's figures pay for compiling the client's code. Servers with persistence are then stopped and
 * restarted on their data before every cold load; the first restart comes right after
 * the upload, when a server may still have to merge its log.
 */

const FEED_CHUNK = 2000
const LOAD_TIMEOUT_MS = 120_000
const IDLE_TIMEOUT_MS = 300_000
const MERGED_UPDATES = 200
const TRACES: TraceSource[] = [AUTOMERGE_PAPER, RUSTCODE]
/**
 * Times this process applies a trace's document before measuring anything. The first
 * applies of a large update run uncompiled code (on the paper: 80, 50, then 11 ms), which
 * would slow the loads of whichever server is measured first.
 */
const CLIENT_WARM_UP_APPLIES = 5

interface UploadShape {
  id: string
  label: string
  updates(trace: ReplayedTrace): Uint8Array[]
}

const SHAPES: UploadShape[] = [
  { id: 'per-patch', label: 'one update per patch', updates: (trace) => trace.updates },
  {
    id: 'merged',
    label: 'merged updates',
    updates: (trace) => mergeConsecutive(trace.updates, MERGED_UPDATES)
  }
]

export interface LoadResult {
  /** ms from socket open until the first byte of the reply that completed the document arrived. */
  bytesMs: number
  /** ms from socket open until that reply was applied and the Y.Doc held the whole text. */
  appliedMs: number
  firstReplyComplete: boolean
}

interface Measurement {
  uploadSeconds: number
  warm: LoadResult[]
  cold: LoadResult[]
}

async function feed(server: RunningServer, kind: ServerKind, room: string, updates: readonly Uint8Array[]): Promise<BenchClient> {
  let replies = 0
  const feeder = createBenchClient({
    baseUrl: server.url,
    room,
    dialect: kind.dialect,
    onUpdate: (_update, subtype) => {
      if (subtype === SYNC_STEP_2) replies++
    }
  })
  await feeder.ready
  let expectedReplies = replies
  for (let start = 0; start < updates.length; start += FEED_CHUNK) {
    for (const update of updates.slice(start, start + FEED_CHUNK)) feeder.sendUpdate(update)
    // A sync round trip per chunk keeps the server's input queue bounded.
    feeder.requestSync()
    expectedReplies++
    await waitFor(() => replies >= expectedReplies, LOAD_TIMEOUT_MS, `upload to ${kind.id}`)
  }
  return feeder
}

export async function loadOnce(server: RunningServer, kind: ServerKind, room: string, trace: ReplayedTrace): Promise<LoadResult> {
  const doc = new Y.Doc()
  const text = doc.getText(trace.textKey)
  let firstReplyComplete: boolean | undefined
  let loaded: LoadResult | undefined
  const start = performance.now()
  const client = createBenchClient({
    baseUrl: server.url,
    room,
    dialect: kind.dialect,
    timeArrival: true,
    onUpdate: (update, subtype, firstByteAt) => {
      if (loaded) return
      Y.applyUpdate(doc, update)
      const complete = text.length === trace.text.length && text.toString() === trace.text
      if (subtype === SYNC_STEP_2 && firstReplyComplete === undefined) firstReplyComplete = complete
      if (complete) {
        loaded = { bytesMs: firstByteAt - start, appliedMs: performance.now() - start, firstReplyComplete: firstReplyComplete ?? false }
      }
    }
  })
  try {
    // Also proves that what a restarted server loaded from its storage is the whole document.
    await waitFor(() => loaded !== undefined, LOAD_TIMEOUT_MS, `the whole document from ${kind.id}`)
    return loaded as LoadResult
  } finally {
    await client.close()
    doc.destroy()
  }
}

/**
 * Waits until any write the server may defer (a debounced store) is due, counted from
 * the last change to the document, then until the server is idle.
 */
async function settleWrites(context: BenchContext, kind: ServerKind, server: RunningServer, lastChangeAt: number): Promise<void> {
  const due = lastChangeAt + (kind.deferredWriteMs ?? 0) - performance.now()
  if (due > 0) await new Promise((resolve) => setTimeout(resolve, due))
  const idle = await waitForServerIdle(server, { quietMs: context.scale.settleMs, timeoutMs: IDLE_TIMEOUT_MS })
  if (!idle) context.log(`  ${kind.id} was still busy after ${IDLE_TIMEOUT_MS / 1000} s`)
}

/**
 * Warm loads take tens of milliseconds, so a run takes more of them than of cold loads,
 * whose restarts take seconds: with three, two servers serving the same encoding swapped
 * places from run to run.
 */
function warmLoads(context: BenchContext): number {
  return context.scale.smoke ? context.scale.repetitions : 3 * context.scale.repetitions
}

async function measure(context: BenchContext, kind: ServerKind, room: string, trace: ReplayedTrace, updates: readonly Uint8Array[]): Promise<Measurement> {
  const dataDir = createDataDir(context, `cold-${kind.id}`)
  let server = await kind.start({ dataDir, profileDir: context.profileDir })
  const warm: LoadResult[] = []
  const cold: LoadResult[] = []
  try {
    const uploadStart = performance.now()
    const feeder = await feed(server, kind, room, updates)
    const uploaded = performance.now()
    const uploadSeconds = (uploaded - uploadStart) / 1000
    // Let the server finish what the upload queued (writes, merges) so warm load measures serving, not the backlog.
    await settleWrites(context, kind, server, uploaded)
    // One load first, unmeasured: the client's code for this server's replies is compiled before the measured ones.
    await loadOnce(server, kind, room, trace)
    for (let repetition = 0; repetition < warmLoads(context); repetition++) warm.push(await loadOnce(server, kind, room, trace))
    await feeder.close()
    if (!kind.persistent) return { uploadSeconds, warm, cold }
    for (let repetition = 0; repetition < context.scale.repetitions; repetition++) {
      // Nothing may still be unwritten when the server stops: a cold load must come from storage alone.
      await settleWrites(context, kind, server, uploaded)
      await server.stop()
      server = await kind.start({ dataDir, profileDir: context.profileDir })
      cold.push(await loadOnce(server, kind, room, trace))
    }
    return { uploadSeconds, warm, cold }
  } finally {
    await server.stop()
  }
}

function warmUpClient(trace: ReplayedTrace): void {
  for (let round = 0; round < CLIENT_WARM_UP_APPLIES; round++) {
    const doc = new Y.Doc()
    Y.applyUpdate(doc, trace.state)
    if (doc.getText(trace.textKey).toString() !== trace.text) throw new Error('the replayed document does not apply as itself')
    doc.destroy()
  }
}

interface Row {
  shape: UploadShape
  /** The shape and its number of updates, e.g. "merged updates (200)". */
  upload: string
  kind: ServerKind
  measurement?: Measurement
  /** Why there is no measurement. */
  reason?: string
}

function medianOf(loads: readonly LoadResult[], pick: (load: LoadResult) => number): number {
  return loads.length === 0 ? Number.NaN : median(loads.map(pick))
}

/** "bytes / applied" in ms. */
function describeLoads(loads: readonly LoadResult[]): string {
  if (loads.length === 0) return 'n/a'
  return `${formatNumber(medianOf(loads, (load) => load.bytesMs))} / ${formatNumber(medianOf(loads, (load) => load.appliedMs))}`
}

function coldApplied(row: Row | undefined): number {
  return medianOf(row?.measurement?.cold ?? [], (load) => load.appliedMs)
}

function warmApplied(row: Row | undefined): number {
  return medianOf(row?.measurement?.warm ?? [], (load) => load.appliedMs)
}

function logMeasurement(context: BenchContext, kind: ServerKind, result: Measurement): void {
  const loads = (list: LoadResult[]): string =>
    list.map((load) => `${load.bytesMs.toFixed(0)}/${load.appliedMs.toFixed(0)}${load.firstReplyComplete ? '' : '*'}`).join(' ')
  context.log(
    `  ${kind.id}: upload ${result.uploadSeconds.toFixed(1)} s, warm ${loads(result.warm)} ms, cold ${loads(result.cold) || 'n/a'} ms (bytes/applied, * = first reply incomplete)`
  )
}

function describeTrace(context: BenchContext, trace: ReplayedTrace, patches: number, source: TraceSource, synthetic: boolean): string {
  const what = synthetic ? `a synthetic typing session standing in for ${source.description}` : source.description
  const whole = Number.isFinite(context.scale.coldLoadPatches) ? `the first ${formatNumber(patches)} patches of ${what}` : what
  return `${whole[0]?.toUpperCase()}${whole.slice(1)}: ${formatNumber(patches)} patches, ${formatNumber(trace.text.length)} characters, ${formatBytes(trace.state.byteLength)} as one encoded update.`
}

export const coldLoadScenario: Scenario = {
  name: 'cold-load',
  description: 'time until a fresh client holds a large document, right after a restart (cold) and while it is open (warm)',
  run: async (context) => {
    const { scale } = context
    const tables: Table[] = []
    const summary: string[][] = []
    for (const [traceIndex, source] of TRACES.entries()) {
      const loaded = readTrace(source, scale.coldLoadPatches, { allowSynthetic: scale.smoke })
      const trace = replayTrace(loaded, 1)
      warmUpClient(trace)
      const rows: Row[] = []
      // A smoke run proves each path once: each trace in one shape, the shapes alternating.
      const shapes = scale.smoke ? SHAPES.filter((_shape, index) => index === traceIndex % SHAPES.length) : SHAPES
      for (const shape of shapes) {
        const updates = shape.updates(trace)
        const upload = `${shape.label} (${formatNumber(updates.length)})`
        for (const kind of context.servers) {
          const reason = kind.unavailable()
          if (reason !== undefined) {
            rows.push({ shape, upload, kind, reason: `not run: ${reason}` })
            continue
          }
          if (kind.dialect === 'relay') {
            rows.push({ shape, upload, kind, reason: 'n/a: keeps no document' })
            continue
          }
          context.log(`cold-load: ${source.id}, ${shape.label} (${formatNumber(updates.length)}), ${kind.label}`)
          const measurement = await measure(context, kind, `${source.id}-${shape.id}`, trace, updates)
          logMeasurement(context, kind, measurement)
          rows.push({ shape, upload, kind, measurement })
        }
        const quire = rows.find((row) => row.shape === shape && row.kind.id === 'quire')
        const byId = (id: string): Row | undefined => rows.find((row) => row.shape === shape && row.kind.id === id)
        summary.push([
          source.id,
          upload,
          formatNumber(coldApplied(quire)),
          formatRatio(coldApplied(quire), coldApplied(byId('y-websocket-v1'))),
          formatRatio(coldApplied(quire), coldApplied(byId('hocuspocus-sqlite'))),
          formatNumber(warmApplied(quire)),
          formatRatio(warmApplied(quire), warmApplied(byId('y-websocket-server')))
        ])
      }
      tables.push({
        title: `Cold and warm load: ${source.id}`,
        notes: [
          describeTrace(context, trace, loaded.patches.length, source, loaded.synthetic),
          `Uploaded by one client as one update per patch, or as ${MERGED_UPDATES} updates each merging a run of consecutive ones (Y.mergeUpdates).` +
            ` Load times in ms from socket open at a fresh client: bytes = until the first byte of the sync reply that completed the document was received;` +
            ` applied = until that reply was applied and the client's Y.Doc held the whole text. Warm = the document open on the server (the uploading client still connected);` +
            ` cold = right after a restart, from storage (first = the first restart after the upload; then the median of ${scale.repetitions} restarts, the first included).` +
            ` Warm: median of ${warmLoads(context)}; cold: median of ${scale.repetitions}. Upload = seconds to send all updates. Ratios are Quire / this server on the applied time, same upload shape: below 1 favours Quire.`
        ],
        columns: [
          'upload',
          'server',
          'upload s',
          'warm ms: bytes / applied',
          'first cold ms: bytes / applied',
          'cold ms: bytes / applied',
          'first sync reply holds document (cold)',
          'Quire cold / this',
          'Quire warm / this'
        ],
        rows: rows.map((row) => {
          const result = row.measurement
          if (!result) return [row.upload, row.kind.label, row.reason ?? '']
          const quire = rows.find((other) => other.shape === row.shape && other.kind.id === 'quire')
          return [
            row.upload,
            row.kind.label,
            formatNumber(result.uploadSeconds, 1),
            describeLoads(result.warm),
            describeLoads(result.cold.slice(0, 1)),
            describeLoads(result.cold),
            result.cold.length === 0 ? 'n/a: no persistence' : result.cold.every((load) => load.firstReplyComplete) ? 'yes' : 'no',
            formatRatio(coldApplied(quire), coldApplied(row)),
            formatRatio(warmApplied(quire), warmApplied(row))
          ]
        })
      })
    }
    tables.push({
      title: 'Cold and warm load against the targets',
      notes: [
        'Applied times (ms until the fresh client\'s Y.Doc held the whole document), medians from the tables above.' +
          ' Targets (issue #17): cold load at most 1/4 of y-websocket 1.5 + LevelDB\'s (ratio <= 0.25) and below Hocuspocus 4 + SQLite\'s (ratio < 1);' +
          ' warm load at most @y/websocket-server\'s (ratio <= 1). n/a = that server was not in this run.'
      ],
      columns: [
        'trace',
        'upload',
        'Quire cold ms',
        'Quire / y-websocket 1.5 + LevelDB (cold)',
        'Quire / Hocuspocus 4 + SQLite (cold)',
        'Quire warm ms',
        'Quire / @y/websocket-server (warm)'
      ],
      rows: summary
    })
    return tables
  }
}
