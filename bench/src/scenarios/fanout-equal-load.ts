import type { Scenario } from '../bench-context.js'
import { closeFanout, openFanout, PATTERNS, runStepWithoutSteal, SMOKE_FIXED_LOADS, stepMicrosPerDelivery, stepTimingOf, type FixedLoad } from '../fanout-load.js'
import { formatNumber, formatRatio, formatWithSpread, type Table } from '../markdown-table.js'
import type { ServerKind } from '../server-kind.js'
import { spreadOf } from '../stats.js'

/**
 * Server CPU per delivery with every server carrying the same load. The fan-out scenario
 * reads CPU per delivery at each server's own capacity steps, so two servers are compared
 * at different rates (and at 10 x 100 the generator, not the server, sets the rate); an
 * A/B of two builds of Quire (metrics on and off, a baseline commit) needs the same rate
 * for both. Rounds interleave the servers (A, B, A, B, ...), each round on a fresh server,
 * so a burst of other work on the machine spreads over all of them.
 */

const LOADS: FixedLoad[] = [
  { docs: 100, clientsPerDoc: 10, deliveries: 15_000 },
  { docs: 10, clientsPerDoc: 100, deliveries: 15_000 }
]
/** Steps per fresh server: the first is warm-up (JIT, heap growth) and not counted. */
const STEPS_PER_ROUND = 3

export const fanoutEqualLoadScenario: Scenario = {
  name: 'fanout-equal-load',
  description: 'server CPU per delivery with every server at the same fixed rate, interleaved rounds (an A/B of builds)',
  onlyWhenNamed: true,
  run: async (context) => {
    const { scale } = context
    const loads = scale.smoke ? SMOKE_FIXED_LOADS : LOADS
    const rounds = scale.repetitions
    const timing = stepTimingOf(scale)
    const kinds = context.servers.filter((kind) => kind.unavailable() === undefined)
    const rows: string[][] = []
    let runId = 9_000
    for (const load of loads) {
      // The smoke run (part of `pnpm test`) only checks that the scenario runs: one pattern.
      for (const pattern of scale.smoke ? PATTERNS.slice(0, 1) : PATTERNS) {
        const samples = new Map<string, number[]>(kinds.map((kind) => [kind.id, []]))
        const p99s = new Map<string, number[]>(kinds.map((kind) => [kind.id, []]))
        for (let round = 0; round < rounds; round++) {
          // Alternate the order too, so neither server always runs right after the other.
          const order = round % 2 === 0 ? kinds : [...kinds].reverse()
          for (const kind of order) {
            context.log(`fanout-equal-load ${load.docs}x${load.clientsPerDoc} ${pattern.id}: round ${round + 1} of ${kind.label}`)
            const setup = await openFanout(context, kind, load.docs, load.clientsPerDoc, pattern, runId++)
            try {
              for (let step = scale.smoke ? STEPS_PER_ROUND - 1 : 0; step < STEPS_PER_ROUND; step++) {
                const result = await runStepWithoutSteal(context, setup, load.deliveries, timing)
                if (step === 0) continue
                samples.get(kind.id)?.push(stepMicrosPerDelivery(result))
                p99s.get(kind.id)?.push(result.p99)
              }
            } finally {
              await closeFanout(setup)
            }
          }
        }
        const quire = spreadOf(samples.get('quire') ?? [])
        for (const kind of kinds) rows.push(rowOf(kind, load, pattern.label, samples.get(kind.id) ?? [], p99s.get(kind.id) ?? [], quire.median))
      }
    }
    const table: Table = {
      title: 'Fan-out CPU per delivery at equal load',
      notes: [
        `Every server carries the same deliveries/s; ${rounds} interleaved rounds, each on a fresh server with ${STEPS_PER_ROUND} steps` +
          ` (${formatNumber(scale.stepWarmupMs / 1000, 1)} s warm-up, ${formatNumber(scale.stepWindowMs / 1000, 1)} s measured), the first step of a round not counted.` +
          ' CPU = server process, all threads, µs per delivery: median of the counted steps ± half the min-max spread.' +
          ' The ratio is Quire / this server (below 1 favours Quire).'
      ],
      columns: ['load', 'arrivals', 'server', 'deliveries/s', 'CPU µs/delivery', 'p99 ms (median)', 'Quire CPU ratio'],
      rows
    }
    return [table]
  }
}

function rowOf(kind: ServerKind, load: FixedLoad, arrivals: string, samples: number[], p99s: number[], quireMedian: number): string[] {
  if (samples.length === 0) return [`${load.docs} x ${load.clientsPerDoc}`, arrivals, kind.label, formatNumber(load.deliveries), 'not run', '', '']
  const cpu = spreadOf(samples)
  return [
    `${load.docs} x ${load.clientsPerDoc}`,
    arrivals,
    kind.label,
    formatNumber(load.deliveries),
    formatWithSpread(formatNumber(cpu.median, 1), cpu.relative),
    formatNumber(spreadOf(p99s).median, 1),
    formatRatio(quireMedian, cpu.median)
  ]
}
