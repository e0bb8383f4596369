/**
 * The demo served by three `quire serve` clones (child processes) on a PostgreSQL schema
 * and a Redis key prefix of the test's own, behind a real HAProxy configured by
 * deploy/haproxy/quire.cfg, the example users copy (only its ports replaced). Pages open
 * the balancer's address, as users would; a clone can be killed with -9.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createTestRedisPrefix,
  createTestSchema,
  readConnectionCounts,
  spawnCloneBalancer,
  spawnQuireServer,
  type SpawnedHaproxy,
  type SpawnedQuireServer,
  type TestSchema
} from '@quire/testkit'
import { demoDistDir } from './paths.js'

const CLONES = 3

export interface DemoClones {
  /** `http://127.0.0.1:<port>` of HAProxy: the demo's origin, and its WebSocket endpoint. */
  readonly httpUrl: string
  readonly clones: readonly SpawnedQuireServer[]
  readonly balancer: SpawnedHaproxy
  /** Where the clones keep the documents. */
  readonly schema: TestSchema
  /** The one clone holding a WebSocket connection, once exactly one connection is open in all; null otherwise. */
  cloneHoldingTheOnlyConnection(): Promise<number | null>
  /** kill -9 the clone at `index` and wait for it to exit. */
  crash(index: number): Promise<void>
  /** What HAProxy and every clone printed, for failure reports. */
  output(): string
  /** Stops HAProxy and the clones (by PID), drops the schema, clears the prefix, deletes the data dirs. */
  dispose(): Promise<void>
}

export async function startDemoClones(): Promise<DemoClones> {
  // Undone last first by dispose(), also when starting fails halfway.
  const undo: (() => Promise<unknown>)[] = []
  const dispose = async (): Promise<void> => {
    for (const step of undo.splice(0).reverse()) await step()
  }
  try {
    const schema = await createTestSchema('e2e_clones')
    undo.push(() => schema.drop())
    const redis = createTestRedisPrefix('e2e-clones')
    undo.push(() => redis.clear())
    const clones: SpawnedQuireServer[] = []
    // One after the other: the first creates the schema's tables.
    for (let i = 0; i < CLONES; i++) {
      // Accepted and unused with PostgreSQL, as the README says; each clone has its own anyway.
      const dataDir = await mkdtemp(join(tmpdir(), 'quire-e2e-clone-'))
      undo.push(() => rm(dataDir, { recursive: true, force: true }))
      const args = ['--static', demoDistDir, '--postgres', schema.url, '--redis', redis.url, '--redis-prefix', redis.prefix, '--trust-proxy', 'loopback']
      const clone = await spawnQuireServer({ dataDir, args })
      undo.push(() => clone.kill('SIGKILL'))
      clones.push(clone)
    }
    const balancer = await spawnCloneBalancer(clones.map((clone) => clone.port))
    undo.push(() => balancer.stop())
    return {
      httpUrl: balancer.httpUrl,
      clones,
      balancer,
      schema,
      async cloneHoldingTheOnlyConnection() {
        const counts = await readConnectionCounts(clones)
        const total = counts.reduce<number>((sum, count) => sum + (count ?? 0), 0)
        return total === 1 ? counts.findIndex((count) => count === 1) : null
      },
      async crash(index) {
        const clone = clones[index]
        if (clone === undefined) throw new Error(`there is no clone ${index}`)
        await clone.kill('SIGKILL')
      },
      output: () =>
        [`--- haproxy ---\n${balancer.output()}`, ...clones.map((clone, i) => `--- clone ${i} (port ${clone.port}) ---\n${clone.output()}`)].join('\n'),
      dispose
    }
  } catch (error) {
    await dispose()
    throw error
  }
}
