import type { IncomingMessage } from 'node:http'

/** `createServer({ webhooks })`: where to send events, and how. */
export interface WebhookOptions {
  /** Receivers: every event goes to each of them (one delivery per URL). http: or https:. */
  readonly urls: readonly string[]
  /** The HMAC secret deliveries are signed with (see `verifyWebhookSignature`); at least 32 bytes. */
  readonly secret: string
  /** A document's `document.updated` is sent once its edits pause this long (default 2 s)... */
  readonly debounceMs?: number
  /** ...or once this long has passed since the first edit it announces, while they go on (default 10 s). */
  readonly maxWaitMs?: number
  /** The first retry's delay; later ones double (see webhooks/retry-schedule.ts). Default 10 s. */
  readonly retryBaseMs?: number
  /** Attempts in all before a delivery is failed. Default: as many as fit in a day's schedule (32 at the default base). */
  readonly maxAttempts?: number
  /** How long one attempt may take before it counts as failed. Default 10 s. */
  readonly attemptTimeoutMs?: number
  /** Attempts in flight at once, per process. Default 8. */
  readonly maxInFlight?: number
  /** How often to look for due deliveries that another process (a clone) enqueued. Default 1 s. */
  readonly pollMs?: number
  /**
   * Who may use `GET /api/v1/webhooks/deliveries` and its requeue routes. Default: the
   * document API's operators, i.e. requests with an API key (`apiKeys`), or everyone when
   * no access control is configured at all (a room token never does).
   */
  readonly authorize?: (request: IncomingMessage) => boolean | Promise<boolean>
}

/** The defaults of the webhook options, written once: `createServer` and `quire serve`'s flags read them here. */
export const DEFAULT_WEBHOOK_SETTINGS = {
  debounceMs: 2000,
  maxWaitMs: 10_000,
  retryBaseMs: 10_000,
  attemptTimeoutMs: 10_000,
  maxInFlight: 8,
  pollMs: 1000
} as const

export interface ResolvedWebhookOptions {
  readonly urls: readonly string[]
  readonly secret: string
  readonly debounceMs: number
  readonly maxWaitMs: number
  readonly retryBaseMs: number
  readonly maxAttempts: number | undefined
  readonly attemptTimeoutMs: number
  readonly maxInFlight: number
  readonly pollMs: number
  readonly authorize: (request: IncomingMessage) => boolean | Promise<boolean>
}

/** Smallest webhook secret, as for room tokens: an HMAC key guessable in less is no key. */
export const MIN_WEBHOOK_SECRET_BYTES = 32

/** Fills in the defaults; throws a RangeError naming the bad option. */
export function resolveWebhookOptions(options: WebhookOptions): ResolvedWebhookOptions {
  if (options.urls.length === 0) throw new RangeError('webhooks.urls: give at least one receiver URL')
  for (const url of options.urls) {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new RangeError(`webhooks.urls: "${url}" is not a URL`)
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new RangeError(`webhooks.urls: "${url}" is not an http: or https: URL`)
  }
  if (Buffer.byteLength(options.secret) < MIN_WEBHOOK_SECRET_BYTES) {
    throw new RangeError(`webhooks.secret must be at least ${MIN_WEBHOOK_SECRET_BYTES} bytes (e.g. from: openssl rand -base64 48)`)
  }
  const resolved: ResolvedWebhookOptions = {
    urls: [...options.urls],
    secret: options.secret,
    debounceMs: options.debounceMs ?? DEFAULT_WEBHOOK_SETTINGS.debounceMs,
    maxWaitMs: options.maxWaitMs ?? DEFAULT_WEBHOOK_SETTINGS.maxWaitMs,
    retryBaseMs: options.retryBaseMs ?? DEFAULT_WEBHOOK_SETTINGS.retryBaseMs,
    maxAttempts: options.maxAttempts,
    attemptTimeoutMs: options.attemptTimeoutMs ?? DEFAULT_WEBHOOK_SETTINGS.attemptTimeoutMs,
    maxInFlight: options.maxInFlight ?? DEFAULT_WEBHOOK_SETTINGS.maxInFlight,
    pollMs: options.pollMs ?? DEFAULT_WEBHOOK_SETTINGS.pollMs,
    authorize: options.authorize ?? (() => false)
  }
  for (const key of ['debounceMs', 'maxWaitMs', 'retryBaseMs', 'attemptTimeoutMs', 'maxInFlight', 'pollMs'] as const) {
    if (!(resolved[key] > 0) || !Number.isFinite(resolved[key])) throw new RangeError(`webhooks.${key} must be a positive number, got ${resolved[key]}`)
  }
  if (resolved.maxWaitMs < resolved.debounceMs) throw new RangeError('webhooks.maxWaitMs must be at least webhooks.debounceMs')
  if (resolved.maxAttempts !== undefined && !(Number.isSafeInteger(resolved.maxAttempts) && resolved.maxAttempts >= 1)) {
    throw new RangeError(`webhooks.maxAttempts must be a whole number of at least 1, got ${resolved.maxAttempts}`)
  }
  return resolved
}
