import { getHeapStatistics } from 'node:v8'
import { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_ROOM_NAME_BYTES } from '@quire/protocol'
import type { IssueShareToken } from './auth/create-share-token-issuer.js'
import type { Authenticate } from './authenticate.js'
import { DEFAULT_COMPACTION_POLICY } from './compaction/compaction-policy.js'
import { resolveLimits, type Limits } from './limits/limits.js'
import { quietLog, type Log } from './log.js'
import type { Fanout } from './fanout/fanout.js'
import type { Storage } from './storage/storage.js'
import { parseTrustedProxies, type TrustedProxies } from './transport/trusted-proxies.js'
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
   * Called each time the compaction worker thread has started. Node 20 resets V8 flags
   * set at run time (`v8.setFlagsFromString`, and even those given on the command line,
   * such as `--semi-space-growth-factor`) when it starts a worker; `quire serve` re-applies
   * its heap flags here.
   */
  readonly onWorkerStarted?: () => void
  /** Send webhooks for document events (see webhooks/webhook-options.ts); none without it. */
  readonly webhooks?: WebhookOptions
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
  readonly host: string
  readonly port: number
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
  host: '127.0.0.1',
  port: 1234
}

/** `ServerOptions` with every default filled in: what the server's parts are built from. */
export interface ResolvedServerOptions {
  readonly dataDir: string
  /** Given by the embedder (and not closed by the server), or undefined for LevelDB in `dataDir`. */
  readonly storage: Storage | undefined
  readonly fsync: boolean
  readonly fanout: Fanout | undefined
  readonly maxUnsavedBytes: number
  readonly maxMessageBytes: number
  readonly maxBufferedBytes: number
  readonly maxRoomNameBytes: number
  readonly compactAfter: number
  readonly staticDir: string | undefined
  readonly heartbeatMs: number
  readonly authenticate: Authenticate | undefined
  readonly shareTokens: IssueShareToken | undefined
  /** Undefined allows every origin. */
  readonly allowedOrigins: readonly string[] | undefined
  readonly limits: Limits
  readonly trustedProxies: TrustedProxies
  readonly log: Log
  readonly onWorkerStarted: (() => void) | undefined
  readonly webhooks: ResolvedWebhookOptions | undefined
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
  return {
    dataDir: options.dataDir ?? SERVER_DEFAULTS.dataDir,
    storage: options.storage,
    fanout: options.fanout,
    maxUnsavedBytes: options.maxUnsavedBytes ?? defaultMaxUnsavedBytes(),
    fsync: options.fsync ?? SERVER_DEFAULTS.fsync,
    maxMessageBytes: options.maxMessageBytes ?? SERVER_DEFAULTS.maxMessageBytes,
    maxBufferedBytes: options.maxBufferedBytes ?? SERVER_DEFAULTS.maxBufferedBytes,
    maxRoomNameBytes: options.maxRoomNameBytes ?? SERVER_DEFAULTS.maxRoomNameBytes,
    compactAfter: options.compactAfter ?? SERVER_DEFAULTS.compactAfter,
    staticDir: options.staticDir,
    heartbeatMs: options.heartbeatMs ?? SERVER_DEFAULTS.heartbeatMs,
    authenticate: options.authenticate,
    shareTokens: options.shareTokens,
    allowedOrigins: options.allowedOrigins,
    limits: resolveLimits(options.limits),
    trustedProxies: trusted.proxies,
    log: options.log ?? quietLog,
    onWorkerStarted: options.onWorkerStarted,
    webhooks: options.webhooks === undefined ? undefined : resolveWebhookOptions(options.webhooks)
  }
}
