import type { Scenario } from '../bench-context.js'
import { closeFanout, openFanout, PATTERNS, runStep, stepMicrosPerDelivery as microsPerDelivery, type FanoutSetup, type FixedLoad } from '../fanout-load.js'
import { formatNumber, type Table } from '../markdown-table.js'
import { spreadOf } from '../stats.js'

/**
 * Two servers side by side, an A/B of small differences (metrics on and off, a change
 * against a baseline). Interleaved rounds (fanout-equal-load.ts) still compare windows
 * measured at different times, and on a shared VM the cost of a delivery moves by 10-25%
 * from one window to the next with the neighbours' load: more than the 5% a metrics
 * target allows. Here both servers run at once, pinned to the same core, each with its
 * own clients at the same rate, and every window yields one ratio of their CPU per
 * delivery: whatever slows the core slows both. The ratios' median is the answer, their
 * spread how far to trust it.
 */

const LOADS: FixedLoad[] = [
  { docs: 100, clientsPerDoc: 10, deliveries: 10_000 },
  { docs: 10, clientsPerDoc: 100, deliveries: 10_000 }
]
const SMOKE_LOADS: FixedLoad[] = [{ docs: 3, clientsPerDoc: 3, deliveries: 200 }]
/** Windows per fresh pair; the first one is warm-up and not counted. */
const WINDOWS_PER_ROUND = 5

export const fanoutPairedScenario: Scenario = {
  name: 'fanout-paired',
  description: 'two servers side by side on one core at the same rate: the ratio of their CPU per delivery, window by window',
  onlyWhenNamed: true,
  run: async (context) => {
    const { scale } = context
    const available = context.servers.filter((kind) => kind.unavailable() === undefined)
    // The smoke run (every server) only checks that the scenario runs: the first two.
    const kinds = scale.smoke ? available.slice(0, 2) : available
    const [a, b] = kinds
    if (kinds.length !== 2 || a === undefined || b === undefined) {
      throw new Error(`fanout-paired compares exactly two servers (--servers a,b); got ${kinds.map((kind) => kind.id).join(', ') || 'none'}`)
    }
    const loads = scale.smoke ? SMOKE_LOADS : LOADS
    const timing = { warmupMs: scale.stepWarmupMs, windowMs: scale.stepWindowMs, drainMs: scale.stepDrainMs }
    const rows: string[][] = []
    let runId = 9_500
    for (const load of loads) {
      for (const pattern of scale.smoke ? PATTERNS.slice(0, 1) : PATTERNS) {
        const ratios: number[] = []
        const costs: { a: number[]; b: number[] } = { a: [], b: [] }
        for (let round = 0; round < scale.repetitions; round++) {
          context.log(`fanout-paired ${load.docs}x${load.clientsPerDoc} ${pattern.id}: round ${round + 1}, ${a.label} beside ${b.label}`)
          const setups: FanoutSetup[] = []
          try {
            setups.push(await openFanout(context, a, load.docs, load.clientsPerDoc, pattern, runId++))
            setups.push(await openFanout(context, b, load.docs, load.clientsPerDoc, pattern, runId++))
            const [setupA, setupB] = setups as [FanoutSetup, FanoutSetup]
            for (let window = scale.smoke ? WINDOWS_PER_ROUND - 1 : 0; window < WINDOWS_PER_ROUND; window++) {
              const [stepA, stepB] = await Promise.all([runStep(setupA, load.deliveries, timing), runStep(setupB, load.deliveries, timing)])
              context.log(`  window ${window + 1}: ${formatNumber(microsPerDelivery(stepA), 1)} / ${formatNumber(microsPerDelivery(stepB), 1)} µs per delivery, p99 ${formatNumber(stepA.p99, 1)} / ${formatNumber(stepB.p99, 1)} ms`)
              if (window === 0) continue
              costs.a.push(microsPerDelivery(stepA))
              costs.b.push(microsPerDelivery(stepB))
              ratios.push(microsPerDelivery(stepA) / microsPerDelivery(stepB))
            }
          } finally {
            for (const setup of setups) await closeFanout(setup)
          }
        }
        const ratio = spreadOf(ratios)
        rows.push([
          `${load.docs} x ${load.clientsPerDoc}`,
          pattern.label,
          formatNumber(load.deliveries),
          formatNumber(spreadOf(costs.a).median, 1),
          formatNumber(spreadOf(costs.b).median, 1),
          `${formatNumber(ratio.median, 3)}x`,
          `${formatNumber(ratio.min, 3)}–${formatNumber(ratio.max, 3)}`,
          String(ratios.length)
        ])
      }
    }
    return [
      {
        title: `Fan-out side by side: ${a.label} against ${b.label}`,
        notes: [
          `Both servers run at once on the server core, each with its own clients at the same deliveries/s; every window (${formatNumber(scale.stepWindowMs / 1000, 1)} s after ${formatNumber(scale.stepWarmupMs / 1000, 1)} s of warm-up)` +
            ` gives one ratio of their CPU per delivery (process, all threads). ${scale.repetitions} fresh pairs, ${WINDOWS_PER_ROUND} windows each, the first not counted.` +
            ` Ratio = ${a.label} / ${b.label}: median, and the lowest and highest window.`
        ],
        columns: ['load', 'arrivals', 'deliveries/s each', `${a.label} µs/delivery`, `${b.label} µs/delivery`, 'ratio (median)', 'ratio range', 'windows'],
        rows
      } satisfies Table
    ]
  }
}
