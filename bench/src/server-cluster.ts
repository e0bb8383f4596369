import type { Placement } from './fanout-load.js'
import type { Dialect } from './server-kind.js'
import type { RunningServer } from './server-process.js'

/**
 * Several instances of one server sharing a bus (and, for Quire, a store): what the
 * scale-out scenario measures. Every instance is a child process pinned to the
 * server core like any server here (spawnPinnedServer), so N instances share the
 * core one server had; PostgreSQL and Redis are shared services of the machine and
 * run wherever the scheduler puts them.
 */
export interface ClusterKind {
  id: string
  label: string
  dialect: Dialect
  instances: number
  /** How a room's clients are placed on the instances (default: spread over them). */
  placement?: Placement
  /** Whether the instances speak the Quire acknowledgement extension (acknowledged writes are measured). */
  acknowledgements: boolean
  /** Quire as built in another checkout (an A/B run): run only when named, and left out of the targets. */
  baseline?: boolean
  /** Printed under the scale-out tables: how the configuration differs from a default start, and why. */
  note?: string
  /** Undefined when the cluster can run here; otherwise why it cannot. */
  unavailable(): string | undefined
  start(options: ClusterStartOptions): Promise<RunningCluster>
}

export interface ClusterStartOptions {
  /** A fresh directory for instance `index`'s own files. */
  dataDir(index: number): string
  profileDir?: string
}

export interface RunningCluster {
  /** One per instance, in start order. */
  servers: RunningServer[]
  /** Every Redis key this cluster made starts with this (memory figures, cleanup). */
  redisPrefix: string
  /** CPU seconds of all instances together. */
  cpuSeconds(): number
  /** Seconds the instances' main threads waited for a core, summed. */
  waitSeconds(): number
  /** Stops every instance, then removes what the cluster made outside them (schema, Redis keys). */
  stop(): Promise<void>
}

/** A RunningCluster over started instances; `release` runs after they all stopped, even when one failed to. */
export function runningCluster(servers: RunningServer[], redisPrefix: string, release: () => Promise<void>): RunningCluster {
  return {
    servers,
    redisPrefix,
    cpuSeconds: () => servers.reduce((sum, server) => sum + server.cpuSeconds(), 0),
    waitSeconds: () => servers.reduce((sum, server) => sum + server.waitSeconds(), 0),
    stop: async () => {
      try {
        await Promise.all(servers.map((server) => server.stop()))
      } finally {
        await release()
      }
    }
  }
}

/**
 * Starts `count` instances one after another (the first may create shared tables that
 * the next must find), and on a failure stops those already started and releases.
 */
export async function startInstances(
  count: number,
  startOne: (index: number) => Promise<RunningServer>,
  redisPrefix: string,
  release: () => Promise<void>
): Promise<RunningCluster> {
  const servers: RunningServer[] = []
  try {
    for (let index = 0; index < count; index++) servers.push(await startOne(index))
  } catch (error) {
    await runningCluster(servers, redisPrefix, release).stop()
    throw error
  }
  return runningCluster(servers, redisPrefix, release)
}
