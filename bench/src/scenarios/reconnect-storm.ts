import { performance } from 'node:perf_hooks'
import * as Y from 'yjs'
import { createBenchClient, SYNC_STEP_2 } from '../bench-client.js'
import type { BenchContext, Scenario } from '../bench-context.js'
import { createDataDir } from '../data-dir.js'
import { createDocumentReplica, type DocumentReplica } from '../document-replica.js'
import { startHttpProbe } from '../http-probe.js'
import { formatBytes, formatNumber, formatRatio, formatWithSpread, type Table } from '../markdown-table.js'
import { createClientFleet, MAX_BACKOFF_MS, type ClientFleet } from '../reconnecting-client.js'
import { sampleRss } from '../rss-sampler.js'
import type { ServerKind } from '../server-kind.js'
import { findFreePort, type RunningServer } from '../server-process.js'
import { waitFor, waitForServerIdle } from '../settle.js'
import { median, percentile, spreadOf } from '../stats.js'

/**
 * Reconnect storm: D documents of a few KB each (typed as many small edits, written and
 * stored first), C clients per document that connect and sync, then the server is
 * killed with SIGKILL and started again on the same port and data after a few seconds
 * of downtime. The clients reconnect as stock y-websocket 3 providers do
 * (reconnecting-client.ts): no jitter, so after the downtime they all retry every 2.5 s,
 * in lockstep. The server is started right after one such wave of refused retries, so
 * it listens before the next wave and the whole wave reaches it at once.
 *
 * Figures, per server: the time from the storm's first connection (the first attempt
 * that found the restarted server listening) until every client is synced again, and
 * the p50 / p99 of each client's sync on the same clock; how long the generator took to
 * send the wave (first to last connection); the time from listening to all synced,
 * which adds the wait for the wave (set by the clients' backoff and the server's boot,
 * not by how it handles the storm); clients that never synced within the timeout; the
 * response times of a health check while the storm lasts; closes with 1013 the clients
 * saw; connection attempts that reached the server; the server's peak RSS while the
 * storm lasted (sampled every 20 ms) and its CPU seconds from listening to all synced.
 * Afterwards a fresh client per document checks that the server holds every document
 * whole: from its storage (Quire, Hocuspocus + SQLite) or from the clients' sync step 2
 * (@y/websocket-server keeps documents in memory only, so it gets them back from the
 * reconnecting clients).
 */

const RSS_SAMPLE_MS = 20
/** A health check every 100 ms while the storm lasts, as a load balancer would send. */
const PROBE_INTERVAL_MS = 100
const CONNECT_BATCH = 250
const WRITE_PARALLEL = 50
/** Characters per edit when the documents are written: a few words, as typed between two sends. */
const EDIT_CHARS = 25
const IDLE_TIMEOUT_MS = 120_000
const TARGET_RATIO = 0.5
/**
 * No retry for this long: the clients' wave is over. The generator starts a wave's
 * connects one after another, a few hundred ms from first to last, with pauses while it
 * handles what comes back; waves are 2.5 s apart.
 */
const WAVE_GAP_MS = 300

interface StormResult {
  /** ms from spawning the restarted server to its listening line. */
  bootMs: number
  /** ms from the listening line to the storm's first connection. */
  waitForRetryMs: number
  /** ms from the storm's first connection to its last: how tightly the generator sent the wave. */
  waveMs: number
  /** ms from the storm's first connection until every client synced (Infinity if some never did). */
  allSyncedMs: number
  allSyncedFromListeningMs: number
  p50Ms: number
  p99Ms: number
  neverSynced: number
  stoppedForGood: number
  closes1013: number
  attemptsReached: number
  peakRssBytes: number
  connectedRssBytes: number
  serverCpuSeconds: number
  /** Fraction of its core the load generator used from listening to all synced. */
  generatorCpu: number
  /** Documents the server did not hold whole after the storm. */
  documentsLost: number
  /** Response times of `GET /healthz` from listening to all synced, ms. */
  probeMedianMs: number
  probeMaxMs: number
}

function buildReplicas(context: BenchContext): DocumentReplica[] {
  const { stormDocs, stormDocumentChars } = context.scale
  return Array.from({ length: stormDocs }, (_, index) => createDocumentReplica(`storm-${index}`, 0x57012 + index, stormDocumentChars, EDIT_CHARS))
}

/** One writer per document sends its edits one update each, then a sync round trip proves the server has them. */
async function writeDocuments(server: RunningServer, kind: ServerKind, replicas: readonly DocumentReplica[]): Promise<void> {
  for (let start = 0; start < replicas.length; start += WRITE_PARALLEL) {
    await Promise.all(
      replicas.slice(start, start + WRITE_PARALLEL).map(async (replica) => {
        let replies = 0
        const writer = createBenchClient({
          baseUrl: server.url,
          room: replica.name,
          dialect: kind.dialect,
          onUpdate: (_update, subtype) => {
            if (subtype === SYNC_STEP_2) replies++
          }
        })
        await writer.ready
        for (const update of replica.updates) writer.sendUpdate(update)
        writer.requestSync()
        await waitFor(() => replies >= 2, IDLE_TIMEOUT_MS, `${replica.name} written to ${kind.id}`)
        await writer.close()
      })
    )
  }
}

async function connectFleet(context: BenchContext, fleet: ClientFleet, server: RunningServer, replicas: readonly DocumentReplica[]): Promise<void> {
  const total = replicas.length * context.scale.stormClientsPerDoc
  for (let start = 0; start < total; start += CONNECT_BATCH) {
    const end = Math.min(total, start + CONNECT_BATCH)
    // Interleaved: consecutive clients belong to different documents.
    for (let index = start; index < end; index++) fleet.add(server.url, replicas[index % replicas.length] as DocumentReplica, 10_000 + index)
    await waitFor(() => fleet.clients.slice(start, end).every((client) => client.synced), IDLE_TIMEOUT_MS, 'storm clients connected')
  }
}

/** Counts documents the server does not hold whole, each read by a fresh client with an empty state vector. */
async function countLostDocuments(server: RunningServer, kind: ServerKind, replicas: readonly DocumentReplica[]): Promise<number> {
  let lost = 0
  for (let start = 0; start < replicas.length; start += WRITE_PARALLEL) {
    await Promise.all(
      replicas.slice(start, start + WRITE_PARALLEL).map(async (replica) => {
        let held: Uint8Array | null = null
        const reader = createBenchClient({
          baseUrl: server.url,
          room: replica.name,
          dialect: kind.dialect,
          onUpdate: (update, subtype) => {
            if (subtype === SYNC_STEP_2 && held === null) held = update
          }
        })
        await reader.ready
        await reader.close()
        const expected = Y.decodeStateVector(replica.stateVector)
        const got = Y.decodeStateVector(Y.encodeStateVectorFromUpdate(held ?? new Uint8Array([0, 0])))
        const whole = [...expected].every(([client, clock]) => got.get(client) === clock)
        if (!whole) lost++
      })
    )
  }
  return lost
}

/**
 * Resolves once a wave of the clients' retries that began after `since` (all refused: the
 * server is down) is over. Started then, a server that boots in less than the clients'
 * backoff (2.5 s) listens when the next wave comes, and the whole wave reaches it at
 * once. A restart in the middle of a wave splits it: the clients refused just before the
 * server listened come back 2.5 s later, whatever the server does.
 */
async function waveOfRetriesEnded(fleet: ClientFleet, since: number): Promise<void> {
  const deadline = performance.now() + 4 * MAX_BACKOFF_MS
  for (;;) {
    const last = fleet.attempts.at(-1)
    if (last !== undefined && last.startedAt > since && performance.now() - last.startedAt > WAVE_GAP_MS) return
    if (performance.now() > deadline) throw new Error('the clients stopped retrying while the server was down')
    await sleep(WAVE_GAP_MS / 10)
  }
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

async function stormOnce(context: BenchContext, kind: ServerKind, replicas: readonly DocumentReplica[]): Promise<StormResult> {
  const { scale } = context
  const port = await findFreePort()
  const dataDir = createDataDir(context, `storm-${kind.id}`)
  let server = await kind.start({ dataDir, port })
  const fleet = createClientFleet(kind.dialect)
  try {
    await writeDocuments(server, kind, replicas)
    await connectFleet(context, fleet, server, replicas)
    // Nothing written may still be pending (Hocuspocus debounces its stores by 2 s).
    await sleep(kind.deferredWriteMs ?? 0)
    await waitForServerIdle(server, { quietMs: scale.settleMs, timeoutMs: IDLE_TIMEOUT_MS })
    const connectedRssBytes = server.rssBytes()

    fleet.resetCounts()
    const killedAt = performance.now()
    await server.kill()
    await sleep(scale.stormDowntimeMs)
    await waveOfRetriesEnded(fleet, performance.now())
    const spawnedAt = performance.now()
    server = await kind.start({ dataDir, port, profileDir: context.profileDir })
    const listeningAt = performance.now()
    const rss = sampleRss(server.pid, RSS_SAMPLE_MS)
    const probe = startHttpProbe(server.url.replace(/^ws:/, 'http:'), PROBE_INTERVAL_MS)
    const cpuAtListening = server.cpuSeconds()
    const generatorAtListening = process.cpuUsage()
    const { clients } = fleet
    const resynced = (): number => clients.filter((client) => client.synced && client.syncedAt > killedAt).length
    const deadline = listeningAt + scale.stormTimeoutMs
    while (resynced() < clients.length && performance.now() < deadline) await sleep(RSS_SAMPLE_MS)
    const doneAt = performance.now()
    const serverCpuSeconds = server.cpuSeconds() - cpuAtListening
    const generatorUsage = process.cpuUsage(generatorAtListening)
    const peakRssBytes = rss.stop()
    const probeTimes = await probe.stop()

    const reached = fleet.attempts.filter((attempt) => attempt.reachedServer && attempt.startedAt > killedAt).map((attempt) => attempt.startedAt)
    const firstConnection = Math.min(...reached)
    const syncTimes = clients
      .map((client) => (client.synced && client.syncedAt > killedAt ? client.syncedAt - firstConnection : Number.POSITIVE_INFINITY))
      .sort((a, b) => a - b)
    const neverSynced = syncTimes.filter((time) => !Number.isFinite(time)).length
    const lastSync = syncTimes.at(-1) ?? Number.NaN
    const result: StormResult = {
      bootMs: listeningAt - spawnedAt,
      waitForRetryMs: firstConnection - listeningAt,
      waveMs: Math.max(...reached) - firstConnection,
      allSyncedMs: lastSync,
      allSyncedFromListeningMs: lastSync + firstConnection - listeningAt,
      p50Ms: percentile(syncTimes, 50),
      p99Ms: percentile(syncTimes, 99),
      neverSynced,
      stoppedForGood: clients.filter((client) => client.stoppedBy !== null).length,
      closes1013: fleet.closeCodes.get(1013) ?? 0,
      attemptsReached: reached.length,
      peakRssBytes,
      connectedRssBytes,
      serverCpuSeconds,
      generatorCpu: (generatorUsage.user + generatorUsage.system) / 1000 / (doneAt - listeningAt),
      documentsLost: await countLostDocuments(server, kind, replicas),
      probeMedianMs: median(probeTimes),
      probeMaxMs: Math.max(...probeTimes)
    }
    return result
  } finally {
    fleet.close()
    await server.stop()
  }
}

function describeResult(result: StormResult): string {
  return (
    `boot ${formatNumber(result.bootMs)} ms, first connection ${formatNumber(result.waitForRetryMs)} ms after listening, wave ${formatNumber(result.waveMs)} ms,` +
    ` all synced ${formatNumber(result.allSyncedMs)} ms later (p50 ${formatNumber(result.p50Ms)}, p99 ${formatNumber(result.p99Ms)}),` +
    ` never synced ${result.neverSynced} (stopped for good ${result.stoppedForGood}), 1013 closes ${result.closes1013}, attempts ${formatNumber(result.attemptsReached)},` +
    ` peak RSS ${formatBytes(result.peakRssBytes)} (connected before the kill ${formatBytes(result.connectedRssBytes)}),` +
    ` /healthz ${formatNumber(result.probeMedianMs)} ms median, ${formatNumber(result.probeMaxMs)} ms max,` +
    ` server CPU ${formatNumber(result.serverCpuSeconds, 2)} s, generator ${Math.round(result.generatorCpu * 100)}% of its core, documents lost ${result.documentsLost}`
  )
}

interface Row {
  kind: ServerKind
  results: StormResult[]
  reason?: string
}

function medianOf(results: readonly StormResult[], pick: (result: StormResult) => number): number {
  return results.length === 0 ? Number.NaN : median(results.map(pick))
}

function withSpread(results: readonly StormResult[], pick: (result: StormResult) => number, format: (value: number) => string): string {
  const spread = spreadOf(results.map(pick))
  return results.length > 1 ? formatWithSpread(format(spread.median), spread.relative) : format(spread.median)
}

const seconds = (ms: number): string => formatNumber(ms / 1000, 2)

export const reconnectStormScenario: Scenario = {
  name: 'storm',
  description: 'every client of a killed server reconnects at once to its restart (stock y-websocket backoff, no jitter)',
  run: async (context) => {
    const { scale } = context
    const replicas = buildReplicas(context)
    const clientCount = scale.stormDocs * scale.stormClientsPerDoc
    const rows: Row[] = context.servers.map((kind) => {
      const reason = kind.unavailable()
      if (reason !== undefined) return { kind, results: [], reason: `not run: ${reason}` }
      if (kind.dialect === 'relay') return { kind, results: [], reason: 'n/a: keeps no document' }
      return { kind, results: [] }
    })
    // Repetitions interleaved across servers, so a burst of other work on the machine does not land on one server.
    for (let repetition = 0; repetition < scale.repetitions; repetition++) {
      for (const row of rows) {
        if (row.reason !== undefined) continue
        context.log(`storm: ${row.kind.label}, repetition ${repetition + 1} of ${scale.repetitions}`)
        const result = await stormOnce(context, row.kind, replicas)
        context.log(`  ${row.kind.id}: ${describeResult(result)}`)
        row.results.push(result)
      }
    }
    const allSynced = (row: Row | undefined): number => medianOf(row?.results ?? [], (result) => result.allSyncedMs)
    const quire = rows.find((row) => row.kind.id === 'quire')
    // The other servers: not Quire's own variants (a baseline build, a flag), not a floor.
    const others = rows.filter((row) => !row.kind.id.startsWith('quire') && row.kind.floor !== true && row.results.length > 0)
    const floor = rows.find((row) => row.kind.floor === true && row.results.length > 0)
    const fastest = others.reduce<Row | undefined>((best, row) => (best === undefined || allSynced(row) < allSynced(best) ? row : best), undefined)
    const documentBytes = median(replicas.map((replica) => replica.state.byteLength))
    const perRun = scale.repetitions > 1 ? `Median of ${scale.repetitions} runs (± half the min-max spread)` : 'One run'
    const table: Table = {
      title: `Reconnect storm (${formatNumber(clientCount)} clients, ${formatNumber(scale.stormDocs)} documents)`,
      notes: [
        `${formatNumber(scale.stormDocs)} documents of ${formatNumber(scale.stormDocumentChars)} characters (${formatBytes(documentBytes)} encoded, typed as ${replicas[0]?.updates.length ?? 0} edits at seeded positions),` +
          ` ${scale.stormClientsPerDoc} clients each, all synced; then SIGKILL, ${formatNumber(scale.stormDowntimeMs / 1000, 1)} s down, and the server started again on the same port and data.` +
          ` Clients reconnect like stock y-websocket 3 (backoff 200 ms doubling to ${MAX_BACKOFF_MS} ms, no jitter; sync step 1 and an awareness state on open; synced on sync step 2).` +
          ` Times in seconds from the storm's first connection (the first attempt that found the restarted server listening) until every client synced again,` +
          ` and p50 / p99 of each client's sync on that clock. The server is started right after a wave of refused retries, so that it listens before the next one and the whole wave reaches it;` +
          ` wave = from the first to the last connection of that wave (the generator starts them one after another on one core, so no server can be done sooner);` +
          ` "from listening" adds the wait for the wave, which the clients' backoff and the server's boot decide.` +
          ` Peak RSS sampled every ${RSS_SAMPLE_MS} ms from listening to all synced; server CPU over the same time;` +
          ` /healthz = response times of a health check over a new connection every ${PROBE_INTERVAL_MS} ms over the same time (how responsive the server stays). Lost = documents a fresh client did not get whole afterwards. ${perRun}.` +
          ` Quire / this below 1 favours Quire.`
      ],
      columns: [
        'server',
        'all synced s',
        'p50 / p99 per client s',
        'wave s',
        'from listening s',
        'boot s',
        'never synced',
        '/healthz ms median / max',
        '1013 closes',
        'attempts',
        'peak RSS (connected before)',
        'server CPU s',
        'generator CPU',
        'lost',
        'Quire / this'
      ],
      rows: rows.map((row) => {
        if (row.reason !== undefined) return [row.kind.label, row.reason]
        const { results } = row
        return [
          row.kind.label,
          withSpread(results, (result) => result.allSyncedMs, seconds),
          `${seconds(medianOf(results, (result) => result.p50Ms))} / ${seconds(medianOf(results, (result) => result.p99Ms))}`,
          seconds(medianOf(results, (result) => result.waveMs)),
          seconds(medianOf(results, (result) => result.allSyncedFromListeningMs)),
          seconds(medianOf(results, (result) => result.bootMs)),
          String(Math.max(...results.map((result) => result.neverSynced))),
          `${formatNumber(medianOf(results, (result) => result.probeMedianMs))} / ${formatNumber(medianOf(results, (result) => result.probeMaxMs))}`,
          formatNumber(medianOf(results, (result) => result.closes1013)),
          formatNumber(medianOf(results, (result) => result.attemptsReached)),
          `${formatBytes(medianOf(results, (result) => result.peakRssBytes))} (${formatBytes(medianOf(results, (result) => result.connectedRssBytes))})`,
          formatNumber(medianOf(results, (result) => result.serverCpuSeconds), 2),
          `${Math.round(medianOf(results, (result) => result.generatorCpu) * 100)}%`,
          String(Math.max(...results.map((result) => result.documentsLost))),
          formatRatio(allSynced(quire), allSynced(row))
        ]
      })
    }
    const quireNeverSynced = quire ? Math.max(0, ...quire.results.map((result) => result.neverSynced)) : Number.NaN
    const ratio = fastest ? allSynced(quire) / allSynced(fastest) : Number.NaN
    const met = Number.isFinite(ratio) && ratio <= TARGET_RATIO && quireNeverSynced === 0
    const summary: Table = {
      title: 'Reconnect storm against the target',
      notes: [
        `From the table above. Target (issue 12): every client synced again at least twice as fast as with the fastest of the other servers (ratio <= ${TARGET_RATIO}),` +
          ' timed from the storm\'s first connection, and no client that never syncs. n/a = no other server in this run.' +
          ' The protocol floor is not one of the other servers: it is the least a `ws` server must do per reconnecting client (server-scripts/storm-floor.mjs),' +
          ' so "floor / fastest" is the best ratio any server on `ws` could show in this run, and "Quire / floor" what Quire spends above that least.'
      ],
      columns: [
        'Quire all synced s',
        'fastest other server',
        'its all synced s',
        'Quire / fastest',
        'protocol floor all synced s',
        'floor / fastest',
        'Quire / floor',
        'Quire clients never synced',
        'target met'
      ],
      rows: [
        [
          seconds(allSynced(quire)),
          fastest?.kind.label ?? 'n/a',
          seconds(allSynced(fastest)),
          formatRatio(allSynced(quire), allSynced(fastest)),
          seconds(allSynced(floor)),
          formatRatio(allSynced(floor), allSynced(fastest)),
          formatRatio(allSynced(quire), allSynced(floor)),
          String(quireNeverSynced),
          fastest === undefined || quire === undefined ? 'n/a' : met ? 'yes' : 'no'
        ]
      ]
    }
    return [table, summary]
  }
}
