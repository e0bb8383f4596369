import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Delivery, DeliveryStatus, WebhookOutbox } from './webhook-outbox.js'

/**
 * `GET /api/v1/webhooks/deliveries?status=pending|failed[&limit=n]` lists deliveries (both
 * kinds without `status`); `POST /api/v1/webhooks/deliveries/<id>/requeue` puts a failed
 * one back in the queue, `POST /api/v1/webhooks/deliveries/requeue` every failed one.
 * The same as `quire webhooks`, over HTTP, for whoever `authorize` lets in (the server's
 * API keys). Errors are JSON `{ "error": { "code", "message" } }`.
 */
export const DELIVERIES_PATH = '/api/v1/webhooks/deliveries'

export interface DeliveriesRouteOptions {
  /** The outbox, or null while storage is not open. */
  readonly outbox: () => WebhookOutbox | null
  readonly authorize: (request: IncomingMessage) => boolean | Promise<boolean>
  /** Told after a requeue, so the dispatcher looks at once. */
  readonly requeued: () => void
}

const DEFAULT_LIMIT = 100
const MAX_LIMIT = 1000

/** The JSON form of a delivery: times as ISO strings, the body as the receiver gets it. */
export function describeDelivery(delivery: Delivery): Record<string, unknown> {
  return {
    id: delivery.id,
    status: delivery.status,
    event: delivery.event,
    room: delivery.room,
    url: delivery.url,
    attempts: delivery.attempts,
    nextAttemptAt: delivery.status === 'pending' ? new Date(delivery.nextAttemptAt).toISOString() : null,
    failedAt: delivery.status === 'failed' ? new Date(delivery.nextAttemptAt).toISOString() : null,
    createdAt: new Date(delivery.createdAt).toISOString(),
    lastError: delivery.lastError
  }
}

/** Resolves true when the request was for these routes (and is answered), false otherwise. */
export function createDeliveriesRoute(options: DeliveriesRouteOptions): (request: IncomingMessage, response: ServerResponse) => Promise<boolean> {
  return async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://quire')
    if (url.pathname !== DELIVERIES_PATH && !url.pathname.startsWith(`${DELIVERIES_PATH}/`)) return false
    const rest = url.pathname.slice(DELIVERIES_PATH.length)
    if (!(await options.authorize(request))) {
      answerError(response, 401, 'unauthorized', 'an API key is required (Authorization: Bearer <key>)')
      return true
    }
    const outbox = options.outbox()
    if (outbox === null) {
      answerError(response, 503, 'unavailable', 'storage is not open yet')
      return true
    }
    if (rest === '' || rest === '/') {
      if (request.method !== 'GET') return methodNotAllowed(response, 'GET')
      const status = url.searchParams.get('status')
      if (status !== null && status !== 'pending' && status !== 'failed') {
        answerError(response, 400, 'bad-request', `status must be pending or failed, got "${status}"`)
        return true
      }
      const limitText = url.searchParams.get('limit')
      const limit = limitText === null ? DEFAULT_LIMIT : Number(limitText)
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
        answerError(response, 400, 'bad-request', `limit must be a whole number from 1 to ${MAX_LIMIT}, got "${limitText}"`)
        return true
      }
      const statuses: DeliveryStatus[] = status === null ? ['pending', 'failed'] : [status]
      const deliveries: Delivery[] = []
      for (const s of statuses) deliveries.push(...(await outbox.list(s, limit)))
      answerJson(response, 200, { deliveries: deliveries.map(describeDelivery) })
      return true
    }
    if (rest === '/requeue') {
      if (request.method !== 'POST') return methodNotAllowed(response, 'POST')
      const requeued = await outbox.requeue('failed')
      options.requeued()
      answerJson(response, 200, { requeued })
      return true
    }
    const match = /^\/([^/]+)\/requeue$/.exec(rest)
    if (match?.[1] !== undefined) {
      if (request.method !== 'POST') return methodNotAllowed(response, 'POST')
      let id: string
      try {
        id = decodeURIComponent(match[1])
      } catch {
        answerError(response, 400, 'bad-request', 'the delivery id is not percent-encoded correctly')
        return true
      }
      const requeued = await outbox.requeue({ id })
      if (requeued === 0) {
        answerError(response, 404, 'not-found', `no failed delivery with id ${JSON.stringify(id)}`)
        return true
      }
      options.requeued()
      answerJson(response, 200, { requeued })
      return true
    }
    answerError(response, 404, 'not-found', `no such route: ${url.pathname}`)
    return true
  }
}

function methodNotAllowed(response: ServerResponse, allow: string): true {
  response.setHeader('allow', allow)
  answerError(response, 405, 'method-not-allowed', `use ${allow}`)
  return true
}

function answerError(response: ServerResponse, status: number, code: string, message: string): void {
  answerJson(response, status, { error: { code, message } })
}

function answerJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  response.end(JSON.stringify(body))
}
