import { createServer, type Server } from 'node:http'
import type { Log } from '../log.js'
import { redactUrl } from '../redact-url.js'
import { METRICS_PATH, writeMetrics, type RenderMetrics } from './http-routes.js'

export interface MetricsListener {
  /** `http://host:port`; Prometheus scrapes `${url}/metrics`. */
  readonly url: string
  close(): Promise<void>
}

/**
 * A listener that serves only `GET /metrics` (`metricsPort`): operators who expose the
 * main port to clients keep metrics on an address of their own (127.0.0.1 by default).
 */
export async function openMetricsListener(render: RenderMetrics, port: number, host: string, log: Log): Promise<MetricsListener> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]
    if (path !== METRICS_PATH) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      response.end(`Not found. This port serves ${METRICS_PATH} only.\n`)
      return
    }
    writeMetrics(render, response).catch((error: unknown) => {
      log('error', `metrics: ${error instanceof Error ? error.message : String(error)}`, { url: redactUrl(request.url ?? '/') })
      if (!response.headersSent) response.writeHead(500)
      response.end()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  const actualPort = typeof address === 'object' && address ? address.port : port
  const urlHost = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${urlHost}:${actualPort}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}
