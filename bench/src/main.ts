import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { FULL_SCALE, SMOKE_SCALE, type BenchContext, type Scenario } from './bench-context.js'
import { renderTable, type Table } from './markdown-table.js'
import { apiReadScenario } from './scenarios/api-read.js'
import { renderScenario } from './scenarios/render.js'
import { coldLoadScenario } from './scenarios/cold-load.js'
import { durableWritesScenario } from './scenarios/durable-writes.js'
import { fanoutScenario } from './scenarios/fanout.js'
import { fanoutEqualLoadScenario } from './scenarios/fanout-equal-load.js'
import { fanoutPairedScenario } from './scenarios/fanout-paired.js'
import { idleConnectionsScenario } from './scenarios/idle-connections.js'
import { memoryPerDocumentScenario } from './scenarios/memory-per-document.js'
import { scaleOutScenario } from './scenarios/scale-out.js'
import type { ClusterKind } from './server-cluster.js'
import { reconnectStormScenario } from './scenarios/reconnect-storm.js'
import { GENERATOR_CORE, pinnedCommand } from './server-process.js'
import type { ServerKind } from './server-kind.js'
import { hocuspocusServer, hocuspocusSqliteServer } from './servers/hocuspocus.js'
import { hocuspocusRedisCluster } from './servers/hocuspocus-redis-cluster.js'
import { quireCluster } from './servers/quire-cluster.js'
import { baselineCheckout, quireBaselineServer, quireNoMetricsServer, quireServer } from './servers/quire.js'
import { quirePostgresServer } from './servers/quire-postgres.js'
import { stormFloorServer } from './servers/storm-floor.js'
import { wsRelayServer } from './servers/ws-relay.js'
import { yWebsocketServer } from './servers/y-websocket-server.js'
import { yWebsocketV1Server } from './servers/y-websocket-v1.js'
import { checkTextInsertEncoding } from './text-insert.js'

/**
 * `pnpm bench [--smoke] [--scenario a,b] [--servers a,b] [--repetitions n] [--profile]`.
 * This process is the load generator: it re-executes itself pinned to the
 * generator core, and every server it starts is pinned to the other core.
 */

const SCENARIOS: Scenario[] = [
  fanoutScenario,
  memoryPerDocumentScenario,
  coldLoadScenario,
  idleConnectionsScenario,
  durableWritesScenario,
  scaleOutScenario,
  reconnectStormScenario,
  apiReadScenario,
  fanoutEqualLoadScenario,
  fanoutPairedScenario,
  renderScenario
]
const SERVERS: ServerKind[] = [
  quireServer,
  quireNoMetricsServer,
  quireBaselineServer,
  quirePostgresServer,
  yWebsocketServer,
  yWebsocketV1Server,
  hocuspocusServer,
  hocuspocusSqliteServer,
  wsRelayServer,
  stormFloorServer
]
/** Named in --servers like servers; measured by the scale-out scenario only. */
const CLUSTERS: ClusterKind[] = [
  quireCluster(1),
  quireCluster(2, 'by-room'),
  quireCluster(2),
  hocuspocusRedisCluster(2),
  // Only when named, as quire-baseline: the same configurations from QUIRE_BENCH_BASELINE's checkout.
  ...([[1, 'spread'], [2, 'by-room'], [2, 'spread']] as const).map(([instances, placement]) => quireCluster(instances, placement, baselineCheckout()))
]
const PINNED_ENV = 'QUIRE_BENCH_PINNED'
const RESULTS_DIR = fileURLToPath(new URL('../results', import.meta.url))

/** Re-runs this benchmark pinned to the generator core; resolves with its exit code, or undefined when already pinned. */
async function pinSelf(): Promise<number | undefined> {
  if (process.env[PINNED_ENV] === '1') return undefined
  const [command, ...prefix] = pinnedCommand(GENERATOR_CORE)
  const child = spawn(command as string, [...prefix, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [PINNED_ENV]: '1' }
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal))
  return await new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => resolve(code ?? 1))
  })
}

function pick<T extends { id?: string; name?: string }>(all: T[], wanted: string | undefined, what: string): T[] {
  if (wanted === undefined) return all
  const names = wanted.split(',').map((name) => name.trim()).filter(Boolean)
  return names.map((name) => {
    const found = all.find((item) => item.id === name || item.name === name)
    if (!found) throw new Error(`unknown ${what} ${name}; known: ${all.map((item) => item.id ?? item.name).join(', ')}`)
    return found
  })
}

/** The CPU model as lscpu names it ("Model name"), else as /proc/cpuinfo does. */
function readCpuModel(): string {
  const lscpu = spawnSync('lscpu', [], { encoding: 'utf8' }).stdout ?? ''
  const fromLscpu = /^Model name:\s*(.+)$/m.exec(lscpu)?.[1]?.trim()
  if (fromLscpu) return fromLscpu
  const cpuinfo = spawnSync('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], { encoding: 'utf8' }).stdout.trim()
  return cpuinfo || 'unknown CPU'
}

function describeMachine(): string {
  const cpu = readCpuModel()
  const memory = spawnSync('sh', ['-c', "grep MemTotal /proc/meminfo | awk '{print $2}'"], { encoding: 'utf8' }).stdout.trim()
  // Not nproc: this process is pinned to one core, and nproc counts the allowed ones.
  const cores = cpus().length
  return `${cpu}, ${cores} cores, ${Math.round(Number(memory) / 1024 / 1024)} GiB RAM, Node ${process.version}, ${process.platform}`
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    // `pnpm bench -- --smoke` may pass the separator through; it separates nothing here.
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: {
      smoke: { type: 'boolean', default: false },
      scenario: { type: 'string' },
      servers: { type: 'string' },
      profile: { type: 'boolean', default: false },
      repetitions: { type: 'string' }
    }
  })
  const baseScale = values.smoke ? SMOKE_SCALE : FULL_SCALE
  const repetitions = values.repetitions === undefined ? baseScale.repetitions : Number(values.repetitions)
  if (!Number.isInteger(repetitions) || repetitions < 1) throw new Error(`--repetitions wants a whole number of at least 1, got ${values.repetitions}`)
  const scale = { ...baseScale, repetitions }
  const scenarios = pick(SCENARIOS, values.scenario, 'scenario').filter((scenario) => values.scenario !== undefined || values.smoke || !scenario.onlyWhenNamed)
  checkTextInsertEncoding()
  const named = values.servers !== undefined
  // --servers names servers and clusters alike; each list keeps the names it knows.
  const picked = pick<ServerKind | ClusterKind>([...SERVERS, ...CLUSTERS], values.servers, 'server')
  const serverScenarios = scenarios.filter((scenario) => !scenario.measuresClusters)
  const wanted = SERVERS.filter((kind) => picked.includes(kind) && serverScenarios.length > 0).filter(
    (kind) => named || !kind.defaultScenarios || serverScenarios.some((scenario) => kind.defaultScenarios?.includes(scenario.name))
  )
  const clusters = scenarios.some((scenario) => scenario.measuresClusters) ? CLUSTERS.filter((kind) => picked.includes(kind) && (named || kind.baseline !== true)) : []
  // A run that cannot start a server it was to measure fails before it begins: the smoke
  // run is part of `pnpm test`, where "not run" in a table would pass unnoticed, and a
  // full run would spend its hour on tables without the row they are for.
  const unavailable = [...wanted, ...clusters].flatMap((kind) => {
    const reason = kind.unavailable()
    return reason === undefined ? [] : [`${kind.label} cannot run: ${reason}`]
  })
  if (unavailable.length > 0) {
    process.stderr.write(`${unavailable.join('\n')}\n`)
    return 1
  }
  const workDir = mkdtempSync(join(tmpdir(), 'quire-bench-'))
  const servers: ServerKind[] = []
  for (const kind of wanted) {
    const prepared = kind.prepare ? await kind.prepare(workDir) : kind
    if (prepared !== kind) process.stderr.write(`using ${prepared.label}\n`)
    servers.push(prepared)
  }
  // Once each (a baseline Quire shares Quire's note), under the tables of the scenarios that measured them.
  const notesOf = (kinds: readonly { note?: string }[]): string[] => [...new Set(kinds.flatMap((kind) => (kind.note ? [kind.note] : [])))]
  const profileDir = values.profile ? join(RESULTS_DIR, 'profiles') : undefined
  if (profileDir) mkdirSync(profileDir, { recursive: true })
  const context: BenchContext = {
    scale,
    servers,
    clusters,
    workDir,
    profileDir,
    log: (message) => process.stderr.write(`${message}\n`)
  }
  const started = new Date()
  const loadAtStart = loadavg()
    .map((value) => value.toFixed(1))
    .join(' / ')
  const tables: Table[] = []
  const measuredOn =
    `${scale.smoke ? 'Smoke run (tiny scale, figures meaningless), ' : 'Measured '}${started.toISOString().slice(0, 10)} on ${readCpuModel()}` +
    ` (${cpus().length} cores), Node ${process.version}. Ratios within this run are the comparison; absolute figures depend on the machine.`
  try {
    for (const scenario of scenarios) {
      const scenarioStart = Date.now()
      context.log(`== ${scenario.name}: ${scenario.description}`)
      const scenarioServers = scenario.measuresClusters
        ? []
        : named
          ? servers
          : servers.filter((kind) => kind.defaultScenarios?.includes(scenario.name) ?? true)
      const scenarioClusters = scenario.measuresClusters ? clusters : []
      const serverNotes = notesOf([...scenarioServers, ...scenarioClusters])
      for (const produced of await scenario.run({ ...context, servers: scenarioServers, clusters: scenarioClusters })) {
        // Every table says where and when it was measured, so that one copied alone still does.
        const table = { ...produced, notes: [measuredOn, ...produced.notes, ...serverNotes] }
        tables.push(table)
        process.stdout.write(`${renderTable(table)}\n`)
      }
      context.log(`== ${scenario.name} took ${((Date.now() - scenarioStart) / 1000).toFixed(1)} s`)
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true })
  }
  const header =
    `## Benchmark results${scale.smoke ? ' (smoke run: tiny scale, figures are meaningless)' : ''}\n\n` +
    `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${describeMachine()}.\n` +
    `Servers pinned to core 0, load generator to core 1 (taskset${process.getuid?.() === 0 ? ', both at nice -10' : ''}).` +
    ` Load average when the run started: ${loadAtStart}.\n\n`
  const markdown = header + tables.map(renderTable).join('\n')
  mkdirSync(RESULTS_DIR, { recursive: true })
  writeFileSync(join(RESULTS_DIR, scale.smoke ? 'smoke.md' : 'latest.md'), markdown)
  context.log(`wrote ${join(RESULTS_DIR, scale.smoke ? 'smoke.md' : 'latest.md')} in ${((Date.now() - started.getTime()) / 1000).toFixed(1)} s`)
  return 0
}

const pinnedExit = await pinSelf()
if (pinnedExit !== undefined) {
  process.exitCode = pinnedExit
} else {
  // Turn signals into a normal exit so that the 'exit' hooks stop the servers.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))
  main().then(
    (code) => {
      process.exitCode = code
    },
    (error: unknown) => {
      console.error(error)
      process.exitCode = 1
    }
  )
}
