import { DEFAULT_WEBHOOK_SETTINGS, MIN_WEBHOOK_SECRET_BYTES, type WebhookOptions } from '../webhooks/webhook-options.js'
import type { CliFlag } from './cli-flags.js'
import { parseDurationMs } from './parse-duration.js'

type Writable<T> = { -readonly [K in keyof T]: T[K] }

/** What `quire serve`'s webhook flags asked for. */
export interface WebhookSettings {
  webhookUrls: readonly string[]
  /** The environment variable holding the signing secret (it never goes on the command line). */
  webhookSecretEnv: string | undefined
  readonly webhook: Writable<Omit<WebhookOptions, 'urls' | 'secret' | 'authorize'>>
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}

/** The webhook rows of `quire serve`'s flag table (see cli-flags.ts). */
export const WEBHOOK_FLAGS: readonly CliFlag<WebhookSettings>[] = [
  {
    kind: 'list',
    name: 'webhook-url',
    placeholder: '<url>',
    help: 'send document.created, document.updated and\ndocument.deleted events to this URL (repeatable);\nneeds --webhook-secret-env',
    set: (s, urls) => { s.webhookUrls = urls }
  },
  {
    kind: 'text',
    name: 'webhook-secret-env',
    placeholder: '<NAME>',
    help: `sign webhooks with the secret in the environment\nvariable NAME (at least ${MIN_WEBHOOK_SECRET_BYTES} bytes)`,
    set: (s, name) => { s.webhookSecretEnv = name }
  },
  {
    kind: 'text',
    name: 'webhook-debounce',
    placeholder: '<duration>',
    help: "send a document's document.updated once its edits\npause this long",
    default: seconds(DEFAULT_WEBHOOK_SETTINGS.debounceMs),
    set: (s, text) => { s.webhook.debounceMs = parseDurationMs(text, 'webhook-debounce') }
  },
  {
    kind: 'text',
    name: 'webhook-max-wait',
    placeholder: '<duration>',
    help: 'or once this long has passed while edits go on',
    default: seconds(DEFAULT_WEBHOOK_SETTINGS.maxWaitMs),
    set: (s, text) => { s.webhook.maxWaitMs = parseDurationMs(text, 'webhook-max-wait') }
  },
  {
    kind: 'text',
    name: 'webhook-retry-base',
    placeholder: '<duration>',
    help: 'first retry of a failed delivery; later ones double\n(an hour at most), for about a day in all',
    default: seconds(DEFAULT_WEBHOOK_SETTINGS.retryBaseMs),
    set: (s, text) => { s.webhook.retryBaseMs = parseDurationMs(text, 'webhook-retry-base') }
  }
]

/**
 * The server's webhook options from the flags and the environment, or null without
 * `--webhook-url`. Throws, saying what to do, for a URL without a secret, a secret
 * without a URL, or an unset or short secret.
 */
export function webhookOptionsFrom(settings: WebhookSettings, env: NodeJS.ProcessEnv): WebhookOptions | null {
  const { webhookUrls, webhookSecretEnv } = settings
  if (webhookUrls.length === 0) {
    if (webhookSecretEnv !== undefined) throw new Error('quire serve: --webhook-secret-env is given but no --webhook-url to send to')
    return null
  }
  if (webhookSecretEnv === undefined) {
    throw new Error('quire serve: --webhook-url needs --webhook-secret-env NAME, the environment variable holding the signing secret (e.g. from: openssl rand -base64 48)')
  }
  const secret = env[webhookSecretEnv] ?? ''
  if (Buffer.byteLength(secret) < MIN_WEBHOOK_SECRET_BYTES) {
    throw new Error(
      `quire serve: the environment variable ${webhookSecretEnv} ${secret === '' ? 'is empty or unset' : `holds ${Buffer.byteLength(secret)} bytes`}: the webhook secret must be at least ${MIN_WEBHOOK_SECRET_BYTES} bytes (e.g. from: openssl rand -base64 48)`
    )
  }
  for (const url of webhookUrls) {
    let protocol: string | null = null
    try {
      protocol = new URL(url).protocol
    } catch {
      // reported below
    }
    if (protocol !== 'http:' && protocol !== 'https:') throw new Error(`quire serve: --webhook-url must be an http: or https: URL, got "${url}"`)
  }
  const { debounceMs = DEFAULT_WEBHOOK_SETTINGS.debounceMs, maxWaitMs = DEFAULT_WEBHOOK_SETTINGS.maxWaitMs } = settings.webhook
  if (maxWaitMs < debounceMs) throw new Error(`quire serve: --webhook-max-wait (${seconds(maxWaitMs)}) must be at least --webhook-debounce (${seconds(debounceMs)})`)
  return { urls: webhookUrls, secret, ...settings.webhook }
}
