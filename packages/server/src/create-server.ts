import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import { CLOSE_SERVICE_RESTART } from '@quire/protocol'
import { createReadinessCheck } from './http/readiness.js'
import { attachToHttpServer, createHttpRoutes } from './http/http-routes.js'
import { createUnsentBytesBudget } from './limits/unsent-bytes-budget.js'
import { QuireError } from './quire-error.js'
import { resolveServerOptions, SERVER_DEFAULTS, type ServerOptions } from './server-options.js'
import { createServerWiring } from './server-wiring.js'
import { startHeartbeat } from './transport/heartbeat.js'
import { createUpgradeAdmission } from './transport/upgrade-admission.js'
import { createUpgradeHandler } from './transport/upgrade-handler.js'
import type { Webhooks } from './webhooks/create-webhooks.js'
import { createDeliveriesRoute } from './webhooks/deliveries-route.js'

export type { ServerOptions } from './server-options.js'

export interface ListenResult {
  readonly port: number
  readonly host: string
  /** `http://host:port`; WebSocket clients use the same address with ws://. */
  readonly url: string
}

export interface QuireServer {
  /** Opens storage and listens on its own HTTP server. */
  listen(port?: number, host?: string): Promise<ListenResult>
  /** Serves WebSocket upgrades (and static files, if configured) on an existing server. */
  attach(server: Server): void
  /** For embedders with their own upgrade routing. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void
  /** For embedders with their own request routing; resolves false when not handled. */
  handleRequest(request: IncomingMessage, response: ServerResponse): Promise<boolean>
  /** Compacts one document's stored log now. */
  compact(doc: string): Promise<void>
  stats(): ServerStats
  /** The webhooks (counters, queue depth, the API's document events), or null without `webhooks` options or before storage is open. */
  webhooks(): Webhooks | null
  /** Stops accepting, closes every socket, flushes writes, closes storage it opened. */
  close(): Promise<void>
}

export interface ServerStats {
  readonly rooms: number
  readonly connections: number
  /** Updates accepted but not yet durable. */
  readonly unsavedUpdates: number
  /** Bytes waiting to be sent to peers, all peers together (see `limits.maxUnsentBytes`). */
  readonly unsentBytes: number
  /**
   * Rooms loaded from storage since the server started (one evicted and opened again
   * counts again): each room is loaded once, however many clients ask for it at once.
   */
  readonly roomsLoaded: number
}

/**
 * Puts the server together: its options resolved against their defaults
 * (server-options.ts), the parts behind the sockets and how they feed each other
 * (server-wiring.ts), what an upgrade must pass (transport/upgrade-admission.ts) and how
 * it becomes a connection (transport/upgrade-handler.ts), the HTTP routes
 * (http/http-routes.ts). What stays here is the server's life: its sockets, listening,
 * and the order of shutdown.
 */
export function createServer(options: ServerOptions = {}): QuireServer {
  const resolved = resolveServerOptions(options)
  const { log, limits, maxMessageBytes } = resolved
  const wiring = createServerWiring(resolved)
  const sockets = new Set<WebSocket>()
  const unsentBytes = createUnsentBytesBudget(limits.maxUnsentBytes)
  let ownServer: Server | null = null
  let closing = false

  const admission = createUpgradeAdmission({
    limits,
    maxRoomNameBytes: resolved.maxRoomNameBytes,
    allowedOrigins: resolved.allowedOrigins,
    authenticate: resolved.authenticate,
    trustedProxies: resolved.trustedProxies,
    rooms: wiring.parts,
    log
  })
  const handleUpgrade = createUpgradeHandler({
    admission,
    sockets,
    isClosing: () => closing,
    maxMessageBytes,
    maxBufferedBytes: resolved.maxBufferedBytes,
    limits,
    unsentBytes,
    log
  })
  const stats = (): ServerStats => ({
    rooms: wiring.ready?.registry.size ?? 0,
    connections: sockets.size,
    unsavedUpdates: wiring.ready?.commitQueue.backlog ?? 0,
    unsentBytes: unsentBytes.measure(),
    roomsLoaded: wiring.ready?.registry.loads ?? 0
  })
  const routes = createHttpRoutes({
    staticDir: resolved.staticDir,
    shareTokens: resolved.shareTokens,
    health: () => ({ ok: !closing, ...stats() }),
    readiness: createReadinessCheck({ draining: () => closing, parts: () => wiring.ready, fanout: resolved.fanout })
  })
  // Mounted behind `webhooks.authorize` (the API's key check, once there is one).
  const webhookOptions = resolved.webhooks
  const deliveriesRoute = webhookOptions
    ? createDeliveriesRoute({
        outbox: () => wiring.ready?.webhooks?.outbox ?? null,
        authorize: webhookOptions.authorize,
        requeued: () => wiring.ready?.webhooks?.wake()
      })
    : null
  const handleRequest: typeof routes = deliveriesRoute
    ? async (request, response) => (await deliveriesRoute(request, response)) || routes(request, response)
    : routes
  const stopHeartbeat = startHeartbeat(sockets, resolved.heartbeatMs)
  const attach = (server: Server): void => attachToHttpServer(server, handleUpgrade, handleRequest, log)

  return {
    async listen(port = SERVER_DEFAULTS.port, host = SERVER_DEFAULTS.host) {
      await wiring.parts.catch((error: unknown) => {
        throw new QuireError('storage-failed', error instanceof Error ? error.message : String(error), { cause: error })
      })
      const server = createHttpServer()
      attach(server)
      ownServer = server
      await new Promise<void>((resolve, rejectListen) => {
        server.once('error', rejectListen)
        server.listen({ port, host, backlog: listenBacklog(limits) }, () => {
          server.off('error', rejectListen)
          resolve()
        })
      })
      const address = server.address()
      const actualPort = typeof address === 'object' && address ? address.port : port
      const urlHost = host.includes(':') ? `[${host}]` : host
      return { port: actualPort, host, url: `http://${urlHost}:${actualPort}` }
    },
    attach,
    handleUpgrade,
    handleRequest,
    async compact(doc) {
      const { compaction } = await wiring.parts
      await compaction.compact(doc)
    },
    stats,
    webhooks: () => wiring.ready?.webhooks ?? null,
    async close() {
      if (closing) return
      closing = true
      stopHeartbeat()
      const serverClosed = ownServer
        ? new Promise<void>((resolve) => ownServer!.close(() => resolve()))
        : Promise.resolve()
      // 1012: clients reconnect at once, through the balancer to another clone (or to this one restarted).
      for (const ws of sockets) ws.close(CLOSE_SERVICE_RESTART, 'server restarting: reconnect')
      await wiring.drain()
      for (const ws of sockets) ws.terminate()
      ownServer?.closeAllConnections()
      await serverClosed
      await wiring.closeOwnedStorage()
    }
  }
}

/**
 * How many connections the kernel may hold for the server before it accepts them: as many
 * as the server may have open (`limits.maxConnections`), since after a restart every one
 * of them may come back in the same second. The kernel clamps it to
 * `net.core.somaxconn` (4096 by default since Linux 5.4). With Node's default of 511, a
 * reconnect storm of 5,000 stock clients (`pnpm bench --scenario storm`) overflowed the
 * queue about 1,400 times (`nstat TcpExtListenOverflows`); each dropped SYN costs its
 * client a retransmission 1 s later, then 3 s, 7 s: the storm's long tail.
 */
function listenBacklog(limits: { readonly maxConnections: number }): number {
  return limits.maxConnections
}
