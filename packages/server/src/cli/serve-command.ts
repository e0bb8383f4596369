import { createShareTokenIssuer } from '../auth/create-share-token-issuer.js'
import { createTokenAuthenticator } from '../auth/create-token-authenticator.js'
import { MIN_SECRET_BYTES } from '../auth/room-token.js'
import { createServer } from '../create-server.js'
import { DEFAULT_LIMITS, type Limits } from '../limits/limits.js'
import { consoleLog, type Log, type LogLevel } from '../log.js'
import { SERVER_DEFAULTS, type ServerOptions } from '../server-options.js'
import { parseTrustedProxies, TRUSTED_PROXY_FORMS } from '../transport/trusted-proxies.js'
import { readFlags, type CliFlag } from './cli-flags.js'
import { createPinoLogger, DEFAULT_LOG_LEVEL, isLogLevel, LOG_LEVELS, logToPino } from './pino-log.js'
import { readApiKeyFromEnv, readSecretFromEnv, secretEnvFlag } from './secret-env.js'
import { applyServeHeapFlags } from './serve-heap-flags.js'
import { DEFAULT_BACKGROUND_NICE, lowerBackgroundThreads, NO_BACKGROUND_THREADS } from './background-threads.js'
import { describeServiceUrl, openPostgresStorage, postgresUrlFrom } from './storage-choice.js'
import { openRedisFanout, redisUrlFrom } from './fanout-choice.js'
import { WEBHOOK_FLAGS, webhookOptionsFrom, type WebhookSettings } from './webhook-flags.js'
import type { WebhookOptions } from '../webhooks/webhook-options.js'
import { parseRetention } from '../history/retention-policy.js'
import { parseDurationMs } from './parse-duration.js'

type Writable<T> = { -readonly [K in keyof T]: T[K] }

/** What `quire serve`'s flags asked for; whatever they left out, the server's defaults decide. */
export interface ServeSettings extends WebhookSettings {
  readonly options: Writable<ServerOptions>
  readonly limits: Writable<Partial<Limits>>
  host: string | undefined
  port: number | undefined
  /** The environment variable holding the token secret; without it the server is open. */
  secretEnv: string | undefined
  /** PostgreSQL instead of LevelDB (else QUIRE_POSTGRES_URL decides). */
  postgresUrl: string | undefined
  postgresSchema: string | undefined
  /** Redis for the traffic between clones (else QUIRE_REDIS_URL decides). */
  redisUrl: string | undefined
  redisPrefix: string | undefined
  cloneHeartbeatMs: number | undefined
  /** How much nicer than the event loop the background threads of the process run (see background-threads.ts). */
  backgroundNice: number | undefined
  /** The least level logged (the CLI's logger; the server only calls it). */
  logLevel: LogLevel | undefined
  /** Environment variables each holding a key of the document API. */
  apiKeyEnvs: readonly string[]
}

export function createServeSettings(): ServeSettings {
  return {
    options: {},
    limits: {},
    host: undefined,
    port: undefined,
    secretEnv: undefined,
    postgresUrl: undefined,
    postgresSchema: undefined,
    redisUrl: undefined,
    redisPrefix: undefined,
    cloneHeartbeatMs: undefined,
    backgroundNice: undefined,
    logLevel: undefined,
    apiKeyEnvs: [],
    webhookUrls: [],
    webhookSecretEnv: undefined,
    webhook: {}
  }
}

/**
 * A raised rate raises its burst in proportion, keeping the seconds of slack the
 * defaults give (5 of messages, 10 of presence updates), and never below the default.
 */
function burstFor(rate: number, defaultRate: number, defaultBurst: number): number {
  return Math.max(defaultBurst, Math.ceil(rate * slackSeconds(defaultRate, defaultBurst)))
}

function slackSeconds(defaultRate: number, defaultBurst: number): number {
  return defaultBurst / defaultRate
}

type LimitKey = keyof Limits

/** A row that sets one limit, shown with its default from DEFAULT_LIMITS. */
function limitFlag(name: string, key: LimitKey, help: string): CliFlag<ServeSettings> {
  return { kind: 'positive', name, help, default: DEFAULT_LIMITS[key], set: (s, n) => { s.limits[key] = n } }
}

/** A row that sets a rate limit and raises its burst with it (see burstFor). */
function rateFlag(name: string, rateKey: LimitKey, burstKey: LimitKey, what: string): CliFlag<ServeSettings> {
  const defaultRate = DEFAULT_LIMITS[rateKey]
  const defaultBurst = DEFAULT_LIMITS[burstKey]
  return {
    kind: 'positive',
    name,
    help: `${what}; bursts may reach ${defaultBurst},\nor ${slackSeconds(defaultRate, defaultBurst)} s of a raised rate`,
    default: defaultRate,
    set: (s, rate) => {
      s.limits[rateKey] = rate
      s.limits[burstKey] = burstFor(rate, defaultRate, defaultBurst)
    }
  }
}

/** The flags of `quire serve`, one row each (see cli-flags.ts). */
export const SERVE_FLAGS: readonly CliFlag<ServeSettings>[] = [
  { kind: 'text', name: 'host', placeholder: '<addr>', help: 'address to listen on', default: SERVER_DEFAULTS.host, set: (s, host) => { s.host = host } },
  { kind: 'whole', name: 'port', help: 'port; 0 picks a free one', default: SERVER_DEFAULTS.port, set: (s, port) => { s.port = port } },
  { kind: 'text', name: 'data', placeholder: '<dir>', help: 'LevelDB data directory', default: SERVER_DEFAULTS.dataDir, set: (s, dir) => { s.options.dataDir = dir } },
  {
    kind: 'text',
    name: 'postgres',
    placeholder: '<url>',
    help: 'keep documents in PostgreSQL instead of LevelDB\n(or set QUIRE_POSTGRES_URL; needs @quire/postgres)',
    set: (s, url) => { s.postgresUrl = url }
  },
  {
    kind: 'text',
    name: 'postgres-schema',
    placeholder: '<name>',
    help: "schema for Quire's tables, created if missing;\ndefault: the first of the URL's search_path",
    set: (s, name) => { s.postgresSchema = name }
  },
  {
    kind: 'text',
    name: 'redis',
    placeholder: '<url>',
    help: 'relay between clones on Redis Streams, e.g.\nredis://127.0.0.1:6379/0 (or set QUIRE_REDIS_URL;\nneeds @quire/redis; clones share --postgres)',
    set: (s, url) => { s.redisUrl = url }
  },
  { kind: 'text', name: 'redis-prefix', placeholder: '<prefix>', help: "put before Quire's Redis keys (several deployments\nor test runs on one Redis)", set: (s, prefix) => { s.redisPrefix = prefix } },
  {
    kind: 'positive',
    name: 'clone-heartbeat-ms',
    help: "how often a clone tells the others it is alive;\none silent for 3 periods is taken for dead: its\nclients' presence goes and open rooms catch up\nfrom storage (default: 5000, set in @quire/redis)",
    set: (s, ms) => { s.cloneHeartbeatMs = ms }
  },
  {
    kind: 'whole',
    name: 'background-nice',
    help: "how much nicer than the event loop this process's\nbackground threads run (GC helpers, LevelDB's\ncompaction, the compaction and render workers), so\nthat on a shared core the relay runs first; 0 leaves\nthem alone (Linux only)",
    default: DEFAULT_BACKGROUND_NICE,
    set: (s, n) => { s.backgroundNice = n }
  },
  { kind: 'text', name: 'static', placeholder: '<dir>', help: 'serve a built web app (e.g. demo/dist)', set: (s, dir) => { s.options.staticDir = dir } },
  secretEnvFlag<ServeSettings>({
    help: `require signed tokens; the HMAC secret is read from\nthe environment variable NAME (at least ${MIN_SECRET_BYTES} bytes).\nWithout it the server is open to everyone.`,
    set: (s, name) => { s.secretEnv = name }
  }),
  {
    kind: 'list',
    name: 'api-key-env',
    placeholder: '<NAME>',
    help: 'a key of the document API (/api/v1) is read from\nthe environment variable NAME (repeatable); sent\nas Authorization: Bearer <key>. Without keys or\n--secret-env the API is open to everyone.',
    set: (s, names) => { s.apiKeyEnvs = names }
  },
  {
    kind: 'whole',
    name: 'tombstone-days',
    help: 'days a document deleted over the API is refused\n(clients closed with 4404); 0 keeps none',
    default: SERVER_DEFAULTS.tombstoneDays,
    set: (s, days) => { s.options.tombstoneDays = days }
  },
  {
    kind: 'list',
    name: 'allow-origin',
    placeholder: '<origin>',
    help: 'allow browser pages from this origin (repeatable);\ndefault: every origin',
    set: (s, origins) => { s.options.allowedOrigins = origins }
  },
  {
    kind: 'list',
    name: 'trust-proxy',
    placeholder: '<cidr>',
    help: 'a reverse proxy in this range (a CIDR range, an\naddress, or loopback) names the client in\nX-Forwarded-For or Forwarded (repeatable); the\nlimits and logs then count that client;\ndefault: no proxy, every header ignored',
    set: (s, ranges) => {
      // Refused here, before the server starts, with the flag's name in the message.
      const parsed = parseTrustedProxies(ranges)
      if (!parsed.ok) throw new Error(`quire serve: --trust-proxy must be ${TRUSTED_PROXY_FORMS}, got "${parsed.invalid}"`)
      s.options.trustProxy = ranges
    }
  },
  { kind: 'whole', name: 'max-message-bytes', help: 'largest accepted message', default: SERVER_DEFAULTS.maxMessageBytes, set: (s, n) => { s.options.maxMessageBytes = n } },
  { kind: 'positive', name: 'max-room-name-bytes', help: 'longest room name in UTF-8 bytes', default: SERVER_DEFAULTS.maxRoomNameBytes, set: (s, n) => { s.options.maxRoomNameBytes = n } },
  rateFlag('max-messages-per-second', 'maxMessagesPerSecond', 'messageBurst', 'per connection'),
  limitFlag('max-bytes-per-second', 'maxBytesPerSecond', 'per connection'),
  rateFlag('max-awareness-per-second', 'maxAwarenessPerSecond', 'awarenessBurst', 'presence updates per connection'),
  limitFlag('max-connections-per-ip', 'maxConnectionsPerIp', 'open connections from one address'),
  rateFlag('max-new-connections-per-second-per-ip', 'maxNewConnectionsPerSecondPerIp', 'newConnectionBurstPerIp', 'new connections from one address'),
  limitFlag('max-connections', 'maxConnections', 'open connections in this process, and the listen\nbacklog (clamped to net.core.somaxconn)'),
  limitFlag('max-rooms', 'maxRooms', 'rooms open in memory'),
  limitFlag('slow-consumer-bytes', 'slowConsumerBytes', 'unsent bytes a slow client may hold for the grace period'),
  limitFlag('slow-consumer-grace-ms', 'slowConsumerGraceMs', 'how long a slow client may hold them'),
  {
    kind: 'positive',
    name: 'max-buffered-bytes',
    help: 'unsent bytes that drop a client at once',
    default: SERVER_DEFAULTS.maxBufferedBytes,
    set: (s, n) => { s.options.maxBufferedBytes = n }
  },
  limitFlag('max-unsent-bytes', 'maxUnsentBytes', 'unsent bytes of all clients together, a quarter of\nthe heap limit by default; past it the largest\nbacklogs are dropped first'),
  {
    kind: 'positive',
    name: 'max-unsaved-bytes',
    help: 'unsaved bytes (storage down) past which writers are\nrefused until it is back; default a quarter of the heap',
    set: (s, n) => { s.options.maxUnsavedBytes = n }
  },
  {
    kind: 'whole',
    name: 'compact-after',
    help: "compact a document's log past n updates",
    default: SERVER_DEFAULTS.compactAfter,
    set: (s, n) => { s.options.compactAfter = n }
  },
  {
    kind: 'text',
    name: 'history-idle',
    placeholder: '<duration>',
    help: 'record an automatic version once a document had\nno edit for this long (500ms, 30s, 5m, 1h)',
    default: `${SERVER_DEFAULTS.historyIdleMs / 60_000}m`,
    set: (s, text) => { s.options.historyIdleMs = parseDurationMs(text, 'history-idle') }
  },
  {
    kind: 'text',
    name: 'history-max-interval',
    placeholder: '<duration>',
    help: 'and at least this often while editing goes on',
    default: `${SERVER_DEFAULTS.historyMaxIntervalMs / 60_000}m`,
    set: (s, text) => { s.options.historyMaxIntervalMs = parseDurationMs(text, 'history-max-interval') }
  },
  {
    kind: 'text',
    name: 'history-retention',
    placeholder: '<bands>',
    help: 'automatic versions kept, by age: all up to 1d,\none a day up to 30d, one a week after; named\nand restore versions are always kept ("*" keeps all)',
    default: SERVER_DEFAULTS.historyRetention,
    set: (s, text) => {
      const parsed = parseRetention(text)
      if (!parsed.ok) throw new Error(`quire serve: --history-retention: ${parsed.message}`)
      s.options.historyRetention = text
    }
  },
  {
    kind: 'text',
    name: 'commit-interval',
    placeholder: '<duration>',
    help: 'least time between two group commits: under steady\ntraffic a commit gathers what arrives meanwhile;\nacknowledgements wait for it, relayed updates do\nnot (with --redis 10ms: other clones wait for it)',
    default: `${SERVER_DEFAULTS.commitIntervalMs}ms`,
    set: (s, text) => { s.options.commitIntervalMs = parseDurationMs(text, 'commit-interval') }
  },
  { kind: 'switch', name: 'no-fsync', help: 'do not fsync group commits (faster, loses data on power loss)', set: (s) => { s.options.fsync = false } },
  {
    kind: 'text',
    name: 'log-level',
    placeholder: '<level>',
    help: `least level logged: ${LOG_LEVELS.join(', ')}; JSON lines\nwhen stdout is not a terminal, readable lines on one`,
    default: DEFAULT_LOG_LEVEL,
    set: (s, level) => {
      if (!isLogLevel(level)) throw new Error(`quire serve: --log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`)
      s.logLevel = level
    }
  },
  {
    kind: 'whole',
    name: 'metrics-port',
    help: 'serve /metrics on this port (0 picks one) instead of\nthe main one, which then does not serve them',
    set: (s, port) => { s.options.metricsPort = port }
  },
  { kind: 'text', name: 'metrics-host', placeholder: '<addr>', help: 'address of the --metrics-port listener', default: SERVER_DEFAULTS.metricsHost, set: (s, host) => { s.options.metricsHost = host } },
  { kind: 'switch', name: 'no-metrics', help: 'no Prometheus metrics: nothing counted, no /metrics', set: (s) => { s.options.metrics = false } },
  {
    kind: 'positive',
    name: 'drain-timeout',
    placeholder: '<s>',
    help: 'on SIGTERM, seconds to flush writes after closing\nclients with 1012; then exit anyway (code 1),\nlogging how many updates were unsaved',
    default: SERVER_DEFAULTS.drainTimeoutMs / 1000,
    set: (s, seconds) => { s.options.drainTimeoutMs = seconds * 1000 }
  },
  {
    kind: 'text',
    name: 'render-extensions',
    placeholder: '<module>',
    help: 'render documents (?format=html|markdown|text) with\nthe schema this module exports: `extensions` (Tiptap)\nor `schema` (ProseMirror); default: StarterKit',
    set: (s, module) => { s.options.renderExtensions = module }
  },
  {
    kind: 'positive',
    name: 'render-cache-bytes',
    help: 'bytes of rendered documents kept in memory',
    default: SERVER_DEFAULTS.renderCacheBytes,
    set: (s, n) => { s.options.renderCacheBytes = n }
  },
  ...WEBHOOK_FLAGS
]

/** The server's options for `settings`: token auth when a secret is named, `log`, the webhooks, the heap flags. */
export function serverOptionsFrom(settings: ServeSettings, secret: string | null, log: Log = consoleLog, webhooks: WebhookOptions | null = null): ServerOptions {
  return {
    ...settings.options,
    ...(webhooks === null ? {} : { webhooks }),
    limits: settings.limits,
    ...(secret === null
      ? {}
      : { authenticate: createTokenAuthenticator({ secret }), shareTokens: createShareTokenIssuer({ secret }) }),
    log,
    // Node resets V8 flags when it starts a worker: without this, the first compaction
    // let the young generation grow to 32 MiB for good (measured on Node 20.20).
    onWorkerStarted: applyServeHeapFlags
  }
}

/**
 * After the server's own drain bound (`--drain-timeout`), how long the CLI still waits for
 * the storage and the traffic between clones it opened to close before exiting anyway.
 */
const CLOSE_GRACE_MS = 2000

/**
 * `quire serve`: runs until SIGINT or SIGTERM, then drains (see `QuireServer.close`):
 * readiness 503, clients closed with 1012, writes flushed, storage closed. Exits 0 when
 * everything was flushed, 1 when the drain ran out of time with updates unsaved.
 */
export async function serve(args: readonly string[]): Promise<number> {
  const settings = createServeSettings()
  readFlags('serve', SERVE_FLAGS, args, settings)
  const logger = await createPinoLogger({ level: settings.logLevel ?? DEFAULT_LOG_LEVEL, pretty: process.stdout.isTTY === true })
  const log = logToPino(logger)
  const { secretEnv } = settings
  const secret = secretEnv === undefined ? null : readSecretFromEnv(secretEnv)
  const apiKeys = settings.apiKeyEnvs.map(readApiKeyFromEnv)
  const webhooks = webhookOptionsFrom(settings, process.env)
  const postgresUrl = postgresUrlFrom(settings.postgresUrl, process.env)
  const storage = await openPostgresStorage({ postgresUrl, postgresSchema: settings.postgresSchema }, log)
  const redisUrl = redisUrlFrom(settings.redisUrl, process.env)
  if (redisUrl !== undefined && postgresUrl === undefined) {
    await storage?.close()
    throw new Error('--redis relays between clones that share their documents: give them --postgres <url> too (or QUIRE_POSTGRES_URL)')
  }
  const fanout = await openRedisFanout({ url: redisUrl, prefix: settings.redisPrefix, heartbeatMs: settings.cloneHeartbeatMs }, log)
  const options = serverOptionsFrom(settings, secret, log, webhooks)
  let backgroundThreads = NO_BACKGROUND_THREADS
  const server = createServer({
    ...options,
    onWorkerStarted: () => {
      options.onWorkerStarted?.()
      backgroundThreads.lowerNew()
    },
    ...(apiKeys.length === 0 ? {} : { apiKeys }),
    ...(storage === null ? {} : { storage }),
    ...(fanout === null ? {} : { fanout })
  })
  const { url, metricsUrl } = await server.listen(settings.port, settings.host)
  // Threads started later (workers, LevelDB's compaction thread) are found by the next look.
  backgroundThreads = await lowerBackgroundThreads(settings.backgroundNice ?? DEFAULT_BACKGROUND_NICE, log)
  const { dataDir = SERVER_DEFAULTS.dataDir, staticDir, allowedOrigins, trustProxy } = settings.options
  // Whatever the level: scripts and tests wait for this line (JSON on a pipe, text on a terminal).
  logger.child({}, { level: 'info' }).info({ url }, `quire listening on ${url}`)
  if (metricsUrl !== undefined) log('info', `metrics at ${metricsUrl}/metrics (not on the main port)`, { metricsUrl })
  else if (options.metrics === false) log('info', 'metrics off (--no-metrics)')
  const where = postgresUrl === undefined
    ? `data in ${dataDir}`
    : `documents in ${describeServiceUrl(postgresUrl)}${settings.postgresSchema === undefined ? '' : ` schema ${settings.postgresSchema}`}${settings.options.dataDir === undefined ? '' : ' (--data is not used with PostgreSQL)'}`
  log('info', `${where}${staticDir ? `, serving ${staticDir}` : ''}`)
  if (fanout !== null && redisUrl !== undefined) log('info', `clone ${fanout.cloneId}: relaying to other clones through ${describeServiceUrl(redisUrl)}`)
  log(
    'info',
    secret === null
      ? 'open access: no authentication configured, anyone who can reach this port can read and write every room (use --secret-env NAME)'
      : `token authentication on (secret from $${secretEnv}); read-only share links at /api/share`
  )
  log('info', describeApiAccess(apiKeys.length, settings.apiKeyEnvs, secret !== null))
  log(
    'info',
    allowedOrigins === undefined
      ? 'browser pages from any origin may connect (restrict with --allow-origin)'
      : `browser pages may connect only from: ${allowedOrigins.join(', ')}`
  )
  if (trustProxy !== undefined) {
    log('info', `client addresses are taken from X-Forwarded-For or Forwarded on connections from: ${trustProxy.join(', ')}`)
  }

  const drainTimeoutMs = options.drainTimeoutMs ?? SERVER_DEFAULTS.drainTimeoutMs
  const exitCode = await new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      log('info', `${signal}: draining (closing connections with 1012, flushing writes)`, { signal })
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      // The server bounds its own drain; this bounds what follows it (closing storage or
      // Redis that hang), so that the process exits whatever happens.
      const backstop = setTimeout(() => {
        log('error', `shutdown did not finish within ${drainTimeoutMs + CLOSE_GRACE_MS} ms: exiting with ${server.stats().unsavedUpdates} updates unsaved`)
        resolve(1)
      }, drainTimeoutMs + CLOSE_GRACE_MS)
      // The server flushes its writes before it closes; storage it was given, the CLI closes after.
      server
        .close()
        .then(() => fanout?.close())
        .then(() => storage?.close())
        .then(
          () => resolve(server.stats().unsavedUpdates === 0 ? 0 : 1),
          (error: unknown) => {
            log('error', `shutdown: ${error instanceof Error ? error.message : String(error)}`)
            resolve(1)
          }
        )
        .finally(() => clearTimeout(backstop))
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  backgroundThreads.stop()
  log('info', exitCode === 0 ? 'stopped: every write flushed' : 'stopped', { exitCode })
  // Whatever still holds the event loop must not keep a stopped server alive: a storage
  // write that never returns, or (seen once in a test run, 2026-12-02, cause not found) a
  // referenced MessagePort left after a clean drain, which kept a drained `quire serve`,
  // its listener and LevelDB closed, idle for an hour after SIGTERM.
  process.exit(exitCode)
}

/** What `quire serve` says at start-up about who may use the document API. */
function describeApiAccess(keys: number, envs: readonly string[], tokens: boolean): string {
  if (keys === 0 && !tokens) return 'open access to the document API at /api/v1: anyone who can reach this port can read, write, delete and list every document (use --api-key-env NAME)'
  const keyText = keys === 0 ? 'no API key (listing documents is refused)' : `API keys from ${envs.map((e) => `$${e}`).join(', ')}`
  return `document API at /api/v1: ${keyText}${tokens ? '; room tokens open their own room' : ''}`
}
