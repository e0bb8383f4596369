import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { spawnHaproxyWithConfig, type SpawnedHaproxy } from './haproxy-process.js'

/**
 * HAProxy in front of Quire clones, configured by the very file users copy,
 * deploy/haproxy/quire.cfg: only its front (`bind :1234`) and its clones' addresses
 * (127.0.0.1:1235, :1236, :1237, in both backends) are replaced by the test's ports. So a
 * change to the example is a change to what the tests run, and an example that no longer
 * has those lines fails here instead of being silently not tested.
 */
export const CLONE_BALANCER_EXAMPLE = fileURLToPath(new URL('../../../deploy/haproxy/quire.cfg', import.meta.url))

/** The backends of the example: routed by readiness, and the fallback used while no clone is ready. */
export type CloneBackend = 'quire' | 'quire_live'

const EXAMPLE_FRONT = 'bind :1234'
const EXAMPLE_CLONE_PORTS = [1235, 1236, 1237] as const

/** The example with its front on 127.0.0.1:`frontPort` and its clones on 127.0.0.1:`clonePorts`. */
export function createCloneBalancerConfig(example: string, frontPort: number, clonePorts: readonly number[]): string {
  if (clonePorts.length !== EXAMPLE_CLONE_PORTS.length) {
    throw new Error(`the example configuration has ${EXAMPLE_CLONE_PORTS.length} clones, got ${clonePorts.length} ports`)
  }
  const replace = (text: string, from: string, to: string): string => {
    if (!text.includes(from)) throw new Error(`${CLONE_BALANCER_EXAMPLE} no longer has "${from}": update createCloneBalancerConfig with it`)
    return text.replaceAll(from, to)
  }
  let config = replace(example, `\n    ${EXAMPLE_FRONT}\n`, `\n    bind 127.0.0.1:${frontPort}\n`)
  EXAMPLE_CLONE_PORTS.forEach((examplePort, i) => {
    config = replace(config, ` 127.0.0.1:${examplePort}\n`, ` 127.0.0.1:${clonePorts[i]}\n`)
  })
  return config
}

/** HAProxy configured by the example, in front of the clones listening on 127.0.0.1:`clonePorts`. */
export function spawnCloneBalancer(clonePorts: readonly number[]): Promise<SpawnedHaproxy> {
  const example = readFileSync(CLONE_BALANCER_EXAMPLE, 'utf8')
  return spawnHaproxyWithConfig((frontPort) => createCloneBalancerConfig(example, frontPort, clonePorts))
}

/** The example's name for the clone at `index` of the ports it was given. */
export function cloneServerName(index: number): string {
  return `quire${index + 1}`
}

/**
 * Whether HAProxy's health checks have the clone at `index` down in `backend` now: the last
 * state change it printed for that server (a server starts up).
 */
export function isMarkedDown(balancer: SpawnedHaproxy, backend: CloneBackend, index: number): boolean {
  const pattern = new RegExp(`Server ${backend}/${cloneServerName(index)} is (UP|DOWN)`, 'g')
  const changes = [...balancer.output().matchAll(pattern)]
  return changes.at(-1)?.[1] === 'DOWN'
}
