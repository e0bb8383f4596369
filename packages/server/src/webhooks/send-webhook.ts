import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signWebhookBody } from './webhook-signature.js'
import type { NewDelivery } from './webhook-outbox.js'

export type SendResult =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'failed'; readonly error: string }
  /** Cut short by `stop` (shutting down): not an attempt. */
  | { readonly kind: 'stopped' }

export interface SendOptions {
  readonly secret: string
  readonly timeoutMs: number
  /** Aborted when the server shuts down. */
  readonly stop: AbortSignal
}

/**
 * One attempt: POST the delivery's body, signed now, to its URL. Any 2xx answer is a
 * success; anything else (another status, a redirect, no answer within the timeout, a
 * refused connection) is a failed attempt, described for `lastError`. The answer's body
 * is not read. Never throws.
 */
export async function sendWebhook(delivery: NewDelivery, options: SendOptions): Promise<SendResult> {
  const timeout = AbortSignal.timeout(options.timeoutMs)
  try {
    const response = await fetch(delivery.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'quire-webhooks',
        [DELIVERY_HEADER]: delivery.id,
        [EVENT_HEADER]: delivery.event,
        [SIGNATURE_HEADER]: signWebhookBody(options.secret, delivery.body, Math.floor(Date.now() / 1000))
      },
      body: delivery.body,
      redirect: 'manual',
      signal: AbortSignal.any([timeout, options.stop])
    })
    await response.body?.cancel().catch(() => {})
    if (response.status >= 200 && response.status < 300) return { kind: 'delivered' }
    return { kind: 'failed', error: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}` }
  } catch (error) {
    if (options.stop.aborted) return { kind: 'stopped' }
    if (timeout.aborted) return { kind: 'failed', error: `no answer within ${options.timeoutMs} ms` }
    return { kind: 'failed', error: describeFetchError(error) }
  }
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  // fetch says "fetch failed"; what failed is in its cause (ECONNREFUSED, a TLS error...).
  const cause = (error as { cause?: unknown }).cause
  if (cause instanceof Error) {
    const code = (cause as { code?: string }).code
    return code ? `${code}: ${cause.message}` : cause.message
  }
  return error.message
}
