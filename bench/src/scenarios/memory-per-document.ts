import { createBenchClient, closeClients, type BenchClient } from '../bench-client.js'
import type { BenchContext, Scenario } from '../bench-context.js'
import { createDataDir } from '../data-dir.js'
import { formatBytes, formatRatio, formatWithSpread, type Table } from '../markdown-table.js'
import type { ServerKind } from '../server-kind.js'
import type { RunningServer } from '../server-process.js'
import { waitFor, waitForServerIdle } from '../settle.js'
import { spreadOf } from '../stats.js'
import { AUTOMERGE_PAPER, readTrace, replayTrace } from '../trace.js'

/**
 * Memory per open document: a fresh server, warmed up with a tenth as many documents
 * opened and closed, its RSS once idle as baseline, then one client per document
 * uploads realistic content (a prefix of the real editing trace, replayed with
 * deletions) and stays connected so the document stays open.
 * Per document = (RSS once idle - baseline) / documents.
 * Each document therefore carries one connection; the idle-connections table
 * shows what a connection alone costs, and the raw relay row (which keeps no
 * document) is that floor measured the same way.
 *
 * A client knows the server applied its upload when the step 2 answering its
 * second sync step 1 arrives: servers handle one connection's messages in order.
 */

const BATCH = 50
const UPLOAD_TIMEOUT_MS = 60_000
/** Warm-up documents per measured document: enough for the JIT and the storage's buffers. */
const WARM_UP_SHARE = 0.1

/**
 * Opens `count` documents named `<prefix>-<i>`, one client each, and resolves once each
 * upload is applied. The clients stay connected (and the documents open) until closed.
 */
async function uploadDocuments(
  kind: ServerKind,
  server: RunningServer,
  prefix: string,
  count: number,
  content: Uint8Array,
  clients: BenchClient[]
): Promise<void> {
  for (let start = 0; start < count; start += BATCH) {
    const batch: Promise<void>[] = []
    for (let index = start; index < Math.min(count, start + BATCH); index++) {
      let replies = 0
      const client = createBenchClient({
        baseUrl: server.url,
        room: `${prefix}-${index}`,
        dialect: kind.dialect,
        onUpdate: (_update, subtype) => {
          if (subtype === 1) replies++
        }
      })
      clients.push(client)
      batch.push(
        (async () => {
          await client.ready
          client.sendUpdate(content)
          if (kind.dialect === 'relay') {
            await waitFor(() => client.socket.bufferedAmount === 0, UPLOAD_TIMEOUT_MS, 'upload')
            return
          }
          client.requestSync()
          await waitFor(() => replies >= 2, UPLOAD_TIMEOUT_MS, `upload of ${prefix}-${index} to ${kind.id}`)
        })()
      )
    }
    await Promise.all(batch)
  }
}

async function measureOnce(context: BenchContext, kind: ServerKind, content: Uint8Array): Promise<number> {
  const docs = context.scale.memoryDocs
  const server = await kind.start({ dataDir: createDataDir(context, `memory-${kind.id}`) })
  const clients: BenchClient[] = []
  try {
    // Warm up: open and close a tenth as many documents first, so that what any server
    // pays once (compiled code, buffers and caches that grow to their working size) is
    // in the baseline and not charged to the documents measured.
    const warmUp: BenchClient[] = []
    await uploadDocuments(kind, server, 'memory-warm-up', Math.ceil(docs * WARM_UP_SHARE), content, warmUp)
    await closeClients(warmUp)
    await waitForServerIdle(server, { quietMs: context.scale.settleMs })
    const baseline = server.rssBytes()
    await uploadDocuments(kind, server, 'memory', docs, content, clients)
    await waitForServerIdle(server, { quietMs: context.scale.settleMs })
    return (server.rssBytes() - baseline) / docs
  } finally {
    await closeClients(clients)
    await server.stop()
  }
}

export const memoryPerDocumentScenario: Scenario = {
  name: 'memory',
  description: 'RSS per open document with realistic content',
  run: async (context) => {
    const { scale } = context
    const replay = replayTrace(readTrace(AUTOMERGE_PAPER, scale.memoryDocPatches, { allowSynthetic: scale.smoke }), 1)
    const rows: { kind: ServerKind; perDoc: number; cell: string }[] = []
    for (const kind of context.servers) {
      const reason = kind.unavailable()
      if (reason !== undefined) {
        rows.push({ kind, perDoc: Number.NaN, cell: `not run: ${reason}` })
        continue
      }
      context.log(`memory: ${kind.label}`)
      const samples: number[] = []
      for (let repetition = 0; repetition < scale.repetitions; repetition++) {
        samples.push(await measureOnce(context, kind, replay.state))
        context.log(`  ${kind.id}: ${formatBytes(samples.at(-1) ?? Number.NaN)} per document`)
      }
      const spread = spreadOf(samples)
      rows.push({ kind, perDoc: spread.median, cell: formatWithSpread(formatBytes(spread.median), spread.relative) })
    }
    const quire = rows.find((row) => row.kind.id === 'quire')
    const table: Table = {
      title: `Memory per open document (${scale.memoryDocs} documents)`,
      notes: [
        `Each document holds the first ${scale.memoryDocPatches.toLocaleString('en-US')} patches of the automerge-paper trace` +
          ` (${replay.text.length.toLocaleString('en-US')} characters, ${formatBytes(replay.state.byteLength)} encoded), uploaded by one client that stays connected.` +
          ` (RSS once idle - RSS before) / documents, median of ${scale.repetitions} fresh servers, each warmed up first by opening and closing ${Math.ceil(scale.memoryDocs * WARM_UP_SHARE).toLocaleString('en-US')} other documents (compiled code and buffers that grow once are not charged per document). Includes one connection per document. Quire / this below 1 favours Quire.`
      ],
      columns: ['server', 'RSS per open document', 'Quire / this'],
      rows: rows.map((row) => [row.kind.label, row.cell, quire ? formatRatio(quire.perDoc, row.perDoc) : 'n/a'])
    }
    return [table]
  }
}
