import { performance } from 'node:perf_hooks'
import { createBenchClient, closeClients, openClients, SYNC_UPDATE, type BenchClient } from '../bench-client.js'
import type { BenchContext, Scenario } from '../bench-context.js'
import { createDataDir } from '../data-dir.js'
import { formatNumber, formatRatio, formatWithSpread, type Table } from '../markdown-table.js'
import type { ServerKind } from '../server-kind.js'
import { mostStolenFraction, readCoreTimes } from '../process-stats.js'
import { GENERATOR_CORE, SERVER_CORE, type RunningServer } from '../server-process.js'
import { wsRelayServer } from '../servers/ws-relay.js'
import { waitForServerIdle } from '../settle.js'
import { median, percentile, spreadOf } from '../stats.js'
import { createSeededRandom } from '../seeded-random.js'
import { encodeTextInsert, readUpdateRanges } from '../text-insert.js'

/**
 * Fan-out: D documents x C clients, every client appending small inserts. Two arrival
 * patterns at the same total rate: steady 8-character inserts, round robin over the
 * clients at even intervals; and 1-character inserts, each client at Poisson times
 * (exponential gaps), the way keystrokes of independent users arrive. A step runs at
 * one total send rate: warm-up, a measured window, then a bounded drain. Latency is
 * receive time minus send time, both on this process' monotonic clock, for every
 * (update, receiver) pair whose send fell in the window; a delivery still missing
 * after the drain counts as infinite latency, so an overloaded server cannot look
 * fast by dropping work. Deliveries/s counts updates received by all receivers during
 * the window, and the server's CPU is read over the same window: long enough (5 s in
 * the full run) that work a server defers (batched writes, compaction in a worker,
 * garbage collection) lands inside it.
 *
 * With 5 s windows a step costs 7 s or more, and each table has five servers, so the
 * search spends its steps near the capacity. A calibration pass with short steps
 * doubles the rate (from 16,000/s) until p99 passes 50 ms and then halves the gap
 * twice, which places the capacity within a factor of 1.19; the Poisson pattern starts
 * from the steady pattern's measured capacity instead. Each measured repetition starts
 * a fresh server a little below that and steps up by 1.15x until p99 passes the limit
 * (the capacity is the best deliveries/s of a passing step), then keeps stepping while
 * throughput still grows, to find saturation, at most 5 steps. The raw ws relay is
 * measured in every table: it is the floor that CPU per delivery is compared with.
 */

const P99_LIMIT_MS = 50
const TICK_MS = 2
/** Every server here carried more than 30,000/s on a quiet 2-core VM; a busy machine halves the start (at most twice). */
const CALIBRATION_START = 16_000
const CALIBRATION_FACTOR = 2
const CALIBRATION_MAX_STEPS = 12
/** Halvings of the gap between the last passing and the first failing calibration step. */
const CALIBRATION_BISECTIONS = 2
/** Measured repetitions start this far below the calibrated capacity: their longer windows take in deferred work. */
const MEASURED_START = 0.85
const STEP_FACTOR = 1.15
/** When a measured repetition's first step already fails, it starts again this much lower, at most MAX_DOWN_STEPS times. */
const DOWN_FACTOR = 1.3
const MAX_DOWN_STEPS = 3
const GENERATOR_BUSY = 0.9
/** A step during which the hypervisor stole more than this of either core is measured again. */
const MAX_STEAL = 0.03
const MAX_STEP_ATTEMPTS = 4
/** After a step over the limit, the server may take this long to work off its backlog before the next step. */
const BACKLOG_TIMEOUT_MS = 15_000
/** Every step of the Poisson pattern replays the same seeded gaps, scaled to its rate. */
const POISSON_SEED = 0x5eed17

/** Steps measured again for steal, and steps kept although still over the limit, in this run. */
const stealStats = { retried: 0, keptStolen: 0 }

/** Who sends next and when (ms after the step started); `advance` moves to the send after. */
interface SendSchedule {
  at: number
  client: number
  advance(): void
}

interface ArrivalPattern {
  id: string
  /** For table titles. */
  label: string
  insertLength: number
  createSchedule(clients: number, sendsPerSecond: number): SendSchedule
}

const STEADY: ArrivalPattern = {
  id: 'steady',
  label: 'steady 8-character inserts',
  insertLength: 8,
  createSchedule: (clients, sendsPerSecond) => {
    let sent = 0
    const schedule: SendSchedule = {
      at: 0,
      client: 0,
      advance: () => {
        sent++
        schedule.at = (sent / sendsPerSecond) * 1000
        schedule.client = sent % clients
      }
    }
    return schedule
  }
}

/**
 * Independent Poisson processes of rate r per client add up to one Poisson process of
 * rate r x clients whose every event belongs to a uniformly chosen client, so one
 * stream of exponential gaps serves them all. Sends are still paced by the generator's
 * 2 ms tick: the sends that fell due within a tick go out together, as a burst.
 */
const POISSON: ArrivalPattern = {
  id: 'poisson',
  label: '1-character inserts at Poisson times',
  insertLength: 1,
  createSchedule: (clients, sendsPerSecond) => {
    const random = createSeededRandom(POISSON_SEED)
    const gapMs = (): number => (-Math.log(1 - random()) / sendsPerSecond) * 1000
    const schedule: SendSchedule = {
      at: gapMs(),
      client: Math.floor(random() * clients),
      advance: () => {
        schedule.at += gapMs()
        schedule.client = Math.floor(random() * clients)
      }
    }
    return schedule
  }
}

const PATTERNS: ArrivalPattern[] = [STEADY, POISSON]

interface StepTiming {
  warmupMs: number
  windowMs: number
  drainMs: number
}

interface FanoutClient extends BenchClient {
  clientId: number
  nextSeq: number
  sendTimes: number[]
}

interface StepResult {
  targetDeliveries: number
  deliveriesPerSecond: number
  p50: number
  p99: number
  generatorCpu: number
  serverCpu: number
  /** Largest fraction of the server's or the generator's core the hypervisor stole in the window. */
  steal: number
}

interface RepetitionResult {
  capacity: StepResult | undefined
  saturation: StepResult | undefined
  steps: StepResult[]
}

interface Measurement {
  window: { start: number; end: number }
  latencies: number[]
  deliveredInWindow: number
}

/** One fresh server with all of a configuration's clients connected. */
interface FanoutSetup {
  kind: ServerKind
  server: RunningServer
  clients: FanoutClient[]
  docs: number
  clientsPerDoc: number
  pattern: ArrivalPattern
  measurement: { current: Measurement | undefined }
}

async function openFanout(
  context: BenchContext,
  kind: ServerKind,
  docs: number,
  clientsPerDoc: number,
  pattern: ArrivalPattern,
  runId: number
): Promise<FanoutSetup> {
  const server = await kind.start({ dataDir: createDataDir(context, kind.id), profileDir: context.profileDir })
  const measurement: { current: Measurement | undefined } = { current: undefined }
  const byId = new Map<number, FanoutClient>()
  const { insertLength } = pattern
  try {
    // Interleave documents so that consecutive sends go to different rooms.
    const clients = await openClients<{ clientId: number; nextSeq: number; sendTimes: number[] }>(docs * clientsPerDoc, (index) => {
      const doc = index % docs
      const clientId = runId * 100_000 + index + 1
      const self: { clientId: number; nextSeq: number; sendTimes: number[] } = { clientId, nextSeq: 0, sendTimes: [] }
      const client = createBenchClient({
        baseUrl: server.url,
        room: `fanout-${runId}-${doc}`,
        dialect: kind.dialect,
        onUpdate: (update, subtype) => {
          const current = measurement.current
          if (subtype !== SYNC_UPDATE || current === undefined) return
          const now = performance.now()
          readUpdateRanges(update, insertLength, (sender, firstClock, endClock) => {
            if (sender === clientId) return
            const origin = byId.get(sender)
            if (origin === undefined) return
            for (let clock = firstClock; clock < endClock; clock += insertLength) {
              const sentAt = origin.sendTimes[clock / insertLength]
              if (sentAt === undefined) continue
              if (now >= current.window.start && now < current.window.end) current.deliveredInWindow++
              if (sentAt >= current.window.start && sentAt < current.window.end) current.latencies.push(now - sentAt)
            }
          })
        }
      })
      const fanoutClient = Object.assign(client, self)
      byId.set(clientId, fanoutClient)
      return fanoutClient
    })
    return { kind, server, clients, docs, clientsPerDoc, pattern, measurement }
  } catch (error) {
    await server.stop()
    throw error
  }
}

async function closeFanout(setup: FanoutSetup): Promise<void> {
  await closeClients(setup.clients)
  await setup.server.stop()
}

async function runStep(setup: FanoutSetup, targetDeliveries: number, timing: StepTiming): Promise<StepResult> {
  const { server, clients, clientsPerDoc, pattern, measurement } = setup
  const sendRate = targetDeliveries / (clientsPerDoc - 1)
  const text = 'abcdefgh'.slice(0, pattern.insertLength)
  const schedule = pattern.createSchedule(clients.length, sendRate)
  const start = performance.now()
  const windowStart = start + timing.warmupMs
  const windowEnd = windowStart + timing.windowMs
  const current: Measurement = { window: { start: windowStart, end: windowEnd }, latencies: [], deliveredInWindow: 0 }
  measurement.current = current
  let sentInWindow = 0
  let cpuAtWindow: NodeJS.CpuUsage | undefined
  let serverCpuAtWindow = 0
  const measuredCores = [SERVER_CORE, GENERATOR_CORE]
  let coresAtWindow = readCoreTimes(measuredCores)
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now()
      if (cpuAtWindow === undefined && now >= windowStart) {
        cpuAtWindow = process.cpuUsage()
        // /proc/<pid>/stat counts the whole thread group: worker threads, and threads
        // that already exited, are in it (checked against the sum of /proc/<pid>/task/*/stat).
        serverCpuAtWindow = server.cpuSeconds()
        coresAtWindow = readCoreTimes(measuredCores)
      }
      if (now >= windowEnd) {
        clearInterval(timer)
        resolve()
        return
      }
      const elapsed = now - start
      while (schedule.at <= elapsed) {
        const client = clients[schedule.client] as FanoutClient
        schedule.advance()
        const seq = client.nextSeq++
        const sentAt = performance.now()
        client.sendTimes[seq] = sentAt
        client.sendUpdate(encodeTextInsert(client.clientId, seq * pattern.insertLength, text))
        if (sentAt >= windowStart) sentInWindow++
      }
    }, TICK_MS)
  })
  const generatorCpuUsage = process.cpuUsage(cpuAtWindow)
  const steal = mostStolenFraction(coresAtWindow, readCoreTimes(measuredCores))
  const serverCpu = (server.cpuSeconds() - serverCpuAtWindow) / (timing.windowMs / 1000)
  const expected = sentInWindow * (clientsPerDoc - 1)
  const drainDeadline = performance.now() + timing.drainMs
  while (current.latencies.length < expected && performance.now() < drainDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  measurement.current = undefined
  const latencies = current.latencies
  for (let missing = expected - latencies.length; missing > 0; missing--) latencies.push(Number.POSITIVE_INFINITY)
  latencies.sort((a, b) => a - b)
  const p99 = percentile(latencies, 99)
  // Let queues empty before the next step so steps do not bleed into each other; an
  // overloaded server may hold seconds of backlog.
  if (p99 > P99_LIMIT_MS) await waitForServerIdle(server, { quietMs: 300, idleCpuFraction: 0.1, timeoutMs: BACKLOG_TIMEOUT_MS })
  await new Promise((resolve) => setTimeout(resolve, 200))
  return {
    targetDeliveries,
    deliveriesPerSecond: current.deliveredInWindow / (timing.windowMs / 1000),
    p50: percentile(latencies, 50),
    p99,
    generatorCpu: (generatorCpuUsage.user + generatorCpuUsage.system) / 1000 / timing.windowMs,
    serverCpu,
    steal
  }
}

/** A step, measured again (up to MAX_STEP_ATTEMPTS times) while the host stole a core. */
async function runStepWithoutSteal(context: BenchContext, setup: FanoutSetup, target: number, timing: StepTiming): Promise<StepResult> {
  const { kind, docs, clientsPerDoc, pattern } = setup
  let result = await runStep(setup, target, timing)
  for (let attempt = 1; result.steal > MAX_STEAL && attempt < MAX_STEP_ATTEMPTS; attempt++) {
    context.log(`  ${kind.id} ${docs}x${clientsPerDoc} ${pattern.id} target ${formatNumber(target)}/s: the host stole ${Math.round(result.steal * 100)}% of a core, measuring again`)
    stealStats.retried++
    result = await runStep(setup, target, timing)
  }
  if (result.steal > MAX_STEAL) stealStats.keptStolen++
  context.log(
    `  ${kind.id} ${docs}x${clientsPerDoc} ${pattern.id} target ${formatNumber(target)}/s: ${formatNumber(result.deliveriesPerSecond)}/s` +
      ` p50 ${formatNumber(result.p50, 1)} ms p99 ${formatNumber(result.p99, 1)} ms` +
      ` server cpu ${Math.round(result.serverCpu * 100)}% generator cpu ${Math.round(result.generatorCpu * 100)}%` +
      (result.steal > 0.005 ? ` stolen ${Math.round(result.steal * 100)}%` : '')
  )
  return result
}

/**
 * The highest target rate that kept p99 under the limit with short steps: doubling from
 * CALIBRATION_START until a step fails, then bisecting the last gap (geometrically).
 * A first step that already fails halves the start, at most twice.
 */
async function calibrate(context: BenchContext, setup: FanoutSetup): Promise<number> {
  const timing = { warmupMs: context.scale.calibrationWarmupMs, windowMs: context.scale.calibrationWindowMs, drainMs: context.scale.stepDrainMs }
  const passes = async (target: number): Promise<boolean> => (await runStepWithoutSteal(context, setup, target, timing)).p99 <= P99_LIMIT_MS
  let passed: number | undefined
  let failed: number | undefined
  let target = CALIBRATION_START
  let downSteps = 0
  for (let step = 0; step < CALIBRATION_MAX_STEPS && failed === undefined; step++) {
    if (await passes(target)) {
      passed = target
      target *= CALIBRATION_FACTOR
    } else if (passed === undefined && downSteps < 2) {
      downSteps++
      target /= 2
    } else {
      failed = target
    }
  }
  if (passed === undefined) return target
  if (failed === undefined) return passed
  for (let bisection = 0; bisection < CALIBRATION_BISECTIONS; bisection++) {
    const middle = Math.sqrt(passed * failed)
    if (await passes(middle)) passed = middle
    else failed = middle
  }
  return passed
}

async function runRepetition(context: BenchContext, setup: FanoutSetup, firstTarget: number): Promise<RepetitionResult> {
  const timing = { warmupMs: context.scale.stepWarmupMs, windowMs: context.scale.stepWindowMs, drainMs: context.scale.stepDrainMs }
  const steps: StepResult[] = []
  let capacity: StepResult | undefined
  let saturation: StepResult | undefined
  let failedSteps = 0
  let downSteps = 0
  let target = firstTarget
  for (let step = 0; step < context.scale.maxSteps + downSteps; step++) {
    const result = await runStepWithoutSteal(context, setup, target, timing)
    steps.push(result)
    const grew = saturation === undefined || result.deliveriesPerSecond > saturation.deliveriesPerSecond * 1.03
    if (grew) saturation = result
    if (result.p99 <= P99_LIMIT_MS) {
      if (capacity === undefined || result.deliveriesPerSecond > capacity.deliveriesPerSecond) capacity = result
    } else if (capacity === undefined && downSteps < MAX_DOWN_STEPS) {
      // Even the first rate was too much (a burst of other work, or deferred work the
      // calibration's short steps missed): start lower instead of reporting no capacity.
      downSteps++
      target /= DOWN_FACTOR
      continue
    } else {
      failedSteps++
      // Past the latency limit, only keep going while throughput still grows.
      if (!grew || failedSteps >= 2) break
    }
    target *= STEP_FACTOR
  }
  return { capacity, saturation, steps }
}

interface FanoutMeasurement {
  capacities: number[]
  saturations: number[]
  capacitySteps: (StepResult | undefined)[]
  saturationSteps: (StepResult | undefined)[]
  steps: StepResult[]
}

/**
 * Measures every server with interleaved repetitions (calibrate all, then
 * repetition 1 of each, repetition 2 of each, ...), so that a burst of other
 * work on the machine spreads over the servers instead of landing on one.
 */
async function measureFanout(
  context: BenchContext,
  kinds: readonly ServerKind[],
  docs: number,
  clientsPerDoc: number,
  pattern: ArrivalPattern,
  runIdBase: number,
  /** Capacities already measured for this configuration (another pattern): they replace the calibration. */
  measuredBefore: ReadonlyMap<ServerKind, number>
): Promise<Map<ServerKind, FanoutMeasurement>> {
  const { scale } = context
  const starts = new Map<ServerKind, number>()
  const results = new Map<ServerKind, FanoutMeasurement>()
  let runId = runIdBase
  for (const kind of kinds) {
    results.set(kind, { capacities: [], saturations: [], capacitySteps: [], saturationSteps: [], steps: [] })
    if (scale.smoke) {
      starts.set(kind, 200)
      continue
    }
    const before = measuredBefore.get(kind)
    if (before !== undefined && before > 0) {
      starts.set(kind, before * MEASURED_START)
      continue
    }
    context.log(`fanout ${docs}x${clientsPerDoc} ${pattern.id}: calibrating ${kind.label}`)
    const setup = await openFanout(context, kind, docs, clientsPerDoc, pattern, runId++)
    try {
      starts.set(kind, (await calibrate(context, setup)) * MEASURED_START)
    } finally {
      await closeFanout(setup)
    }
  }
  for (let repetition = 0; repetition < scale.repetitions; repetition++) {
    for (const kind of kinds) {
      context.log(`fanout ${docs}x${clientsPerDoc} ${pattern.id}: repetition ${repetition + 1} of ${kind.label}`)
      const setup = await openFanout(context, kind, docs, clientsPerDoc, pattern, runId++)
      let result: RepetitionResult
      try {
        result = await runRepetition(context, setup, starts.get(kind) ?? CALIBRATION_START)
      } finally {
        await closeFanout(setup)
      }
      const measurement = results.get(kind) as FanoutMeasurement
      measurement.capacities.push(result.capacity?.deliveriesPerSecond ?? 0)
      measurement.saturations.push(result.saturation?.deliveriesPerSecond ?? 0)
      measurement.capacitySteps.push(result.capacity)
      measurement.saturationSteps.push(result.saturation)
      measurement.steps.push(...result.steps)
      if (!result.steps.some((step) => step.deliveriesPerSecond > 0)) {
        throw new Error(`${kind.id}: no update was delivered in the fan-out scenario`)
      }
    }
  }
  return results
}

/**
 * Server CPU time per delivery, the median over the steps that kept p99 under the
 * limit (all steps if none did). Unlike capacity it barely depends on other load
 * on the machine, so 1 / this is a steadier estimate of deliveries per core.
 */
function cpuMicrosPerDelivery(steps: readonly StepResult[]): number {
  const usable = steps.filter((step) => step.deliveriesPerSecond > 0)
  const passing = usable.filter((step) => step.p99 <= P99_LIMIT_MS)
  return median((passing.length > 0 ? passing : usable).map((step) => (step.serverCpu / step.deliveriesPerSecond) * 1e6))
}

function medianStep(values: number[], steps: (StepResult | undefined)[]): StepResult | undefined {
  const order = values.map((value, index) => ({ value, index })).sort((a, b) => a.value - b.value)
  const middle = order[Math.floor((order.length - 1) / 2)]
  return middle === undefined ? undefined : steps[middle.index]
}

function describeStep(step: StepResult | undefined): string {
  if (step === undefined) return 'n/a'
  return `${formatNumber(step.p50, 1)} / ${formatNumber(step.p99, 1)}`
}

interface Row {
  kind: ServerKind
  capacity: number
  cpuPerDelivery: number
  cells: string[]
}

function tableRows(kinds: readonly ServerKind[], measured: Map<ServerKind, FanoutMeasurement>): Row[] {
  return kinds.map((kind) => {
    const reason = kind.unavailable()
    const result = measured.get(kind)
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
      const capacities = new Map<ServerKind, number>()
      for (const pattern of PATTERNS) {
        const measured = await measureFanout(context, runnable, docs, clientsPerDoc, pattern, runIdBase, capacities)
        runIdBase += 100
        const rows = tableRows(kinds, measured)
        for (const row of rows) if (Number.isFinite(row.capacity)) capacities.set(row.kind, row.capacity)
        const quire = rows.find((row) => row.kind.id === 'quire')
        const relay = rows.find((row) => row.kind.dialect === 'relay')
        const reference = rows.find((row) => row.kind.id === 'y-websocket-server')
        summary.push([
          `${docs} x ${clientsPerDoc}`,
          pattern.label,
          formatNumber(quire?.capacity ?? Number.NaN),
          formatRatio(quire?.capacity ?? Number.NaN, reference?.capacity ?? Number.NaN),
          formatNumber(quire?.cpuPerDelivery ?? Number.NaN, 1),
          formatNumber(relay?.cpuPerDelivery ?? Number.NaN, 1),
          formatRatio(quire?.cpuPerDelivery ?? Number.NaN, relay?.cpuPerDelivery ?? Number.NaN)
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
          ' n/a = that server was not in this run.'
      ],
      columns: [
        'docs x clients',
        'arrivals',
        'Quire capacity/s',
        'Quire / @y/websocket-server capacity',
        'Quire CPU µs/delivery',
        'raw ws relay CPU µs/delivery',
        'Quire / relay CPU per delivery'
      ],
      rows: summary
    })
    return tables
  }
}
