import type { Table } from './markdown-table.js'
import type { ClusterKind } from './server-cluster.js'
import type { ServerKind } from './server-kind.js'

/** Sizes and durations of one run: the full benchmark or the seconds-long smoke run. */
export interface Scale {
  smoke: boolean
  repetitions: number
  /** Fan-out: how long a measured step warms up, measures and may drain afterwards. */
  stepWarmupMs: number
  stepWindowMs: number
  stepDrainMs: number
  /** Fan-out: the calibration only finds the range, with shorter steps. */
  calibrationWarmupMs: number
  calibrationWindowMs: number
  /** Fan-out: most steps of one measured repetition. */
  maxSteps: number
  fanoutConfigs: { docs: number; clientsPerDoc: number }[]
  memoryDocs: number
  /** Patches of the editing trace replayed into each open document of the memory scenario. */
  memoryDocPatches: number
  /** Patches of the trace used for the cold-load document (Infinity = all). */
  coldLoadPatches: number
  idleDocs: number
  idleClientsPerDoc: number
  durableClients: number
  durableWindowMs: number
  /** Scale-out: rooms x clients, half of each room on each instance of a two-instance configuration. */
  scaleOutRooms: number
  scaleOutClientsPerRoom: number
  /** Scale-out: the editing session's fixed rate (deliveries/s) and length; its latencies are split by path. */
  scaleOutSessionDeliveries: number
  scaleOutSessionMs: number
  /** Reconnect storm: documents, clients per document, characters typed into each document. */
  stormDocs: number
  stormClientsPerDoc: number
  stormDocumentChars: number
  /** Reconnect storm: how long the server stays dead between the kill and the restart. */
  stormDowntimeMs: number
  /** Reconnect storm: a client not synced this long after the restart never synced. */
  stormTimeoutMs: number
  /** How long a server must stay (nearly) idle to count as settled before reading its RSS. */
  settleMs: number
}

export const FULL_SCALE: Scale = {
  smoke: false,
  repetitions: 3,
  stepWarmupMs: 1000,
  stepWindowMs: 5000,
  stepDrainMs: 1000,
  calibrationWarmupMs: 400,
  calibrationWindowMs: 1200,
  maxSteps: 5,
  fanoutConfigs: [
    { docs: 100, clientsPerDoc: 10 },
    { docs: 10, clientsPerDoc: 100 }
  ],
  memoryDocs: 1000,
  memoryDocPatches: 6000,
  coldLoadPatches: Number.POSITIVE_INFINITY,
  idleDocs: 200,
  idleClientsPerDoc: 10,
  durableClients: 50,
  durableWindowMs: 3000,
  scaleOutRooms: 50,
  scaleOutClientsPerRoom: 10,
  scaleOutSessionDeliveries: 5000,
  scaleOutSessionMs: 60_000,
  stormDocs: 500,
  stormClientsPerDoc: 10,
  stormDocumentChars: 4000,
  stormDowntimeMs: 3000,
  stormTimeoutMs: 60_000,
  settleMs: 1000
}

export const SMOKE_SCALE: Scale = {
  smoke: true,
  repetitions: 1,
  stepWarmupMs: 100,
  stepWindowMs: 250,
  stepDrainMs: 300,
  calibrationWarmupMs: 100,
  calibrationWindowMs: 250,
  maxSteps: 2,
  fanoutConfigs: [{ docs: 3, clientsPerDoc: 3 }],
  memoryDocs: 10,
  memoryDocPatches: 300,
  coldLoadPatches: 2000,
  idleDocs: 5,
  idleClientsPerDoc: 4,
  durableClients: 3,
  durableWindowMs: 300,
  scaleOutRooms: 3,
  scaleOutClientsPerRoom: 4,
  scaleOutSessionDeliveries: 200,
  scaleOutSessionMs: 500,
  stormDocs: 5,
  stormClientsPerDoc: 4,
  stormDocumentChars: 400,
  stormDowntimeMs: 600,
  stormTimeoutMs: 20_000,
  settleMs: 150
}

export interface BenchContext {
  scale: Scale
  servers: ServerKind[]
  /** Several instances of one server on a shared bus: only the scale-out scenario measures these. */
  clusters: ClusterKind[]
  /** A temp directory owned by this run; scenarios create data dirs under it. */
  workDir: string
  profileDir?: string
  log(message: string): void
}

export interface Scenario {
  name: string
  description: string
  /** Measures context.clusters instead of context.servers (which it then gets empty). */
  measuresClusters?: boolean
  /**
   * Runs only when --scenario names it: a tool for a question (an A/B of two builds)
   * rather than a table every run should print. The smoke run still exercises it.
   */
  onlyWhenNamed?: boolean
  run(context: BenchContext): Promise<Table[]>
}
