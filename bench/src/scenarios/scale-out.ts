import type { BenchContext, Scenario } from '../bench-context.js'
import { readKeyUsage, readUsedMemory, type KeyUsage } from '../bench-redis.js'
import { createDataDir } from '../data-dir.js'
import {
  closeFanout,
  connectFanout,
  cpuMicrosPerDelivery,
  describeStep,
  GENERATOR_BUSY,
  measureFanout,
  medianStep,
  P99_LIMIT_MS,
  POISSON,
  runStep,
  type FanoutMeasurement,
  type FanoutSetup,
  type FanoutSubject,
  type PathLatency,
  type Placement,
  type StepResult
} from '../fanout-load.js'
import { formatBytes, formatNumber, formatRatio, formatWithSpread, type Table } from '../markdown-table.js'
import type { ClusterKind, RunningCluster } from '../server-cluster.js'
import { spreadOf, type Spread } from '../stats.js'
import { measureAcknowledgedWrites, type DurableResult } from './durable-writes.js'

/**
 * Scale-out: the same rooms x clients fan-out (1-character inserts at Poisson times, the
 * fan-out's generator and capacity search) against clusters: one Quire clone on
 * PostgreSQL + Redis (every delivery local), two clones on one schema and prefix with
 * each room's clients on one of them (every delivery local again, as HAProxy routing by
 * document places them) and with each room spread over both, and two Hocuspocus
 * instances with its Redis extension. Spread over two instances, a sender's update
 * reaches the half of its room on its own instance locally and the other half across
 * instances; latencies are kept apart by that path. Per configuration:
 *
 * - capacity (deliveries/s at p99 < 50 ms) and CPU per delivery, all instances summed,
 *   from the fan-out's calibration and step-up repetitions;
 * - long editing sessions at a fixed moderate rate, one per repetition, interleaved:
 *   CPU per delivery, p50/p99 of local and cross-instance deliveries, and then what
 *   Redis holds: the keys under the configuration's prefix (MEMORY USAGE, stream
 *   entries) and the change of `used_memory` since before the session (that one also
 *   moves with everybody else's use of the shared Redis);
 * - Quire: acknowledged updates/s into PostgreSQL, the durable-writes measurement with
 *   its writers dealt over the clones.
 *
 * Targets (issue 11): cross-clone CPU per delivery at most 1.5x the local path's, both
 * in the same two clones (compared in the sessions, at one rate: per-delivery CPU falls
 * as batches grow with the rate, so the capacity steps, at each configuration's own
 * rates, would compare rates); two Quire clones carry at least 2x what two Hocuspocus +
 * Redis instances carry; at least 10,000 acknowledged updates/s through PostgreSQL's
 * group commit. Two clones against one clone is shown beside, as context.
 */

const CROSS_CPU_TARGET = 1.5
const CAPACITY_TARGET = 2
const ACKNOWLEDGED_TARGET = 10_000
/** Run ids of the scale-out's fan-outs, apart from the fan-out scenario's (client ids derive from them). */
const RUN_ID_BASE = 5000

interface Session {
  step: StepResult
  keys: KeyUsage
  usedMemoryDelta: number
}

interface ConfigurationResult {
  kind: ClusterKind
  fanout: FanoutMeasurement | undefined
  /** One per repetition, interleaved with the other configurations'. */
  sessions: Session[]
  acknowledged: DurableResult[]
}

async function startCluster(context: BenchContext, kind: ClusterKind): Promise<RunningCluster> {
  return await kind.start({ dataDir: (index) => createDataDir(context, `${kind.id}-${index}`), profileDir: context.profileDir })
}

async function openClusterFanout(context: BenchContext, kind: ClusterKind, cluster: RunningCluster, runId: number): Promise<FanoutSetup> {
  const target = { id: kind.id, dialect: kind.dialect, urls: cluster.servers.map((server) => server.url), placement: kind.placement, processes: cluster, stop: () => cluster.stop() }
  return await connectFanout(target, context.scale.scaleOutRooms, context.scale.scaleOutClientsPerRoom, POISSON, runId)
}

function fanoutSubject(context: BenchContext, kind: ClusterKind): FanoutSubject {
  return { id: kind.id, label: kind.label, open: async (runId) => await openClusterFanout(context, kind, await startCluster(context, kind), runId) }
}

/** The editing session: a fixed rate for scaleOutSessionMs, then what the configuration left in Redis. */
async function runSession(context: BenchContext, kind: ClusterKind, runId: number): Promise<Session> {
  const { scale } = context
  const cluster = await startCluster(context, kind)
  const usedBefore = await readUsedMemory().catch(async (error: unknown) => {
    await cluster.stop()
    throw error
  })
  const setup = await openClusterFanout(context, kind, cluster, runId)
  try {
    const timing = { warmupMs: scale.stepWarmupMs, windowMs: scale.scaleOutSessionMs, drainMs: scale.stepDrainMs }
    const step = await runStep(setup, scale.scaleOutSessionDeliveries, timing)
    // Read while the rooms are still open: the streams and subscriptions are live.
    const keys = await readKeyUsage(cluster.redisPrefix)
    const usedMemoryDelta = (await readUsedMemory()) - usedBefore
    context.log(
      `  ${kind.id} session at ${formatNumber(scale.scaleOutSessionDeliveries)}/s: ${formatNumber(step.deliveriesPerSecond)}/s` +
        ` local ${describePath(step.local)} cross ${describePath(step.cross)} ms, server cpu ${Math.round(step.serverCpu * 100)}%` +
        ` waited for a core ${Math.round(step.serverWait * 100)}%;` +
        ` Redis: ${keys.keys} keys, ${formatNumber(keys.streamEntries)} stream entries, ${formatBytes(keys.bytes)}, used_memory ${formatBytes(usedMemoryDelta)}`
    )
    return { step, keys, usedMemoryDelta }
  } finally {
    await closeFanout(setup)
  }
}

/** The durable-writes measurement against a fresh cluster, writers dealt over its clones. */
async function measureAcknowledged(context: BenchContext, kind: ClusterKind): Promise<DurableResult> {
  const cluster = await startCluster(context, kind)
  try {
    const result = await measureAcknowledgedWrites(context, cluster.servers)
    context.log(`  ${kind.id}: ${formatNumber(result.updatesPerSecond)} acknowledged updates/s, ${formatNumber(result.cpuPerUpdate * 1e6, 1)} µs CPU per update`)
    return result
  } finally {
    await cluster.stop()
  }
}

function describePath(path: PathLatency): string {
  return path.deliveries === 0 ? 'n/a' : `${formatNumber(path.p50, 1)} / ${formatNumber(path.p99, 1)}`
}

function capacityOf(result: ConfigurationResult | undefined): number {
  return result?.fanout ? spreadOf(result.fanout.capacities).median : Number.NaN
}

function sessionCpuPerDelivery(session: Session | undefined): number {
  return session ? (session.step.serverCpu / session.step.deliveriesPerSecond) * 1e6 : Number.NaN
}

/** The sessions' CPU µs per delivery: median and spread. */
function sessionCpuOf(result: ConfigurationResult | undefined): Spread {
  return spreadOf((result?.sessions ?? []).map(sessionCpuPerDelivery))
}

/** The session whose CPU per delivery is the median one (its latencies are shown). */
function medianSession(sessions: readonly Session[]): Session | undefined {
  const sorted = [...sessions].sort((a, b) => sessionCpuPerDelivery(a) - sessionCpuPerDelivery(b))
  return sorted[Math.floor((sorted.length - 1) / 2)]
}

function acknowledgedOf(result: ConfigurationResult | undefined): number {
  return result && result.acknowledged.length > 0 ? spreadOf(result.acknowledged.map((sample) => sample.updatesPerSecond)).median : Number.NaN
}

/** "12.3 µs", or "n/a" alone when there is no figure. */
function withUnit(value: number, unit: string, digits = 0): string {
  return Number.isFinite(value) ? `${formatNumber(value, digits)}${unit}` : 'n/a'
}

function meets(value: number, holds: (value: number) => boolean): string {
  return Number.isFinite(value) ? (holds(value) ? 'met' : 'missed') : 'n/a'
}

function fanoutTable(context: BenchContext, results: readonly ConfigurationResult[]): Table {
  const { scale } = context
  const rate = formatNumber(scale.scaleOutSessionDeliveries)
  return {
    title: `Scale-out ${scale.scaleOutRooms} rooms x ${scale.scaleOutClientsPerRoom} clients, ${POISSON.label}`,
    notes: [
      `The fan-out's Poisson pattern and capacity search (steps of ${formatNumber(scale.stepWindowMs / 1000, 1)} s measured), against each configuration.` +
        ` With two instances a room's clients are dealt over both (half on each), so a delivery is cross-instance when sender and receiver are on different instances;` +
        ' "each room on one" puts all of a room\'s clients on one instance, rooms dealt in turn (what HAProxy routing by document does), so every delivery is local, in the same two processes.' +
        ` Capacity = highest deliveries/s with p99 < ${P99_LIMIT_MS} ms over all deliveries, median of ${scale.repetitions} step-up runs (± half the min-max spread).` +
        ` CPU = all instances together (all threads) / generator, in cores; CPU/delivery = their CPU µs per delivery over the steps under the limit (in brackets, deliveries/s one core would carry).` +
        ` Session = a ${formatNumber(scale.scaleOutSessionMs / 1000, scale.smoke ? 1 : 0)} s step at ${rate} deliveries/s, ${scale.repetitions} per configuration, interleaved: CPU µs per delivery (median, ± half the min-max spread), and p50 / p99 in ms of local and cross-instance deliveries in the session with the median CPU.` +
        ' Waited = time the instances\' main threads were ready to run but waited for a core (/proc schedstat, summed over instances), as a share of the step, at capacity / in the session:' +
        ' other work on the machine preempting a server shows up there, and as latency that no server could help.',
      'Pinning: every instance is pinned to core 0 (both clones share the core one clone had), the generator to core 1; PostgreSQL and Redis are the machine\'s shared services,' +
        ' unpinned, on both cores, and their CPU is not counted. So two instances cannot carry more than one here: the figures compare the cost of the cross-instance path, not added capacity.'
    ],
    columns: [
      'configuration',
      'capacity/s',
      'p50 / p99 at capacity',
      'cpu srv / gen',
      'CPU µs/delivery (per core)',
      `session ${rate}/s: local p50 / p99`,
      `session ${rate}/s: cross-instance p50 / p99`,
      'session CPU µs/delivery',
      'waited for a core',
      'note'
    ],
    rows: results.map(({ kind, fanout, sessions }) => {
      const session = medianSession(sessions)
      const sessionCpu = spreadOf(sessions.map(sessionCpuPerDelivery))
      const capacity = fanout ? spreadOf(fanout.capacities) : undefined
      const atCapacity = fanout ? medianStep(fanout.capacities, fanout.capacitySteps) : undefined
      const cpuPerDelivery = fanout ? cpuMicrosPerDelivery(fanout.steps) : Number.NaN
      const generatorBound = [atCapacity, session?.step].some((step) => (step?.generatorCpu ?? 0) > GENERATOR_BUSY)
      return [
        kind.label,
        capacity ? formatWithSpread(formatNumber(capacity.median), capacity.relative) : 'n/a',
        describeStep(atCapacity),
        atCapacity ? `${Math.round(atCapacity.serverCpu * 100)}% / ${Math.round(atCapacity.generatorCpu * 100)}%` : 'n/a',
        `${formatNumber(cpuPerDelivery, 1)} (${formatNumber(1e6 / cpuPerDelivery)})`,
        session ? describePath(session.step.local) : 'n/a',
        session ? describePath(session.step.cross) : 'n/a',
        formatWithSpread(formatNumber(sessionCpu.median, 1), sessionCpu.relative),
        `${atCapacity ? `${Math.round(atCapacity.serverWait * 100)}%` : 'n/a'} / ${session ? `${Math.round(session.step.serverWait * 100)}%` : 'n/a'}`,
        generatorBound ? 'generator-bound' : ''
      ]
    })
  }
}

function storesTable(context: BenchContext, results: readonly ConfigurationResult[]): Table {
  const { scale } = context
  return {
    title: 'Scale-out: PostgreSQL and Redis',
    notes: [
      `Acknowledged updates/s: the durable-writes measurement (${scale.durableClients} writers, one document each, 64 updates in flight, dealt over the clones), median of ${scale.repetitions}, with CPU µs per update of all clones.` +
        ` Redis after the last ${formatNumber(scale.scaleOutSessionMs / 1000, scale.smoke ? 1 : 0)} s session, rooms still open: the keys under the configuration's prefix (MEMORY USAGE SAMPLES 0 summed; stream entries),` +
        ' and used_memory (INFO memory) minus its value before the session, which also counts connection buffers and whatever else used the shared Redis meanwhile.'
    ],
    columns: ['configuration', 'acknowledged updates/s', 'CPU µs per acknowledged update', 'Redis keys (stream entries)', 'MEMORY USAGE of the keys', 'used_memory change'],
    rows: results.map(({ kind, sessions, acknowledged }) => {
      const session = sessions.at(-1)
      const throughput = spreadOf(acknowledged.map((sample) => sample.updatesPerSecond))
      const cpu = spreadOf(acknowledged.map((sample) => sample.cpuPerUpdate * 1e6))
      return [
        kind.label,
        kind.acknowledgements ? formatWithSpread(formatNumber(throughput.median), throughput.relative) : 'n/a (no acknowledgements)',
        kind.acknowledgements ? formatWithSpread(formatNumber(cpu.median, 1), cpu.relative) : 'n/a',
        session ? `${session.keys.keys} (${formatNumber(session.keys.streamEntries)})` : 'n/a',
        session ? formatBytes(session.keys.bytes) : 'n/a',
        session ? formatBytes(session.usedMemoryDelta) : 'n/a'
      ]
    })
  }
}

function targetsTable(results: readonly ConfigurationResult[]): Table {
  const quire = (instances: number, placement: Placement): ConfigurationResult | undefined =>
    results.find((result) => result.kind.acknowledgements && result.kind.baseline !== true && result.kind.instances === instances && (result.kind.placement ?? 'spread') === placement)
  const oneClone = quire(1, 'spread')
  const clones = quire(2, 'spread')
  const clonesByRoom = quire(2, 'by-room')
  const hocuspocus = results.find((result) => !result.kind.acknowledgements && result.kind.instances === 2)
  const oneCloneCpu = sessionCpuOf(oneClone).median
  const localCpu = sessionCpuOf(clonesByRoom).median
  const crossCpu = sessionCpuOf(clones).median
  const capacityRatio = capacityOf(clones) / capacityOf(hocuspocus)
  const acknowledged = acknowledgedOf(oneClone)
  return {
    title: 'Scale-out against the targets',
    notes: [
      'From the tables above. Targets (issue 11): the cross-clone path\'s CPU per delivery at most 1.5x the local path\'s, in the sessions (same rate):' +
        ' two clones with each room spread over both (all their CPU over all deliveries) against the same two clones with each room on one (every delivery local);' +
        ' two Quire clones\' capacity at least 2x two Hocuspocus + Redis instances\'; at least 10,000 acknowledged updates/s through PostgreSQL\'s group commit (one clone). n/a = not in this run.',
      'The last row is context, not a target: two clones with rooms spread against one clone carrying everything. It adds to the cross-clone path what splitting the same traffic over two processes on one core costs' +
        ' (each wakes, commits and collects garbage for half the updates).'
    ],
    columns: ['target', 'measured', 'ratio / figure', 'target', 'met'],
    rows: [
      [
        'cross-clone CPU per delivery',
        `2 clones, rooms spread ${withUnit(crossCpu, ' µs', 1)}; each room on one ${withUnit(localCpu, ' µs', 1)}`,
        formatRatio(crossCpu, localCpu),
        `<= ${CROSS_CPU_TARGET}x`,
        meets(crossCpu / localCpu, (ratio) => ratio <= CROSS_CPU_TARGET)
      ],
      [
        'capacity at p99 < 50 ms',
        `2 Quire clones ${withUnit(capacityOf(clones), '/s')}, 2 Hocuspocus + Redis ${withUnit(capacityOf(hocuspocus), '/s')}`,
        formatRatio(capacityOf(clones), capacityOf(hocuspocus)),
        `>= ${CAPACITY_TARGET}x`,
        meets(capacityRatio, (ratio) => ratio >= CAPACITY_TARGET)
      ],
      [
        'acknowledged updates/s into PostgreSQL',
        `1 clone ${withUnit(acknowledged, '/s')}, 2 clones ${withUnit(acknowledgedOf(clones), '/s')}`,
        withUnit(acknowledged, '/s'),
        `>= ${formatNumber(ACKNOWLEDGED_TARGET)}/s`,
        meets(acknowledged, (figure) => figure >= ACKNOWLEDGED_TARGET)
      ],
      [
        'two clones against one (context)',
        `2 clones, rooms spread ${withUnit(crossCpu, ' µs', 1)}; 1 clone ${withUnit(oneCloneCpu, ' µs', 1)}`,
        formatRatio(crossCpu, oneCloneCpu),
        'none',
        'n/a'
      ]
    ]
  }
}

export const scaleOutScenario: Scenario = {
  name: 'scaleout',
  description: 'clones on PostgreSQL + Redis: capacity, local vs cross-clone latency and CPU, acknowledged writes, Redis memory; against Hocuspocus + Redis',
  measuresClusters: true,
  run: async (context) => {
    const kinds = context.clusters
    if (kinds.length === 0) {
      context.log('scaleout: --servers named none of its configurations (quire-1-clone, quire-2-clones, hocuspocus-redis); nothing to measure')
      return []
    }
    const { scale } = context
    const subjects = kinds.map((kind) => fanoutSubject(context, kind))
    const what = `scaleout ${scale.scaleOutRooms}x${scale.scaleOutClientsPerRoom} ${POISSON.id}`
    const measured = await measureFanout(context, subjects, what, RUN_ID_BASE, new Map())
    const results: ConfigurationResult[] = kinds.map((kind) => ({ kind, fanout: measured.get(kind.id), sessions: [], acknowledged: [] }))
    let runId = RUN_ID_BASE + 500
    // Interleaved, so that a slow spell of the machine does not fall on one configuration.
    for (let repetition = 0; repetition < scale.repetitions; repetition++) {
      for (const result of results) {
        context.log(`scaleout: editing session ${repetition + 1} of ${result.kind.label}`)
        result.sessions.push(await runSession(context, result.kind, runId++))
      }
    }
    for (let repetition = 0; repetition < scale.repetitions; repetition++) {
      for (const result of results) {
        // By room or spread, the same two clones: the writers are dealt over them alike.
        if (!result.kind.acknowledgements || result.kind.placement === 'by-room') continue
        context.log(`scaleout: acknowledged writes, repetition ${repetition + 1} of ${result.kind.label}`)
        result.acknowledged.push(await measureAcknowledged(context, result.kind))
      }
    }
    return [fanoutTable(context, results), storesTable(context, results), targetsTable(results)]
  }
}
