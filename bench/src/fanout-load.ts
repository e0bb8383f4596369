import { performance } from 'node:perf_hooks'
import { createBenchClient, closeClients, openClients, SYNC_UPDATE, type BenchClient } from './bench-client.js'
import type { BenchContext, Scale } from './bench-context.js'
import { createDataDir } from './data-dir.js'
import { formatNumber } from './markdown-table.js'
import type { Dialect, ServerKind } from './server-kind.js'
import { mostStolenFraction, readCoreTimes } from './process-stats.js'
import { GENERATOR_CORE, SERVER_CORE } from './server-process.js'
import { waitForServerIdle } from './settle.js'
import { median, percentile } from './stats.js'
import { encodeTextInsert, readUpdateRanges } from './text-insert.js'
import { createSeededRandom } from './seeded-random.js'

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

export const P99_LIMIT_MS = 50
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
export const GENERATOR_BUSY = 0.9
/** A step during which the hypervisor stole more than this of either core is measured again. */
export const MAX_STEAL = 0.03
export const MAX_STEP_ATTEMPTS = 4
/** After a step over the limit, the server may take this long to work off its backlog before the next step. */
const BACKLOG_TIMEOUT_MS = 15_000
/** Every step of the Poisson pattern replays the same seeded gaps, scaled to its rate. */
const POISSON_SEED = 0x5eed17

/** Steps measured again for steal, and steps kept although still over the limit, in this run. */
export const stealStats = { retried: 0, keptStolen: 0 }

/** Who sends next and when (ms after the step started); `advance` moves to the send after. */
export interface SendSchedule {
  at: number
  client: number
  advance(): void
}

export interface ArrivalPattern {
  id: string
  /** For table titles. */
  label: string
  insertLength: number
  createSchedule(clients: number, sendsPerSecond: number): SendSchedule
}

export const STEADY: ArrivalPattern = {
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
export const POISSON: ArrivalPattern = {
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

export const PATTERNS: ArrivalPattern[] = [STEADY, POISSON]

export interface StepTiming {
  warmupMs: number
  windowMs: number
  drainMs: number
}

/** A step as the scale has it: its warm-up, its measured window and its drain. */
export function stepTimingOf(scale: Scale): StepTiming {
  return { warmupMs: scale.stepWarmupMs, windowMs: scale.stepWindowMs, drainMs: scale.stepDrainMs }
}

interface FanoutClientState {
  clientId: number
  nextSeq: number
  sendTimes: number[]
  /** Which of the target's instances (URLs) this client is connected to. */
  instance: number
  /** Receivers of each of its updates on its own instance, and on the others. */
  localPeers: number
  crossPeers: number
}

export interface FanoutClient extends BenchClient, FanoutClientState {}

export interface StepResult {
  targetDeliveries: number
  deliveriesPerSecond: number
  p50: number
  p99: number
  /** The same deliveries split by path: sender and receiver on one instance, or on two. */
  local: PathLatency
  cross: PathLatency
  generatorCpu: number
  serverCpu: number
  /** Fraction of the window the server's main thread (each instance's, summed) waited for a core. */
  serverWait: number
  /** Largest fraction of the server's or the generator's core the hypervisor stole in the window. */
  steal: number
}

export interface PathLatency {
  /** Deliveries expected on this path from the sends in the window (missing ones count as infinite). */
  deliveries: number
  p50: number
  p99: number
}

export interface RepetitionResult {
  capacity: StepResult | undefined
  saturation: StepResult | undefined
  steps: StepResult[]
}

export interface Measurement {
  window: { start: number; end: number }
  /** Latencies of deliveries whose sender and receiver are on the same instance, and on different ones. */
  local: number[]
  cross: number[]
  deliveredInWindow: number
}

/** Whose CPU a step reads: one server, or every instance of a cluster together. */
export interface MeasuredProcesses {
  cpuSeconds(): number
  waitSeconds(): number
}

/**
 * Where a fan-out's clients connect: one URL per instance (one for a single server).
 * By default the clients of a room are dealt over the instances in turn, so with two
 * instances half of a room is on each and every delivery to the other half crosses
 * instances (see `placement`).
 */
export interface FanoutTarget {
  /** For progress lines. */
  id: string
  dialect: Dialect
  urls: readonly string[]
  /**
   * How a room's clients are placed on the instances: dealt in turn ('spread', the
   * default: half of a room on each of two), or all on one instance, rooms dealt in
   * turn ('by-room': what a balancer that routes by document does).
   */
  placement?: Placement
  processes: MeasuredProcesses
  stop(): Promise<void>
}

export type Placement = 'spread' | 'by-room'

/** One fresh server (or cluster) with all of a configuration's clients connected. */
export interface FanoutSetup {
  id: string
  /** The server's (or each clone's) ws://host:port. */
  urls: readonly string[]
  processes: MeasuredProcesses
  instances: number
  stop(): Promise<void>
  clients: FanoutClient[]
  docs: number
  clientsPerDoc: number
  pattern: ArrivalPattern
  measurement: { current: Measurement | undefined }
}

/** A fresh `kind` server with the configuration's clients connected. */
export async function openFanout(
  context: BenchContext,
  kind: ServerKind,
  docs: number,
  clientsPerDoc: number,
  pattern: ArrivalPattern,
  runId: number
): Promise<FanoutSetup> {
  const server = await kind.start({ dataDir: createDataDir(context, kind.id), profileDir: context.profileDir })
  const target = { id: kind.id, dialect: kind.dialect, urls: [server.url], processes: server, stop: () => server.stop() }
  return await connectFanout(target, docs, clientsPerDoc, pattern, runId)
}

/** Connects the configuration's clients to a started target; stops the target if that fails. */
export async function connectFanout(
  target: FanoutTarget,
  docs: number,
  clientsPerDoc: number,
  pattern: ArrivalPattern,
  runId: number
): Promise<FanoutSetup> {
  const measurement: { current: Measurement | undefined } = { current: undefined }
  const byId = new Map<number, FanoutClient>()
  const { insertLength } = pattern
  const instances = target.urls.length
  const byRoom = target.placement === 'by-room'
  /** How many of a room's clients the instance gets when they are dealt in turn. */
  const clientsOn = (instance: number): number => Math.floor(clientsPerDoc / instances) + (instance < clientsPerDoc % instances ? 1 : 0)
  try {
    // Interleave documents so that consecutive sends go to different rooms.
    const clients = await openClients<FanoutClientState>(docs * clientsPerDoc, (index) => {
      const doc = index % docs
      const instance = byRoom ? doc % instances : Math.floor(index / docs) % instances
      const clientId = runId * 100_000 + index + 1
      const localPeers = byRoom ? clientsPerDoc - 1 : clientsOn(instance) - 1
      const self: FanoutClientState = { clientId, nextSeq: 0, sendTimes: [], instance, localPeers, crossPeers: clientsPerDoc - 1 - localPeers }
      const client = createBenchClient({
        baseUrl: target.urls[instance] as string,
        room: `fanout-${runId}-${doc}`,
        dialect: target.dialect,
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
              if (sentAt >= current.window.start && sentAt < current.window.end) {
                ;(origin.instance === instance ? current.local : current.cross).push(now - sentAt)
              }
            }
          })
        }
      })
      const fanoutClient = Object.assign(client, self)
      byId.set(clientId, fanoutClient)
      return fanoutClient
    })
    return { id: target.id, urls: target.urls, processes: target.processes, instances, stop: target.stop, clients, docs, clientsPerDoc, pattern, measurement }
  } catch (error) {
    await target.stop()
    throw error
  }
}

export async function closeFanout(setup: FanoutSetup): Promise<void> {
  await closeClients(setup.clients)
  await setup.stop()
}

export async function runStep(setup: FanoutSetup, targetDeliveries: number, timing: StepTiming): Promise<StepResult> {
  const { processes, clients, clientsPerDoc, pattern, measurement } = setup
  const sendRate = targetDeliveries / (clientsPerDoc - 1)
  const text = 'abcdefgh'.slice(0, pattern.insertLength)
  const schedule = pattern.createSchedule(clients.length, sendRate)
  const start = performance.now()
  const windowStart = start + timing.warmupMs
  const windowEnd = windowStart + timing.windowMs
  const current: Measurement = { window: { start: windowStart, end: windowEnd }, local: [], cross: [], deliveredInWindow: 0 }
  measurement.current = current
  let sentInWindow = 0
  let expectedLocal = 0
  let expectedCross = 0
  let cpuAtWindow: NodeJS.CpuUsage | undefined
  let serverCpuAtWindow = 0
  let serverWaitAtWindow = 0
  const measuredCores = [SERVER_CORE, GENERATOR_CORE]
  let coresAtWindow = readCoreTimes(measuredCores)
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now()
      if (cpuAtWindow === undefined && now >= windowStart) {
        cpuAtWindow = process.cpuUsage()
        // /proc/<pid>/stat counts the whole thread group: worker threads, and threads
        // that already exited, are in it (checked against the sum of /proc/<pid>/task/*/stat).
        serverCpuAtWindow = processes.cpuSeconds()
        serverWaitAtWindow = processes.waitSeconds()
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
        if (sentAt >= windowStart) {
          sentInWindow++
          expectedLocal += client.localPeers
          expectedCross += client.crossPeers
        }
      }
    }, TICK_MS)
  })
  const generatorCpuUsage = process.cpuUsage(cpuAtWindow)
  const steal = mostStolenFraction(coresAtWindow, readCoreTimes(measuredCores))
  const serverCpu = (processes.cpuSeconds() - serverCpuAtWindow) / (timing.windowMs / 1000)
  const serverWait = (processes.waitSeconds() - serverWaitAtWindow) / (timing.windowMs / 1000)
  const expected = sentInWindow * (clientsPerDoc - 1)
  const drainDeadline = performance.now() + timing.drainMs
  while (current.local.length + current.cross.length < expected && performance.now() < drainDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  measurement.current = undefined
  const local = withMissing(current.local, expectedLocal)
  const cross = withMissing(current.cross, expectedCross)
  // One instance: every delivery is local, and sorting them once is enough.
  const latencies = cross.length === 0 ? local : [...local, ...cross].sort((a, b) => a - b)
  const p99 = percentile(latencies, 99)
  // Let queues empty before the next step so steps do not bleed into each other; an
  // overloaded server may hold seconds of backlog.
  if (p99 > P99_LIMIT_MS) await waitForServerIdle(processes, { quietMs: 300, idleCpuFraction: 0.1, timeoutMs: BACKLOG_TIMEOUT_MS })
  await new Promise((resolve) => setTimeout(resolve, 200))
  return {
    targetDeliveries,
    deliveriesPerSecond: current.deliveredInWindow / (timing.windowMs / 1000),
    p50: percentile(latencies, 50),
    p99,
    local: { deliveries: local.length, p50: percentile(local, 50), p99: percentile(local, 99) },
    cross: { deliveries: cross.length, p50: percentile(cross, 50), p99: percentile(cross, 99) },
    generatorCpu: (generatorCpuUsage.user + generatorCpuUsage.system) / 1000 / timing.windowMs,
    serverCpu,
    serverWait,
    steal
  }
}

/** `latencies` sorted, with an infinite one for each of the `expected` deliveries that never came. */
function withMissing(latencies: number[], expected: number): number[] {
  for (let missing = expected - latencies.length; missing > 0; missing--) latencies.push(Number.POSITIVE_INFINITY)
  return latencies.sort((a, b) => a - b)
}

/** A step, measured again (up to MAX_STEP_ATTEMPTS times) while the host stole a core. */
export async function runStepWithoutSteal(context: BenchContext, setup: FanoutSetup, target: number, timing: StepTiming): Promise<StepResult> {
  const { id, docs, clientsPerDoc, pattern } = setup
  let result = await runStep(setup, target, timing)
  for (let attempt = 1; result.steal > MAX_STEAL && attempt < MAX_STEP_ATTEMPTS; attempt++) {
    context.log(`  ${id} ${docs}x${clientsPerDoc} ${pattern.id} target ${formatNumber(target)}/s: the host stole ${Math.round(result.steal * 100)}% of a core, measuring again`)
    stealStats.retried++
    result = await runStep(setup, target, timing)
  }
  if (result.steal > MAX_STEAL) stealStats.keptStolen++
  context.log(
    `  ${id} ${docs}x${clientsPerDoc} ${pattern.id} target ${formatNumber(target)}/s: ${formatNumber(result.deliveriesPerSecond)}/s` +
      ` p50 ${formatNumber(result.p50, 1)} ms p99 ${formatNumber(result.p99, 1)} ms` +
      ` server cpu ${Math.round(result.serverCpu * 100)}% generator cpu ${Math.round(result.generatorCpu * 100)}%` +
      (result.serverWait > 0.01 ? ` server waited for a core ${Math.round(result.serverWait * 100)}%` : '') +
      (result.steal > 0.005 ? ` stolen ${Math.round(result.steal * 100)}%` : '')
  )
  return result
}

/**
 * The highest target rate that kept p99 under the limit with short steps: doubling from
 * CALIBRATION_START until a step fails, then bisecting the last gap (geometrically).
 * A first step that already fails halves the start, at most twice.
 */
export async function calibrate(context: BenchContext, setup: FanoutSetup): Promise<number> {
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

export async function runRepetition(context: BenchContext, setup: FanoutSetup, firstTarget: number): Promise<RepetitionResult> {
  const timing = stepTimingOf(context.scale)
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

export interface FanoutMeasurement {
  capacities: number[]
  saturations: number[]
  capacitySteps: (StepResult | undefined)[]
  saturationSteps: (StepResult | undefined)[]
  steps: StepResult[]
}

/** Something a fan-out measures: a server kind, or a cluster of instances, opened fresh for each run. */
export interface FanoutSubject {
  id: string
  label: string
  open(runId: number): Promise<FanoutSetup>
}

/**
 * Measures every subject with interleaved repetitions (calibrate all, then
 * repetition 1 of each, repetition 2 of each, ...), so that a burst of other
 * work on the machine spreads over the subjects instead of landing on one.
 * Results are keyed by subject id.
 */
export async function measureFanout(
  context: BenchContext,
  subjects: readonly FanoutSubject[],
  /** For progress lines, e.g. "fanout 100x10 steady". */
  what: string,
  runIdBase: number,
  /** Capacities already measured for this configuration (another pattern), by id: they replace the calibration. */
  measuredBefore: ReadonlyMap<string, number>
): Promise<Map<string, FanoutMeasurement>> {
  const { scale } = context
  const starts = new Map<string, number>()
  const results = new Map<string, FanoutMeasurement>()
  let runId = runIdBase
  for (const subject of subjects) {
    results.set(subject.id, { capacities: [], saturations: [], capacitySteps: [], saturationSteps: [], steps: [] })
    if (scale.smoke) {
      starts.set(subject.id, 200)
      continue
    }
    const before = measuredBefore.get(subject.id)
    if (before !== undefined && before > 0) {
      starts.set(subject.id, before * MEASURED_START)
      continue
    }
    context.log(`${what}: calibrating ${subject.label}`)
    const setup = await subject.open(runId++)
    try {
      starts.set(subject.id, (await calibrate(context, setup)) * MEASURED_START)
    } finally {
      await closeFanout(setup)
    }
  }
  for (let repetition = 0; repetition < scale.repetitions; repetition++) {
    for (const subject of subjects) {
      context.log(`${what}: repetition ${repetition + 1} of ${subject.label}`)
      const setup = await subject.open(runId++)
      let result: RepetitionResult
      try {
        result = await runRepetition(context, setup, starts.get(subject.id) ?? CALIBRATION_START)
      } finally {
        await closeFanout(setup)
      }
      const measurement = results.get(subject.id) as FanoutMeasurement
      measurement.capacities.push(result.capacity?.deliveriesPerSecond ?? 0)
      measurement.saturations.push(result.saturation?.deliveriesPerSecond ?? 0)
      measurement.capacitySteps.push(result.capacity)
      measurement.saturationSteps.push(result.saturation)
      measurement.steps.push(...result.steps)
      if (!result.steps.some((step) => step.deliveriesPerSecond > 0)) {
        throw new Error(`${subject.id}: no update was delivered (${what})`)
      }
    }
  }
  return results
}

/** A fixed load for the A/B scenarios (fanout-equal-load, fanout-paired): every server carries the same. */
export interface FixedLoad {
  docs: number
  clientsPerDoc: number
  /** Deliveries per second (for each server), below every measured server's capacity on the VMs we use. */
  deliveries: number
}

/** The A/B scenarios' smoke run: only whether they run, on a tiny load. */
export const SMOKE_FIXED_LOADS: readonly FixedLoad[] = [{ docs: 3, clientsPerDoc: 3, deliveries: 200 }]

/** Server CPU µs per delivery in one step. */
export function stepMicrosPerDelivery(step: StepResult): number {
  return (step.serverCpu / step.deliveriesPerSecond) * 1e6
}

/**
 * Server CPU time per delivery, the median over the steps that kept p99 under the
 * limit (all steps if none did). Unlike capacity it barely depends on other load
 * on the machine, so 1 / this is a steadier estimate of deliveries per core.
 */
export function cpuMicrosPerDelivery(steps: readonly StepResult[]): number {
  const usable = steps.filter((step) => step.deliveriesPerSecond > 0)
  const passing = usable.filter((step) => step.p99 <= P99_LIMIT_MS)
  return median((passing.length > 0 ? passing : usable).map(stepMicrosPerDelivery))
}

export function medianStep(values: number[], steps: (StepResult | undefined)[]): StepResult | undefined {
  const order = values.map((value, index) => ({ value, index })).sort((a, b) => a.value - b.value)
  const middle = order[Math.floor((order.length - 1) / 2)]
  return middle === undefined ? undefined : steps[middle.index]
}

export function describeStep(step: StepResult | undefined): string {
  if (step === undefined) return 'n/a'
  return `${formatNumber(step.p50, 1)} / ${formatNumber(step.p99, 1)}`
}
