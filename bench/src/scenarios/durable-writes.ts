import { performance } from 'node:perf_hooks'
import * as Y from 'yjs'
import { createBenchClient, closeClients, openClients, type BenchClient } from '../bench-client.js'
import type { BenchContext, Scenario } from '../bench-context.js'
import { createDataDir } from '../data-dir.js'
import { formatNumber, formatRatio, formatWithSpread, type Table } from '../markdown-table.js'
import type { ServerKind } from '../server-kind.js'
import type { RunningServer } from '../server-process.js'
import { waitForServerIdle } from '../settle.js'
import { spreadOf } from '../stats.js'
import { encodeTextInsert } from '../text-insert.js'

/**
 * Durable writes. Quire: each writer owns a document, opts into the Quire
 * extension (`?quire=1`) and keeps up to WINDOW updates in flight; every
 * `quire-saved` acknowledgement (type 100 sub 1) carries, in its state
 * vector, the clock up to which the writer's inserts are durable, which
 * frees window slots. Figures: acknowledged updates/s over the measured
 * window, and server CPU seconds per acknowledged update.
 *
 * y-websocket 1.x + y-leveldb sends no acknowledgements, so the same writers
 * send a fixed number of updates at a steady rate and the server's CPU is read
 * from before the first update until it is idle again, i.e. until y-leveldb has
 * written everything: CPU seconds per stored update.
 */

const INSERT_LENGTH = 8
const WINDOW = 64
const WARMUP_MS = 500

export interface DurableResult {
  updatesPerSecond: number
  cpuPerUpdate: number
}

async function measureQuire(context: BenchContext, kind: ServerKind): Promise<DurableResult> {
  const server = await kind.start({ dataDir: createDataDir(context, 'durable-quire'), profileDir: context.profileDir })
  try {
    return await measureAcknowledgedWrites(context, [server])
  } finally {
    await server.stop()
  }
}

/**
 * Acknowledged updates/s from the durable writers, dealt over `servers` in turn (clones
 * sharing a store, or one server), and the CPU of all of them per acknowledged update.
 */
export async function measureAcknowledgedWrites(context: BenchContext, servers: readonly RunningServer[]): Promise<DurableResult> {
  // Imported here, not at the top: @quire/protocol runs from its build, and a run without
  // one must still start far enough to say that Quire is not built.
  const { decodeMessage } = await import('@quire/protocol')
  const cpuSeconds = (): number => servers.reduce((sum, server) => sum + server.cpuSeconds(), 0)
  const writers: { client: BenchClient; clientId: number; sent: number; acked: number }[] = []
  const clients = await openClients(context.scale.durableClients, (index) => {
    const writer = { clientId: 1000 + index, sent: 0, acked: 0 }
    const client = createBenchClient({
      baseUrl: (servers[index % servers.length] as RunningServer).url,
      room: `durable-${index}`,
      dialect: 'y-websocket',
      query: 'quire=1',
      onQuire: (frame) => {
        const decoded = decodeMessage(frame)
        if (!decoded.ok || decoded.message.type !== 'quire-saved') return
        const durableClock = Y.decodeStateVector(decoded.message.stateVector).get(writer.clientId) ?? 0
        writer.acked = Math.max(writer.acked, durableClock / INSERT_LENGTH)
        topUp(entry)
      }
    })
    const entry = Object.assign(writer, { client })
    writers.push(entry)
    return client
  })
  const topUp = (writer: (typeof writers)[number]): void => {
    while (running && writer.sent - writer.acked < WINDOW) {
      writer.client.sendUpdate(encodeTextInsert(writer.clientId, writer.sent * INSERT_LENGTH, 'abcdefgh'))
      writer.sent++
    }
  }
  let running = true
  writers.forEach(topUp)
  await new Promise((resolve) => setTimeout(resolve, context.scale.smoke ? 100 : WARMUP_MS))
  const ackedBefore = writers.reduce((sum, writer) => sum + writer.acked, 0)
  const cpuBefore = cpuSeconds()
  const start = performance.now()
  await new Promise((resolve) => setTimeout(resolve, context.scale.durableWindowMs))
  const ackedInWindow = writers.reduce((sum, writer) => sum + writer.acked, 0) - ackedBefore
  const cpu = cpuSeconds() - cpuBefore
  const seconds = (performance.now() - start) / 1000
  running = false
  await closeClients(clients)
  if (ackedInWindow === 0) throw new Error('quire: no update was acknowledged in the durable-writes scenario')
  return { updatesPerSecond: ackedInWindow / seconds, cpuPerUpdate: cpu / ackedInWindow }
}

async function measureUnacknowledged(context: BenchContext, kind: ServerKind): Promise<DurableResult> {
  const server = await kind.start({ dataDir: createDataDir(context, `durable-${kind.id}`), profileDir: context.profileDir })
  try {
    const clients = await openClients(context.scale.durableClients, (index) =>
      createBenchClient({ baseUrl: server.url, room: `durable-${index}`, dialect: kind.dialect })
    )
    await waitForServerIdle(server, { quietMs: Math.min(300, context.scale.settleMs) })
    const perClient = context.scale.smoke ? 20 : 400
    const cpuBefore = server.cpuSeconds()
    const start = performance.now()
    // Steady, moderate pace: 50 rounds per second, one update per writer each.
    for (let round = 0; round < perClient; round++) {
      clients.forEach((client, index) => client.sendUpdate(encodeTextInsert(1000 + index, round * INSERT_LENGTH, 'abcdefgh')))
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await waitForServerIdle(server, { quietMs: context.scale.settleMs, timeoutMs: 120_000 })
    const seconds = (performance.now() - start) / 1000
    const cpu = server.cpuSeconds() - cpuBefore
    await closeClients(clients)
    const updates = perClient * clients.length
    return { updatesPerSecond: updates / seconds, cpuPerUpdate: cpu / updates }
  } finally {
    await server.stop()
  }
}

export const durableWritesScenario: Scenario = {
  name: 'durable',
  description: 'durable write throughput with acknowledgements and CPU per stored update',
  run: async (context) => {
    const { scale } = context
    const rows: { kind: ServerKind; cpuPerUpdate: number; cells: string[] }[] = []
    for (const kind of context.servers) {
      const reason = kind.unavailable()
      if (reason !== undefined) {
        if (kind.acknowledgements || kind.id === 'y-websocket-v1') rows.push({ kind, cpuPerUpdate: Number.NaN, cells: [`not run: ${reason}`] })
        continue
      }
      if (!kind.acknowledgements && kind.id !== 'y-websocket-v1') continue
      context.log(`durable: ${kind.label}`)
      const samples: DurableResult[] = []
      for (let repetition = 0; repetition < scale.repetitions; repetition++) {
        samples.push(kind.acknowledgements ? await measureQuire(context, kind) : await measureUnacknowledged(context, kind))
        const last = samples.at(-1)
        context.log(`  ${kind.id}: ${formatNumber(last?.updatesPerSecond ?? 0)} updates/s, ${formatNumber((last?.cpuPerUpdate ?? 0) * 1e6, 1)} µs CPU per update`)
      }
      const throughput = spreadOf(samples.map((sample) => sample.updatesPerSecond))
      const cpu = spreadOf(samples.map((sample) => sample.cpuPerUpdate * 1e6))
      rows.push({
        kind,
        cpuPerUpdate: cpu.median,
        cells: [
          kind.acknowledgements
            ? formatWithSpread(formatNumber(throughput.median), throughput.relative)
            : `n/a (no acks; paced at ${formatNumber(throughput.median)}/s)`,
          formatWithSpread(formatNumber(cpu.median, 1), cpu.relative)
        ]
      })
    }
    const quire = rows.find((row) => row.kind.id === 'quire')
    const table: Table = {
      title: 'Durable writes',
      notes: [
        `${scale.durableClients} writers, one document each. Quire: acknowledged (quire-saved) updates/s with ${WINDOW} updates in flight per writer;` +
          ` y-websocket 1.x + y-leveldb: server CPU from the first update until idle (everything written). CPU µs per stored update, median of ${scale.repetitions}. Quire / this below 1 favours Quire.`
      ],
      columns: ['server', 'acknowledged updates/s', 'server CPU µs per stored update', 'Quire / this'],
      rows: rows.map((row) =>
        row.cells.length === 1
          ? [row.kind.label, row.cells[0] as string]
          : [row.kind.label, ...row.cells, quire ? formatRatio(quire.cpuPerUpdate, row.cpuPerUpdate) : 'n/a']
      )
    }
    return [table]
  }
}
