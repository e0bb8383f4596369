import { resolveWithin } from '../resolve-within.js'
import type { Fanout } from '../fanout/fanout.js'
import type { ServerParts } from '../server-wiring.js'

/**
 * Whether this server should be sent new clients (`GET /readyz`, for a load balancer's
 * health check): it is not draining, its storage is open and reachable and its writes
 * succeed, and, for a clone, it reaches the other clones' traffic. `/healthz` says only
 * that the process lives; a clone that cannot save is alive but not ready.
 */
export interface Readiness {
  readonly ready: boolean
  /** Why not, one entry per failed check. */
  readonly reasons: readonly string[]
}

export interface ReadinessOptions {
  readonly draining: () => boolean
  readonly parts: () => ServerParts | null
  readonly fanout: Fanout | undefined
}

/** A storage ping slower than this counts as unreachable. */
const PING_TIMEOUT_MS = 2000
/** A ping's answer is reused this long: health checks from several balancers must not each cost a query. */
const PING_REUSE_MS = 1000

export function createReadinessCheck(options: ReadinessOptions): () => Promise<Readiness> {
  let lastPing: { at: number; problem: Promise<string | null> } | null = null

  const pingStorage = (parts: ServerParts): Promise<string | null> => {
    const { storage } = parts
    if (storage.ping === undefined) return Promise.resolve(null)
    const now = Date.now()
    if (lastPing !== null && now - lastPing.at < PING_REUSE_MS) return lastPing.problem
    const problem = resolveWithin<string | null>(
      storage.ping().then(
        () => null,
        (error: unknown) => `storage unreachable: ${error instanceof Error ? error.message : String(error)}`
      ),
      PING_TIMEOUT_MS,
      `storage did not answer within ${PING_TIMEOUT_MS} ms`
    )
    lastPing = { at: now, problem }
    return problem
  }

  return async () => {
    const reasons: string[] = []
    if (options.draining()) reasons.push('draining: the server is shutting down')
    const parts = options.parts()
    if (parts === null) reasons.push('storage is not open')
    else {
      if (parts.commitQueue.failing) reasons.push('storage writes are failing (retrying)')
      const problem = await pingStorage(parts)
      if (problem !== null) reasons.push(problem)
    }
    if (options.fanout !== undefined && !options.fanout.connected) reasons.push('the traffic between clones (Redis) is unreachable')
    return { ready: reasons.length === 0, reasons }
  }
}
