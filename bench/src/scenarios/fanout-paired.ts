import type { Scenario } from '../bench-context.js'
import { closeFanout, openFanout, PATTERNS, runStep, stepMicrosPerDelivery as microsPerDelivery, SMOKE_FIXED_LOADS, stepTimingOf, type FanoutSetup, type FixedLoad } from '../fanout-load.js'
import { formatNumber, type Table } from '../markdown-table.js'
import { SCRAPE_INTERVAL_MS, startMetricsScraper, type MetricsScraper } from '../metrics-scraper.js'
import type { ServerKind } from '../server-kind.js'
import { spreadOf } from '../stats.js'

/**
 * Two servers side by side, an A/B of small differences (metrics on and off, a change
 * against a baseline). Interleaved rounds (fanout-equal-load.ts) still compare windows
 * measured at different times, and on a shared VM the cost of a delivery moves by 10-25%
 * from one window to the next with the neighbours' load: more than the 5% a metrics
 * target allows. Here both servers run at once, pinned to the same core, each with its
 * own clients at the same rate, and every window yields one ratio of their CPU per
 * delivery: whatever slows the core slows both. The ratios' median is the answer, their
 * spread how far to trust it. Which server starts first and gets its step started first
 * alternates from round to round, so that neither always has the head start. A server
 * that serves metrics is scraped as Prometheus would scrape it in production: what
 * metrics cost includes what a scrape starts (prom-client's process observers).
 */

const LOADS: FixedLoad[] = [
  { docs: 100, clientsPerDoc: 10, deliveries: 10_000 },
  { docs: 10, clientsPerDoc: 100, deliveries: 10_000 }
]
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
    const loads = scale.smoke ? SMOKE_FIXED_LOADS : LOADS
    const timing = stepTimingOf(scale)
    const rows: string[][] = []
    let runId = 9_500
    for (const load of loads) {
      for (const pattern of scale.smoke ? PATTERNS.slice(0, 1) : PATTERNS) {
        const ratios: number[] = []
        const costs: { a: number[]; b: number[] } = { a: [], b: [] }
        for (let round = 0; round < scale.repetitions; round++) {
          context.log(`fanout-paired ${load.docs}x${load.clientsPerDoc} ${pattern.id}: round ${round + 1}, ${a.label} beside ${b.label}`)
          // Odd rounds start b first and ask it first for each step.
          const order: [ServerKind, ServerKind] = round % 2 === 0 ? [a, b] : [b, a]
          const setups = new Map<ServerKind, FanoutSetup>()
          const scrapers: MetricsScraper[] = []
          try {
            for (const kind of order) setups.set(kind, await openFanout(context, kind, load.docs, load.clientsPerDoc, pattern, runId++))
            for (const kind of order) {
              const url = setups.get(kind)?.urls[0]
              if (kind.metricsPath !== undefined && url !== undefined) scrapers.push(startMetricsScraper(url, kind.metricsPath))
            }
            for (let window = scale.smoke ? WINDOWS_PER_ROUND - 1 : 0; window < WINDOWS_PER_ROUND; window++) {
              const [first, second] = order.map((kind) => setups.get(kind) as FanoutSetup) as [FanoutSetup, FanoutSetup]
              const steps = await Promise.all([runStep(first, load.deliveries, timing), runStep(second, load.deliveries, timing)])
              const [stepA, stepB] = order[0] === a ? steps : [steps[1], steps[0]]
              context.log(`  window ${window + 1}: ${formatNumber(microsPerDelivery(stepA), 1)} / ${formatNumber(microsPerDelivery(stepB), 1)} µs per delivery, p99 ${formatNumber(stepA.p99, 1)} / ${formatNumber(stepB.p99, 1)} ms`)
              if (window === 0) continue
              costs.a.push(microsPerDelivery(stepA))
              costs.b.push(microsPerDelivery(stepB))
              ratios.push(microsPerDelivery(stepA) / microsPerDelivery(stepB))
            }
          } finally {
            const scrapes = await Promise.all(scrapers.map((scraper) => scraper.stop()))
            if (scrapers.length > 0) context.log(`  metrics scraped ${scrapes.join(' / ')} times`)
            for (const setup of setups.values()) await closeFanout(setup)
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
            ` Ratio = ${a.label} / ${b.label}: median, and the lowest and highest window. Which server starts and steps first alternates by round.` +
            ([a, b].some((kind) => kind.metricsPath !== undefined) ? ` Servers with metrics are scraped every ${formatNumber(SCRAPE_INTERVAL_MS / 1000)} s, as Prometheus would.` : '')
        ],
        columns: ['load', 'arrivals', 'deliveries/s each', `${a.label} µs/delivery`, `${b.label} µs/delivery`, 'ratio (median)', 'ratio range', 'windows'],
        rows
      } satisfies Table
    ]
  }
}
