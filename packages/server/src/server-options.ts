import { pathToFileURL } from 'node:url'
import { getHeapStatistics } from 'node:v8'
import { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_ROOM_NAME_BYTES } from '@quire/protocol'
import type { IssueShareToken } from './auth/create-share-token-issuer.js'
import type { Authenticate } from './authenticate.js'
import { DEFAULT_COMPACTION_POLICY } from './compaction/compaction-policy.js'
import { resolveLimits, type Limits } from './limits/limits.js'
import { quietLog, type Log } from './log.js'
import type { DocumentEvents } from './api/document-events.js'
import type { Fanout } from './fanout/fanout.js'
import type { Storage } from './storage/storage.js'
import { parseTrustedProxies, type TrustedProxies } from './transport/trusted-proxies.js'
import { DEFAULT_RETENTION, parseRetention, type RetentionPolicy } from './history/retention-policy.js'
import { resolveWebhookOptions, type ResolvedWebhookOptions, type WebhookOptions } from './webhooks/webhook-options.js'

export interface ServerOptions {
  /** LevelDB directory used when no `storage` is given. Default `./data`. */
  readonly dataDir?: string
  /** Storage backend; the server does not close one it was given. */
  readonly storage?: Storage
  /** fsync each group commit of the default LevelDB storage. Default true. */
  readonly fsync?: boolean
  /**
   * The traffic between server clones sharing `storage` (e.g. `@quire/redis`); the server
   * does not close one it was given. Absent: a single process.
   */
  readonly fanout?: Fanout
  /**
   * Least time between the starts of two group commits. Under steady traffic a commit
   * waits this long to gather what arrives meanwhile; an update after a quiet spell is
   * written at once, and after a batch of one update the next may start 10 ms later (see
   * commit-queue.ts). Peers receive updates without waiting for it; only acknowledgements
   * (and, with `fanout`, what other clones relay: a clone publishes an update once it is
   * durable) follow the commit. Default 50 ms in a single process, 10 ms with `fanout`.
   */
  readonly commitIntervalMs?: number
  /**
   * Bytes of accepted updates not yet durable above which writers are refused (closed
   * with 1013, "try again later") until storage catches up: what storage being down
   * costs in memory is bounded. Default: a quarter of the V8 heap limit.
   */
  readonly maxUnsavedBytes?: number
  /** Largest accepted frame; larger ones close the socket with 1009. Default 16 MiB. */
  readonly maxMessageBytes?: number
  /** Unsent bytes at which a slow peer is disconnected at once (see `limits.slowConsumerBytes` for the soft bound). Default 64 MiB. */
  readonly maxBufferedBytes?: number
  /** Longest room name in UTF-8 bytes. Default 1024. */
  readonly maxRoomNameBytes?: number
  /**
   * Compact a document's stored log once more than this many updates were appended since
   * its last snapshot. Default 1000. Logs are also compacted by size (see
   * compaction/compaction-policy.ts), and a large log that was never compacted is
   * compacted before its room opens.
   */
  readonly compactAfter?: number
  /** Serve this directory (a built web app) over HTTP. */
  readonly staticDir?: string
  /** Ping interval; a socket that misses a pong by the next ping is dropped. Default 30 s. */
  readonly heartbeatMs?: number
  /** Access control; without it every room is open to everyone for writing. */
  readonly authenticate?: Authenticate
  /** How often a grant's `checkAccess` (see `AuthResult`) is asked while connected. Default 60 s. */
  readonly accessCheckMs?: number
  /**
   * Keys that open the whole document API (`/api/v1`, see the README), sent as
   * `Authorization: Bearer <key>`; listing all documents needs one. Without keys and
   * without `authenticate` the API is as open as the WebSocket is.
   */
  readonly apiKeys?: readonly string[]
  /**
   * Days a deleted document is refused (its tombstone: clients are closed with 4404 and a
   * write needs an explicit `PUT` first); 0 keeps no tombstone. Default 30.
   */
  readonly tombstoneDays?: number
  /**
   * How long `POST /api/v1/documents/<room>/updates` waits for its update to be durable
   * before it answers 503 (the update stays queued and is written once storage is back).
   * Default 10 s.
   */
  readonly apiSaveTimeoutMs?: number
  /**
   * How long a room the document API opened for a write stays in memory after it (see
   * api/api-room-linger.ts): a backend's next request to it finds it open instead of
   * loading it from storage again. 0 releases it at once. Default 10 s.
   */
  readonly apiRoomLingerMs?: number
  /** Told when the document API creates or deletes a document (webhooks). Default: nobody. */
  readonly documentEvents?: DocumentEvents
  /** Mints tokens for `GET /api/share` (see `createShareTokenIssuer`); without it that path answers 404. */
  readonly shareTokens?: IssueShareToken
  /** Browser origins allowed to connect (e.g. `https://notes.example`); requests without an Origin header always are. Default: all. */
  readonly allowedOrigins?: readonly string[]
  /** Rate, connection, room and slow-consumer limits; each falls back to its default (see limits/limits.ts). */
  readonly limits?: Partial<Limits>
  /**
   * Reverse proxies whose `X-Forwarded-For` / `Forwarded` headers are believed: CIDR
   * ranges (`10.0.0.0/8`, `fd00::/8`), single addresses, or `loopback`. A connection from
   * one of them is counted, limited and logged by the client address it forwarded for
   * (see transport/client-address.ts); every other connection by its own address, whatever
   * headers it sends. Default: none.
   */
  readonly trustProxy?: readonly string[]
  readonly log?: Log
  /**
   * Prometheus metrics (`GET /metrics`, see metrics/server-metrics.ts). Default true;
   * false counts nothing at all (what `quire serve --no-metrics` and the bench's
   * metrics-off variant run).
   */
  readonly metrics?: boolean
  /**
   * Serve `/metrics` on a listener of its own on this port (0 picks one), opened by
   * `listen()`, instead of on the main port: for operators who do not expose metrics
   * where clients connect. Absent: the main port serves them.
   */
  readonly metricsPort?: number
  /** Where that listener listens. Default 127.0.0.1. */
  readonly metricsHost?: string
  /**
   * How long `close()` waits for the drain (pending commits, evictions, compactions)
   * before it gives up, logs how many updates were left unsaved and closes anyway.
   * Default 10 s.
   */
  readonly drainTimeoutMs?: number
  /**
   * Called each time a worker thread has started: the compaction thread or the render
   * thread. Node 20 resets V8 flags set at run time (`v8.setFlagsFromString`, and even
   * those given on the command line, such as `--semi-space-growth-factor`) when it starts
   * a worker; `quire serve` re-applies its heap flags here, and lowers the new thread's
   * priority (see cli/background-threads.ts).
   */
  readonly onWorkerStarted?: () => void
  /** Send webhooks for document events (see webhooks/webhook-options.ts); none without it. */
  readonly webhooks?: WebhookOptions
  /**
   * Version history (see the README's "Version history"): an automatic version is
   * recorded once a document had no edit for this long, if it changed. Default 5 minutes.
   */
  readonly historyIdleMs?: number
  /** ...and at least this often while editing goes on. Default 30 minutes. */
  readonly historyMaxIntervalMs?: number
  /**
   * Which automatic versions are kept, as age bands (history/retention-policy.ts):
   * default `1d,30d:1d,*:7d` (all of the last day, one a day for a month, one a week
   * after). Named and restore versions are always kept.
   */
  readonly historyRetention?: string
  /**
   * The schema documents are rendered with (`GET /api/v1/documents/<room>?format=html`):
   * a module, as a file path or a URL, that exports `extensions` (Tiptap extensions) or
   * `schema` (a ProseMirror Schema), or either as its default export. A module rather
   * than the objects because rendering runs in a worker thread, which imports it itself
   * (functions cannot be sent to a thread). Default: the demo's (Tiptap's StarterKit).
   */
  readonly renderExtensions?: string | URL
  /** Bytes of rendered documents kept (least recently used out first). Default 64 MiB. */
  readonly renderCacheBytes?: number
}

/** The defaults of the server's scalar options, and where `listen()` listens when not told. */
export interface ServerDefaults {
  readonly dataDir: string
  readonly fsync: boolean
  readonly maxMessageBytes: number
  readonly maxBufferedBytes: number
  readonly maxRoomNameBytes: number
  readonly compactAfter: number
  readonly heartbeatMs: number
  readonly accessCheckMs: number
  readonly tombstoneDays: number
  readonly apiSaveTimeoutMs: number
  readonly apiRoomLingerMs: number
  /** In a single process (see `ServerOptions.commitIntervalMs`). */
  readonly commitIntervalMs: number
  /** With a fanout to other clones, whose peers wait for the commit. */
  readonly cloneCommitIntervalMs: number
  readonly host: string
  readonly port: number
  readonly metrics: boolean
  readonly metricsHost: string
  readonly drainTimeoutMs: number
  readonly historyIdleMs: number
  readonly historyMaxIntervalMs: number
  readonly historyRetention: string
  readonly renderCacheBytes: number
}

/**
 * Each default is written here once: `createServer` resolves its options against these,
 * and `quire serve` takes its flags' defaults (and its help text) from them, so the two
 * cannot drift apart. The limits' defaults are `DEFAULT_LIMITS`; the sizes the wire
 * protocol itself knows come from `@quire/protocol`, and the count that triggers a
 * compaction from the compaction policy.
 */
export const SERVER_DEFAULTS: ServerDefaults = {
  dataDir: './data',
  fsync: true,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  maxBufferedBytes: 64 * 1024 * 1024,
  maxRoomNameBytes: DEFAULT_MAX_ROOM_NAME_BYTES,
  compactAfter: DEFAULT_COMPACTION_POLICY.maxUpdates,
  heartbeatMs: 30_000,
  accessCheckMs: 60_000,
  tombstoneDays: 30,
  apiSaveTimeoutMs: 10_000,
  apiRoomLingerMs: 10_000,
  // An fsync'd commit (one LevelDB record) costs 0.2-0.4 ms of CPU here (AMD EPYC VM,
  // 2026-12-01): 50 ms apart instead of 10 cut 11-15% of the CPU per delivery at 10,000
  // deliveries/s (bench/README.md, "Group commits 50 ms apart under load").
  commitIntervalMs: 50,
  cloneCommitIntervalMs: 10,
  host: '127.0.0.1',
  port: 1234,
  metrics: true,
  metricsHost: '127.0.0.1',
  drainTimeoutMs: 10_000,
  historyIdleMs: 5 * 60_000,
  historyMaxIntervalMs: 30 * 60_000,
  historyRetention: DEFAULT_RETENTION,
  renderCacheBytes: 64 * 1024 * 1024
}

/** `ServerOptions` with every default filled in: what the server's parts are built from. */
export interface ResolvedServerOptions {
  readonly dataDir: string
  /** Given by the embedder (and not closed by the server), or undefined for LevelDB in `dataDir`. */
  readonly storage: Storage | undefined
  readonly fsync: boolean
  readonly fanout: Fanout | undefined
  readonly commitIntervalMs: number
  readonly maxUnsavedBytes: number
  readonly maxMessageBytes: number
  readonly maxBufferedBytes: number
  readonly maxRoomNameBytes: number
  readonly compactAfter: number
  readonly staticDir: string | undefined
  readonly heartbeatMs: number
  readonly authenticate: Authenticate | undefined
  readonly accessCheckMs: number
  readonly shareTokens: IssueShareToken | undefined
  readonly apiKeys: readonly string[]
  readonly tombstoneDays: number
  readonly apiSaveTimeoutMs: number
  readonly apiRoomLingerMs: number
  readonly documentEvents: DocumentEvents | undefined
  /** Undefined allows every origin. */
  readonly allowedOrigins: readonly string[] | undefined
  readonly limits: Limits
  readonly trustedProxies: TrustedProxies
  readonly log: Log
  readonly metrics: boolean
  /** Undefined: the main port serves `/metrics`. */
  readonly metricsPort: number | undefined
  readonly metricsHost: string
  readonly drainTimeoutMs: number
  readonly onWorkerStarted: (() => void) | undefined
  readonly webhooks: ResolvedWebhookOptions | undefined
  readonly historyIdleMs: number
  readonly historyMaxIntervalMs: number
  readonly historyRetention: RetentionPolicy
  /** The render extensions module as a URL the worker can import, or undefined for the default. */
  readonly renderExtensionsModule: string | undefined
  readonly renderCacheBytes: number
}

/**
 * A quarter of the heap limit: unsaved updates live on the heap (the commit queue's
 * copies) beside the rooms' states and the relay's buffers, and a process past its
 * heap limit dies with everything unsaved. Read when options are resolved, not at import.
 */
export function defaultMaxUnsavedBytes(): number {
  return Math.floor(getHeapStatistics().heap_size_limit / 4)
}

/**
 * Fills in the defaults; throws a RangeError for a limit that is not a positive number or
 * a trusted proxy that is not an address or range.
 */
export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  const trusted = parseTrustedProxies(options.trustProxy ?? [])
  if (!trusted.ok) throw new RangeError(`trustProxy: ${trusted.message}`)
  const retention = parseRetention(options.historyRetention ?? SERVER_DEFAULTS.historyRetention)
  if (!retention.ok) throw new RangeError(`historyRetention: ${retention.message}`)
  const historyIdleMs = options.historyIdleMs ?? SERVER_DEFAULTS.historyIdleMs
  const historyMaxIntervalMs = options.historyMaxIntervalMs ?? SERVER_DEFAULTS.historyMaxIntervalMs
  if (!(historyIdleMs > 0) || !(historyMaxIntervalMs > 0)) throw new RangeError('historyIdleMs and historyMaxIntervalMs must be positive')
  const commitIntervalMs =
    options.commitIntervalMs ?? (options.fanout ? SERVER_DEFAULTS.cloneCommitIntervalMs : SERVER_DEFAULTS.commitIntervalMs)
  if (!(Number.isFinite(commitIntervalMs) && commitIntervalMs >= 0)) throw new RangeError(`commitIntervalMs must be 0 or more milliseconds, got ${commitIntervalMs}`)
  return {
    dataDir: options.dataDir ?? SERVER_DEFAULTS.dataDir,
    storage: options.storage,
    fanout: options.fanout,
    commitIntervalMs,
    maxUnsavedBytes: options.maxUnsavedBytes ?? defaultMaxUnsavedBytes(),
    fsync: options.fsync ?? SERVER_DEFAULTS.fsync,
    maxMessageBytes: options.maxMessageBytes ?? SERVER_DEFAULTS.maxMessageBytes,
    maxBufferedBytes: options.maxBufferedBytes ?? SERVER_DEFAULTS.maxBufferedBytes,
    maxRoomNameBytes: options.maxRoomNameBytes ?? SERVER_DEFAULTS.maxRoomNameBytes,
    compactAfter: options.compactAfter ?? SERVER_DEFAULTS.compactAfter,
    staticDir: options.staticDir,
    heartbeatMs: options.heartbeatMs ?? SERVER_DEFAULTS.heartbeatMs,
    authenticate: options.authenticate,
    accessCheckMs: options.accessCheckMs ?? SERVER_DEFAULTS.accessCheckMs,
    shareTokens: options.shareTokens,
    apiKeys: options.apiKeys ?? [],
    tombstoneDays: options.tombstoneDays ?? SERVER_DEFAULTS.tombstoneDays,
    apiSaveTimeoutMs: options.apiSaveTimeoutMs ?? SERVER_DEFAULTS.apiSaveTimeoutMs,
    apiRoomLingerMs: options.apiRoomLingerMs ?? SERVER_DEFAULTS.apiRoomLingerMs,
    documentEvents: options.documentEvents,
    allowedOrigins: options.allowedOrigins,
    limits: resolveLimits(options.limits),
    trustedProxies: trusted.proxies,
    log: options.log ?? quietLog,
    metrics: options.metrics ?? SERVER_DEFAULTS.metrics,
    metricsPort: options.metricsPort,
    metricsHost: options.metricsHost ?? SERVER_DEFAULTS.metricsHost,
    drainTimeoutMs: options.drainTimeoutMs ?? SERVER_DEFAULTS.drainTimeoutMs,
    onWorkerStarted: options.onWorkerStarted,
    webhooks: options.webhooks === undefined ? undefined : resolveWebhookOptions(options.webhooks),
    historyIdleMs,
    historyMaxIntervalMs,
    historyRetention: retention.policy,
    renderExtensionsModule: moduleUrlOf(options.renderExtensions),
    renderCacheBytes: options.renderCacheBytes ?? SERVER_DEFAULTS.renderCacheBytes
  }
}

/** A path (relative to the working directory) or a URL, as a URL for `import()`. */
function moduleUrlOf(module: string | URL | undefined): string | undefined {
  if (module === undefined) return undefined
  if (module instanceof URL) return module.href
  return /^[a-z][a-z0-9+.-]+:/i.test(module) ? module : pathToFileURL(module).href
}
