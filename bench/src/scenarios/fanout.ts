import type { Scenario } from '../bench-context.js'
import {
  cpuMicrosPerDelivery,
  describeStep,
  GENERATOR_BUSY,
  MAX_STEAL,
  MAX_STEP_ATTEMPTS,
  measureFanout,
  medianStep,
  openFanout,
  P99_LIMIT_MS,
  PATTERNS,
  STEADY,
  stealStats,
  type FanoutMeasurement
} from '../fanout-load.js'
import { formatNumber, formatRatio, formatWithSpread, type Table } from '../markdown-table.js'
import type { ServerKind } from '../server-kind.js'
import { wsRelayServer } from '../servers/ws-relay.js'
import { spreadOf } from '../stats.js'

/** Fan-out capacity, saturation and CPU per delivery of every server; the method is described in fanout-load.ts. */

interface Row {
  kind: ServerKind
  capacity: number
  cpuPerDelivery: number
  cells: string[]
}

function tableRows(kinds: readonly ServerKind[], measured: ReadonlyMap<string, FanoutMeasurement>): Row[] {
  return kinds.map((kind) => {
    const reason = kind.unavailable()
    const result = measured.get(kind.id)
    if (reason !== undefined || result === undefined) {
      return { kind, capacity: Number.NaN, cpuPerDelivery: Number.NaN, cells: [`not run: ${reason ?? 'unknown'}`] }
    }
    const capacity = spreadOf(result.capacities)
    const saturation = spreadOf(result.saturations)
    const atCapacity = medianStep(result.capacities, result.capacitySteps)
    const atSaturation = medianStep(result.saturations, result.saturationSteps)
    const cpuPerDelivery = cpuMicrosPerDelivery(result.steps)
    const generatorBusy = [atCapacity, atSaturation].some((step) => (step?.generatorCpu ?? 0) > GENERATOR_BUSY)
    return {
      kind,
      capacity: capacity.median,
      cpuPerDelivery,
      cells: [
        formatWithSpread(formatNumber(capacity.median), capacity.relative),
        describeStep(atCapacity),
        atCapacity ? `${Math.round(atCapacity.serverCpu * 100)}% / ${Math.round(atCapacity.generatorCpu * 100)}%` : 'n/a',
        formatWithSpread(formatNumber(saturation.median), saturation.relative),
        describeStep(atSaturation),
        `${formatNumber(cpuPerDelivery, 1)} (${formatNumber(1e6 / cpuPerDelivery)})`,
        generatorBusy ? 'generator-bound' : ''
      ]
    }
  })
}

export const fanoutScenario: Scenario = {
  name: 'fanout',
  description: 'fan-out capacity (p99 < 50 ms), saturation and CPU per delivery, steady and Poisson arrivals',
  run: async (context) => {
    const { scale } = context
    const tables: Table[] = []
    const summary: string[][] = []
    stealStats.retried = 0
    stealStats.keptStolen = 0
    // The raw relay is the floor every table is read against: measure it even when --servers leaves it out.
    const kinds = context.servers.some((kind) => kind.dialect === 'relay') ? context.servers : [...context.servers, wsRelayServer]
    const runnable = kinds.filter((kind) => kind.unavailable() === undefined)
    let runIdBase = 1
    for (const { docs, clientsPerDoc } of scale.fanoutConfigs) {
      const capacities = new Map<string, number>()
      for (const pattern of PATTERNS) {
        const subjects = runnable.map((kind) => ({
          id: kind.id,
          label: kind.label,
          open: (runId: number) => openFanout(context, kind, docs, clientsPerDoc, pattern, runId)
        }))
        const measured = await measureFanout(context, subjects, `fanout ${docs}x${clientsPerDoc} ${pattern.id}`, runIdBase, capacities)
        runIdBase += 100
        const rows = tableRows(kinds, measured)
        for (const row of rows) if (Number.isFinite(row.capacity)) capacities.set(row.kind.id, row.capacity)
        const quire = rows.find((row) => row.kind.id === 'quire')
        const unmetered = rows.find((row) => row.kind.id === 'quire-no-metrics')
        const relay = rows.find((row) => row.kind.dialect === 'relay')
        const reference = rows.find((row) => row.kind.id === 'y-websocket-server')
        summary.push([
          `${docs} x ${clientsPerDoc}`,
          pattern.label,
          formatNumber(quire?.capacity ?? Number.NaN),
          formatRatio(quire?.capacity ?? Number.NaN, reference?.capacity ?? Number.NaN),
          formatNumber(quire?.cpuPerDelivery ?? Number.NaN, 1),
          formatNumber(relay?.cpuPerDelivery ?? Number.NaN, 1),
          formatRatio(quire?.cpuPerDelivery ?? Number.NaN, relay?.cpuPerDelivery ?? Number.NaN),
          formatRatio(quire?.cpuPerDelivery ?? Number.NaN, unmetered?.cpuPerDelivery ?? Number.NaN)
        ])
        tables.push({
          title: `Fan-out ${docs} docs x ${clientsPerDoc} clients, ${pattern.label}`,
          notes: [
            `Every client sends ${pattern === STEADY ? '8-character inserts at a steady rate, round robin' : '1-character inserts at Poisson times (exponential gaps from a seeded generator, the same for every server)'};` +
              ` a step runs ${formatNumber(scale.stepWarmupMs / 1000, 1)} s of warm-up, ${formatNumber(scale.stepWindowMs / 1000, 1)} s measured, up to ${formatNumber(scale.stepDrainMs / 1000, 1)} s drain.` +
              ` Capacity = highest deliveries/s (updates received by all receivers) with p99 < ${P99_LIMIT_MS} ms; saturation = highest deliveries/s at any latency.` +
              ` Median of ${scale.repetitions} step-up runs, ± half the min-max spread. Latency p50 / p99 in ms. CPU = server process (all threads) / generator during the window, in cores.` +
              ` CPU/delivery = server CPU µs per delivery over the steps under the limit, and in brackets the deliveries/s one core would carry at that cost.` +
              ` Ratios are Quire / this server: capacity above 1 and CPU/delivery below 1 favour Quire; the raw ws relay's row is the floor.`,
            `A step during which the hypervisor stole more than ${MAX_STEAL * 100}% of the server's or the generator's core is measured again` +
              ` (up to ${MAX_STEP_ATTEMPTS} times): so far in this run ${stealStats.retried} step(s) were measured again and ${stealStats.keptStolen} kept over the limit.`
          ],
          columns: [
            'server',
            'capacity/s',
            'p50 / p99 at capacity',
            'cpu srv / gen',
            'saturation/s',
            'p50 / p99 at saturation',
            'CPU µs/delivery (per core)',
            'Quire capacity ratio',
            'Quire CPU/delivery ratio',
            'note'
          ],
          rows: rows.map((row) => {
            if (row.cells.length === 1) return [row.kind.label, row.cells[0] as string]
            const [cap, capLatency, cpu, sat, satLatency, perDelivery, note] = row.cells
            return [
              row.kind.label,
              cap ?? '',
              capLatency ?? '',
              cpu ?? '',
              sat ?? '',
              satLatency ?? '',
              perDelivery ?? '',
              formatRatio(quire?.capacity ?? Number.NaN, row.capacity),
              formatRatio(quire?.cpuPerDelivery ?? Number.NaN, row.cpuPerDelivery),
              note ?? ''
            ]
          })
        })
      }
    }
    tables.push({
      title: 'Fan-out against the targets',
      notes: [
        'From the tables above. Targets (issue #17) at 100 x 10: Quire\'s CPU per delivery at most 1.2x the raw ws relay\'s,' +
          ' and capacity at least 1.5x @y/websocket-server\'s; at 10 x 100, capacity still ahead of @y/websocket-server\'s (ratio above 1).' +
          ' Metrics (issue #13): Quire\'s CPU per delivery with its metrics on (the default) at most 1.05x the same server\'s with --no-metrics.' +
          ' n/a = that server was not in this run.'
      ],
      columns: [
        'docs x clients',
        'arrivals',
        'Quire capacity/s',
        'Quire / @y/websocket-server capacity',
        'Quire CPU µs/delivery',
        'raw ws relay CPU µs/delivery',
        'Quire / relay CPU per delivery',
        'Quire metrics on / off CPU per delivery'
      ],
      rows: summary
    })
    return tables
  }
}
