import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { IssueShareToken } from '../auth/create-share-token-issuer.js'
import { handleShareRequest, SHARE_PATH } from '../auth/share-endpoint.js'
import type { Log } from '../log.js'
import { redactUrl } from '../redact-url.js'
import type { Readiness } from './readiness.js'
import { createStaticHandler } from './static-files.js'

/** Answers a request it knows and resolves true; resolves false for one it does not. */
export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => Promise<boolean>

export interface HttpRoutesOptions {
  /** Serve this directory (a built web app) for the paths no other route takes. */
  readonly staticDir: string | undefined
  /** Without it, `GET /api/share` answers 404. */
  readonly shareTokens: IssueShareToken | undefined
  /** The JSON body of `GET /healthz`. */
  readonly health: () => Record<string, unknown>
  /** `GET /readyz`: 200 when ready, 503 with the reasons otherwise. */
  readonly readiness: () => Promise<Readiness>
  /** `GET /metrics`; null when metrics are off or served on a port of their own. */
  readonly metrics: RenderMetrics | null
  /** The document API under `/api/v1/` (api/document-api.ts). */
  readonly documentApi?: RequestHandler
}

/** The Prometheus exposition text of a server's metrics. */
export type RenderMetrics = () => Promise<{ readonly contentType: string; readonly body: string }>

export const METRICS_PATH = '/metrics'

export async function writeMetrics(render: RenderMetrics, response: ServerResponse): Promise<void> {
  const { contentType, body } = await render()
  response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' })
  response.end(body)
}

/** The server's HTTP routes: `/healthz`, `/readyz`, `/metrics`, the share endpoint, the document API, then static files if any. */
export function createHttpRoutes(options: HttpRoutesOptions): RequestHandler {
  const staticHandler = options.staticDir ? createStaticHandler(options.staticDir) : null
  return async (request, response) => {
    const path = (request.url ?? '/').split('?')[0]
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify(options.health()))
      return true
    }
    if (path === '/readyz') {
      const readiness = await options.readiness()
      response.writeHead(readiness.ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      response.end(JSON.stringify(readiness))
      return true
    }
    if (path === METRICS_PATH && options.metrics !== null) {
      await writeMetrics(options.metrics, response)
      return true
    }
    if (path === SHARE_PATH) {
      await handleShareRequest(options.shareTokens, request, response)
      return true
    }
    if (options.documentApi && (await options.documentApi(request, response))) return true
    return staticHandler ? staticHandler(request, response) : false
  }
}

/**
 * Serves upgrades and the routes on `server`. Requests no route takes answer 404, a
 * route that fails answers 500 (and is logged); an embedder that listens for requests
 * itself keeps them, and can call the routes from its own handler.
 */
export function attachToHttpServer(
  server: Server,
  handleUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void,
  routes: RequestHandler,
  log: Log
): void {
  server.on('upgrade', handleUpgrade)
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (server.listenerCount('request') > 1) return // the embedder routes requests itself
    routes(request, response).then(
      (handled) => {
        if (!handled) {
          response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
          response.end('Not found. Quire serves WebSocket connections at ws://<host>/<room>.\n')
        }
      },
      (error: unknown) => {
        // Never the raw URL: its query may hold a token (GET /api/share, ?token=).
        const url = redactUrl(request.url ?? '/')
        log('error', `HTTP ${request.method ?? 'GET'} ${url}: ${error instanceof Error ? error.message : String(error)}`, { url })
        if (!response.headersSent) response.writeHead(500)
        response.end()
      }
    )
  })
}
