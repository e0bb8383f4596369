import * as encoding from 'lib0/encoding'
import { createBenchClient, closeClients, openClients } from '../bench-client.js'
import type { BenchContext, Scenario } from '../bench-context.js'
import { createDataDir } from '../data-dir.js'
import { formatBytes, formatRatio, formatWithSpread, type Table } from '../markdown-table.js'
import type { ServerKind } from '../server-kind.js'
import { waitFor, waitForServerIdle } from '../settle.js'
import { spreadOf } from '../stats.js'

/**
 * Idle connections: N clients (spread over documents, as editors open them)
 * connect, sync, publish one awareness state each (a user name, a colour, no
 * cursor) and then stay idle. Per connection = (RSS once idle - RSS of the
 * fresh idle server) / N, median of fresh servers.
 *
 * The awareness update is y-protocols' format: [count, then per client:
 * clientID, clock, JSON state], wrapped in an awareness message.
 */

const SETTLE_TIMEOUT_MS = 60_000

function encodeAwareness(clientId: number, name: string): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 1)
  encoding.writeVarUint(encoder, clientId)
  encoding.writeVarUint(encoder, 1)
  encoding.writeVarString(encoder, JSON.stringify({ user: { name, color: '#30bced' }, cursor: null }))
  return encoding.toUint8Array(encoder)
}

async function measureOnce(context: BenchContext, kind: ServerKind): Promise<number> {
  const { idleDocs, idleClientsPerDoc } = context.scale
  const count = idleDocs * idleClientsPerDoc
  const server = await kind.start({ dataDir: createDataDir(context, `idle-${kind.id}`) })
  try {
    await waitForServerIdle(server, { quietMs: Math.min(300, context.scale.settleMs) })
    const baseline = server.rssBytes()
    const clients = await openClients(count, (index) =>
      createBenchClient({ baseUrl: server.url, room: `idle-${index % idleDocs}`, dialect: kind.dialect })
    )
    try {
      clients.forEach((client, index) => client.sendAwareness(encodeAwareness(index + 1, `User ${index + 1}`)))
      await waitFor(() => clients.every((client) => client.socket.bufferedAmount === 0), SETTLE_TIMEOUT_MS, 'awareness sent')
      await waitForServerIdle(server, { quietMs: context.scale.settleMs, timeoutMs: SETTLE_TIMEOUT_MS })
      return (server.rssBytes() - baseline) / count
    } finally {
      await closeClients(clients)
    }
  } finally {
    await server.stop()
  }
}

export const idleConnectionsScenario: Scenario = {
  name: 'idle',
  description: 'RSS per idle connection with awareness',
  run: async (context) => {
    const { scale } = context
    const count = scale.idleDocs * scale.idleClientsPerDoc
    const rows: { kind: ServerKind; perConnection: number; cell: string }[] = []
    for (const kind of context.servers) {
      const reason = kind.unavailable()
      if (reason !== undefined) {
        rows.push({ kind, perConnection: Number.NaN, cell: `not run: ${reason}` })
        continue
      }
      context.log(`idle: ${kind.label}`)
      const samples: number[] = []
      for (let repetition = 0; repetition < scale.repetitions; repetition++) {
        samples.push(await measureOnce(context, kind))
        context.log(`  ${kind.id}: ${formatBytes(samples.at(-1) ?? Number.NaN)} per connection`)
      }
      const spread = spreadOf(samples)
      rows.push({ kind, perConnection: spread.median, cell: formatWithSpread(formatBytes(spread.median), spread.relative) })
    }
    const quire = rows.find((row) => row.kind.id === 'quire')
    const table: Table = {
      title: `Idle connections (${count.toLocaleString('en-US')} clients with awareness)`,
      notes: [
        `${scale.idleDocs} documents x ${scale.idleClientsPerDoc} clients, each synced and holding one awareness state, then idle.` +
          ` (RSS once idle - RSS before) / clients, median of ${scale.repetitions} fresh servers. Quire / this below 1 favours Quire.`
      ],
      columns: ['server', 'RSS per idle connection', 'Quire / this'],
      rows: rows.map((row) => [row.kind.label, row.cell, quire ? formatRatio(quire.perConnection, row.perConnection) : 'n/a'])
    }
    return [table]
  }
}
