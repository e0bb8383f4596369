import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import { CLOSE_SERVICE_RESTART } from '@quire/protocol'
import { createApiAccess } from './api/api-access.js'
import { createDocumentApi } from './api/document-api.js'
import { createAccessWatch, type GrantedAccess } from './auth/access-watch.js'
import { createReadinessCheck } from './http/readiness.js'
import { attachToHttpServer, createHttpRoutes } from './http/http-routes.js'
import { openMetricsListener, type MetricsListener } from './http/metrics-listener.js'
import { createUnsentBytesBudget } from './limits/unsent-bytes-budget.js'
import { createServerMetrics, type QuireMetrics } from './metrics/server-metrics.js'
import { QuireError } from './quire-error.js'
import { resolveWithin } from './resolve-within.js'
import { resolveServerOptions, SERVER_DEFAULTS, type ServerOptions } from './server-options.js'
import { createServerWiring } from './server-wiring.js'
import { startHeartbeat } from './transport/heartbeat.js'
import { createUpgradeAdmission } from './transport/upgrade-admission.js'
import { createUpgradeHandler } from './transport/upgrade-handler.js'
import type { Webhooks } from './webhooks/create-webhooks.js'
import { createDeliveriesRoute } from './webhooks/deliveries-route.js'
import { registerWebhookMetrics } from './webhooks/webhook-metrics.js'

export type { ServerOptions } from './server-options.js'

export interface ListenResult {
  readonly port: number
  readonly host: string
  /** `http://host:port`; WebSocket clients use the same address with ws://. */
  readonly url: string
  /** Where `/metrics` is served when `metricsPort` is given (its own listener). */
  readonly metricsUrl?: string
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
  /**
   * Ends access now: every open connection `filter` picks is closed with 4403 (its
   * client stops retrying: a revocation is final until the user acts). Returns how many
   * were closed. For a user removed from a document, a suspended account, a withdrawn
   * link; new connections are refused by `authenticate` as usual.
   */
  revoke(filter: (grant: GrantedAccess) => boolean, reason?: string): number
  /** Compacts one document's stored log now. */
  compact(doc: string): Promise<void>
  stats(): ServerStats
  /** The webhooks (counters, queue depth, the API's document events), or null without `webhooks` options or before storage is open. */
  webhooks(): Webhooks | null
  /**
   * The server's Prometheus registry (null with `metrics: false`): other parts register
   * their own metrics on it, an embedder may serve it elsewhere.
   */
  readonly metrics: QuireMetrics | null
  /**
   * Drains and stops: `/readyz` answers 503 and new upgrades are refused from the first
   * moment, every client is closed with 1012 (reconnect at once, elsewhere or here
   * restarted), pending writes are flushed, then the listener and the storage it opened
   * close. Bounded by `drainTimeoutMs`: past it, the updates still unsaved are logged
   * (and left in `stats().unsavedUpdates`) and everything closes anyway.
   */
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
  const sockets = new Set<WebSocket>()
  const unsentBytes = createUnsentBytesBudget(limits.maxUnsentBytes)
  const accessWatch = createAccessWatch({ checkEveryMs: resolved.accessCheckMs, log })
  // Read at scrape time only; `wiring` exists by then.
  const metrics = resolved.metrics
    ? createServerMetrics(() => {
        const parts = wiring.ready
        return {
          connections: sockets.size,
          rooms: parts?.registry.size ?? 0,
          roomsLoaded: parts?.registry.loads ?? 0,
          unsavedUpdates: parts?.commitQueue.backlog ?? 0,
          unsentBytes: unsentBytes.measure(),
          storageErrors: parts?.commitQueue.failedWrites ?? 0,
          compactionsDone: parts?.compaction.completed ?? 0,
          compactionsFailed: parts?.compaction.failed ?? 0,
          renderCacheHits: parts?.renderer.hits ?? 0,
          rendersRun: parts?.renderer.misses ?? 0
        }
      })
    : null
  const counters = metrics?.counters ?? null
  const wiring = createServerWiring(resolved, metrics)
  if (metrics !== null && resolved.webhooks !== undefined) registerWebhookMetrics(metrics.registry, () => wiring.ready?.webhooks ?? null)
  let ownServer: Server | null = null
  let metricsListener: MetricsListener | null = null
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
    accessWatch,
    log,
    counters
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
    readiness: createReadinessCheck({ draining: () => closing, parts: () => wiring.ready, fanout: resolved.fanout }),
    metrics: metrics !== null && resolved.metricsPort === undefined ? metrics.render : null,
    documentApi: createDocumentApi({
      parts: wiring.parts,
      fanout: resolved.fanout,
      apiKeys: resolved.apiKeys,
      authenticate: resolved.authenticate,
      maxMessageBytes,
      maxRoomNameBytes: resolved.maxRoomNameBytes,
      maxRooms: limits.maxRooms,
      tombstoneDays: resolved.tombstoneDays,
      saveTimeoutMs: resolved.apiSaveTimeoutMs,
      roomLingerMs: resolved.apiRoomLingerMs,
      documentEvents: resolved.documentEvents,
      webhookEvents: () => wiring.ready?.webhooks?.documentEvents ?? null,
      isClosing: () => closing,
      log,
      renderExtensionsModule: resolved.renderExtensionsModule
    })
  })
  // Operators only: an API key (or no access control at all), unless the embedder decides.
  const webhookOptions = resolved.webhooks
  const operators = createApiAccess({ apiKeys: resolved.apiKeys, authenticate: resolved.authenticate })
  const deliveriesRoute = webhookOptions
    ? createDeliveriesRoute({
        outbox: () => wiring.ready?.webhooks?.outbox ?? null,
        authorize: options.webhooks?.authorize ?? ((request) => operators.isOperator(request)),
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
      const url = `http://${urlHost}:${actualPort}`
      if (metrics !== null && resolved.metricsPort !== undefined) {
        // A metrics port that cannot be had fails listen() as a busy main port would, leaving nothing open.
        metricsListener = await openMetricsListener(metrics.render, resolved.metricsPort, resolved.metricsHost, log).catch(async (error: unknown) => {
          await new Promise<void>((resolve) => server.close(() => resolve()))
          ownServer = null
          throw error
        })
        return { port: actualPort, host, url, metricsUrl: metricsListener.url }
      }
      return { port: actualPort, host, url }
    },
    attach,
    handleUpgrade,
    handleRequest,
    revoke: (filter, reason) => accessWatch.revoke(filter, reason),
    async compact(doc) {
      const { compaction } = await wiring.parts
      await compaction.compact(doc)
    },
    stats,
    metrics,
    webhooks: () => wiring.ready?.webhooks ?? null,
    async close() {
      if (closing) return
      closing = true
      stopHeartbeat()
      accessWatch.close()
      const { drainTimeoutMs } = resolved
      log('info', `draining: closing ${sockets.size} connections with 1012, flushing ${stats().unsavedUpdates} unsaved updates (at most ${drainTimeoutMs} ms)`, {
        connections: sockets.size,
        unsavedUpdates: stats().unsavedUpdates
      })
      // 1012: clients reconnect at once, through the balancer to another clone (or to this
      // one restarted). The listener stays open meanwhile: /readyz answers the balancer 503
      // and upgrades are refused (503), instead of connections being refused outright.
      for (const ws of sockets) ws.close(CLOSE_SERVICE_RESTART, 'server restarting: reconnect')
      const drained = await settlesWithin(wiring.drain(), drainTimeoutMs)
      if (!drained) {
        const unsaved = stats().unsavedUpdates
        log('error', `drain timed out after ${drainTimeoutMs} ms: ${unsaved} updates unsaved (their clients keep them and resend on reconnect)`, {
          unsavedUpdates: unsaved,
          drainTimeoutMs
        })
        await wiring.stop()
      }
      for (const ws of sockets) ws.terminate()
      const serverClosed = ownServer
        ? new Promise<void>((resolve) => ownServer!.close(() => resolve()))
        : Promise.resolve()
      ownServer?.closeAllConnections()
      await serverClosed
      await metricsListener?.close()
      // A storage that did not finish its writes in time may not close either.
      if (drained) await wiring.closeOwnedStorage()
      else {
        wiring.closeOwnedStorage().catch((error: unknown) => {
          log('warn', `closing storage after the drain timed out: ${error instanceof Error ? error.message : String(error)}`)
        })
      }
    }
  }
}

/** Whether `work` settles within `ms` (its failure counts as settled: it is not waited for again). */
function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  return resolveWithin(work.then(() => true, () => true), ms, false)
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
