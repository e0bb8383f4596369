import { performance } from 'node:perf_hooks'
import * as Y from 'yjs'
import { createBenchClient, type BenchClient } from '../bench-client.js'
import type { BenchContext, Scenario } from '../bench-context.js'
import { createDataDir } from '../data-dir.js'
import { formatNumber, formatRatio, formatWithSpread, type Table } from '../markdown-table.js'
import type { ServerKind } from '../server-kind.js'
import type { RunningServer } from '../server-process.js'
import { waitFor, waitForServerIdle } from '../settle.js'
import { spreadOf } from '../stats.js'
import { readTracePatches, replayTrace, type ReplayedTrace } from '../trace.js'

/**
 * Cold load of a large document: the automerge-paper trace is replayed once
 * into a Y.Doc (one transaction per patch) and every resulting update is sent
 * by one client, the way the paper would have reached the server while being
 * typed. For servers with persistence, the server is then stopped once idle
 * and restarted on the same data, and a fresh client measures the time from
 * opening its socket until its Y.Doc holds the whole paper; also whether the
 * very first sync reply already held it. Every measurement gets its own
 * restart. Warm load is the same measurement while the document is still in
 * memory (once the server is idle after the upload, before the restart). Servers
 * without persistence are listed but not measured.
 */

const FEED_CHUNK = 2000
const LOAD_TIMEOUT_MS = 120_000
const ROOM = 'automerge-paper'

interface LoadResult {
  ms: number
  firstReplyComplete: boolean
}

async function feed(server: RunningServer, kind: ServerKind, trace: ReplayedTrace): Promise<BenchClient> {
  let replies = 0
  const feeder = createBenchClient({
    baseUrl: server.url,
    room: ROOM,
    dialect: kind.dialect,
    onUpdate: (_update, subtype) => {
      if (subtype === 1) replies++
    }
  })
  await feeder.ready
  let expectedReplies = replies
  for (let start = 0; start < trace.updates.length; start += FEED_CHUNK) {
    for (const update of trace.updates.slice(start, start + FEED_CHUNK)) feeder.sendUpdate(update)
    // A sync round trip per chunk keeps the server's input queue bounded.
    feeder.requestSync()
    expectedReplies++
    await waitFor(() => replies >= expectedReplies, LOAD_TIMEOUT_MS, `upload to ${kind.id}`)
  }
  return feeder
}

async function loadOnce(server: RunningServer, kind: ServerKind, trace: ReplayedTrace): Promise<LoadResult> {
  const doc = new Y.Doc()
  const text = doc.getText(trace.textKey)
  let firstReplyComplete: boolean | undefined
  const start = performance.now()
  const client = createBenchClient({
    baseUrl: server.url,
    room: ROOM,
    dialect: kind.dialect,
    onUpdate: (update, subtype) => {
      Y.applyUpdate(doc, update)
      if (subtype === 1 && firstReplyComplete === undefined) firstReplyComplete = text.length === trace.text.length
    }
  })
  try {
    await waitFor(() => text.length === trace.text.length, LOAD_TIMEOUT_MS, `the whole document from ${kind.id}`)
    const ms = performance.now() - start
    if (text.toString() !== trace.text) throw new Error(`${kind.id} served a document that differs from the trace`)
    return { ms, firstReplyComplete: firstReplyComplete ?? false }
  } finally {
    await client.close()
    doc.destroy()
  }
}

async function measure(
  context: BenchContext,
  kind: ServerKind,
  trace: ReplayedTrace
): Promise<{ warm: number[]; cold: LoadResult[]; feedSeconds: number }> {
  const dataDir = createDataDir(context, `cold-${kind.id}`)
  let server = await kind.start({ dataDir, profileDir: context.profileDir })
  const warm: number[] = []
  const cold: LoadResult[] = []
  const feedStart = performance.now()
  try {
    const feeder = await feed(server, kind, trace)
    const feedSeconds = (performance.now() - feedStart) / 1000
    // Let the server finish what the upload queued (writes, merges) so warm load measures serving, not the backlog.
    await waitForServerIdle(server, { quietMs: context.scale.settleMs, timeoutMs: 300_000 })
    for (let repetition = 0; repetition < context.scale.repetitions; repetition++) {
      warm.push((await loadOnce(server, kind, trace)).ms)
    }
    await feeder.close()
    if (!kind.persistent) return { warm, cold, feedSeconds }
    for (let repetition = 0; repetition < context.scale.repetitions; repetition++) {
      await waitForServerIdle(server, { quietMs: context.scale.settleMs, timeoutMs: 300_000 })
      await server.stop()
      server = await kind.start({ dataDir, profileDir: context.profileDir })
      cold.push(await loadOnce(server, kind, trace))
    }
    return { warm, cold, feedSeconds }
  } finally {
    await server.stop()
  }
}

export const coldLoadScenario: Scenario = {
  name: 'cold-load',
  description: 'time to open the automerge-paper document right after a restart',
  run: async (context) => {
    const { scale } = context
    const patches = readTracePatches(scale.coldLoadPatches, { allowSynthetic: scale.smoke })
    const trace = replayTrace(patches, 1)
    const rows: { kind: ServerKind; cold: number; cells: string[] }[] = []
    for (const kind of context.servers) {
      const reason = kind.unavailable()
      if (reason !== undefined || !kind.persistent) {
        // Without persistence there is nothing to load after a restart; the upload alone
        // would cost minutes of the run for a figure the issue does not ask for.
        rows.push({ kind, cold: Number.NaN, cells: [reason ? `not run: ${reason}` : 'n/a: no persistence configured'] })
        continue
      }
      context.log(`cold-load: ${kind.label}`)
      const result = await measure(context, kind, trace)
      const warm = spreadOf(result.warm)
      const cold = spreadOf(result.cold.map((load) => load.ms))
      context.log(
        `  ${kind.id}: upload ${result.feedSeconds.toFixed(1)} s, warm ${result.warm.map((ms) => ms.toFixed(0)).join('/')} ms,` +
          ` cold ${result.cold.map((load) => `${load.ms.toFixed(0)}${load.firstReplyComplete ? '' : '*'}`).join('/')} ms`
      )
      rows.push({
        kind,
        cold: cold.median,
        cells: [
          formatNumber(result.cold[0]?.ms ?? Number.NaN, 0),
          formatWithSpread(formatNumber(cold.median, 0), cold.relative),
          result.cold.every((load) => load.firstReplyComplete) ? 'yes' : 'no',
          formatWithSpread(formatNumber(warm.median, 0), warm.relative),
          formatNumber(result.feedSeconds, 1)
        ]
      })
    }
    const quire = rows.find((row) => row.kind.id === 'quire')
    const table: Table = {
      title: 'Cold load of the automerge-paper document',
      notes: [
        `${patches.length.toLocaleString('en-US')} patches replayed as ${trace.updates.length.toLocaleString('en-US')} updates` +
          ` (${trace.text.length.toLocaleString('en-US')} characters, ${(trace.state.byteLength / 1024).toFixed(0)} KiB encoded).` +
          ` Cold = ms from socket open to the whole document applied at a fresh client, right after a restart, from persistence` +
          ` (first = the first restart after the upload, when a server may still have to merge its log; then the median of ${scale.repetitions} restarts);` +
          ` warm = the same while the document is in memory. Median of ${scale.repetitions}. Upload = seconds to send all updates one by one. Quire / this (median cold load) below 1 favours Quire.`
      ],
      columns: ['server', 'first cold load ms', 'cold load ms', 'first sync reply holds document', 'warm load ms', 'upload s', 'Quire cold / this'],
      rows: rows.map((row) =>
        row.cells.length === 1
          ? [row.kind.label, row.cells[0] as string]
          : [row.kind.label, ...row.cells, quire ? formatRatio(quire.cold, row.cold) : 'n/a']
      )
    }
    return [table]
  }
}
