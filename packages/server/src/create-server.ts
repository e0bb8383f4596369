import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import {
  CLOSE_FORBIDDEN,
  CLOSE_GOING_AWAY,
  CLOSE_POLICY_VIOLATION,
  CLOSE_TRY_AGAIN_LATER,
  CLOSE_UNAUTHORIZED,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_ROOM_NAME_BYTES,
  truncateCloseReason
} from '@quire/protocol'
import type { IssueShareToken } from './auth/create-share-token-issuer.js'
import { createOriginAllowList } from './auth/origin-allow-list.js'
import { handleShareRequest, SHARE_PATH } from './auth/share-endpoint.js'
import type { Authenticate, AuthResult } from './authenticate.js'
import { createCommitQueue } from './commit/commit-queue.js'
import { DEFAULT_COMPACTION_POLICY } from './compaction/compaction-policy.js'
import { createCompactionScheduler } from './compaction/compaction-scheduler.js'
import { createCompactionThread } from './compaction/compaction-thread.js'
import { createStaticHandler } from './http/static-files.js'
import { createConnectionCounter } from './limits/connection-counter.js'
import { resolveLimits, type Limits } from './limits/limits.js'
import { createUpdateGuard } from './limits/update-guard.js'
import { quietLog, type Log } from './log.js'
import { QuireError, toQuireError } from './quire-error.js'
import { createRelayScheduler } from './room/relay-scheduler.js'
import { createRoomRegistry } from './room/room-registry.js'
import { createLevelStorage } from './storage/level-storage.js'
import type { Storage } from './storage/storage.js'
import { openConnection } from './transport/connection.js'
import { addFramingCloseReasons } from './transport/framing-close-reason.js'
import { startHeartbeat } from './transport/heartbeat.js'
import { readRoomRequest } from './transport/room-request.js'

export interface ServerOptions {
  /** LevelDB directory used when no `storage` is given. Default `./data`. */
  readonly dataDir?: string
  /** Storage backend; the server does not close one it was given. */
  readonly storage?: Storage
  /** fsync each group commit of the default LevelDB storage. Default true. */
  readonly fsync?: boolean
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
  readonly log?: Log
  /**
   * Called each time the compaction worker thread has started. Node 20 resets V8 flags
   * set at run time (`v8.setFlagsFromString`, and even those given on the command line,
   * such as `--semi-space-growth-factor`) when it starts a worker; `quire serve` re-applies
   * its heap flags here.
   */
  readonly onWorkerStarted?: () => void
}

export interface ListenResult {
  readonly port: number
  readonly host: string
  /** `http://host:port`; WebSocket clients use the same address with ws://. */
  readonly url: string
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
  /** Compacts one document's stored log now. */
  compact(doc: string): Promise<void>
  stats(): { rooms: number; connections: number; unsavedUpdates: number }
  /** Stops accepting, closes every socket, flushes writes, closes storage it opened. */
  close(): Promise<void>
}

export function createServer(options: ServerOptions = {}): QuireServer {
  const log = options.log ?? quietLog
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const maxRoomNameBytes = options.maxRoomNameBytes ?? DEFAULT_MAX_ROOM_NAME_BYTES
  const limits = resolveLimits(options.limits)
  const originAllowList = createOriginAllowList(options.allowedOrigins)
  // Counts sockets from upgrade to close, so pending upgrades (awaiting auth) count too.
  const connectionsPerIp = createConnectionCounter(limits.maxConnectionsPerIp)
  const updateGuard = createUpdateGuard()
  const ownsStorage = options.storage === undefined
  const storagePromise: Promise<Storage> = options.storage
    ? Promise.resolve(options.storage)
    : createLevelStorage(options.dataDir ?? './data', { fsync: options.fsync ?? true, log })
  // Reported when used (listen, first upgrade), not as an unhandled rejection.
  storagePromise.catch(() => {})

  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, perMessageDeflate: false })
  const sockets = new Set<WebSocket>()
  const staticHandler = options.staticDir ? createStaticHandler(options.staticDir) : null
  const thread = createCompactionThread({ onStarted: options.onWorkerStarted })
  const relays = createRelayScheduler()
  const stopHeartbeat = startHeartbeat(sockets, options.heartbeatMs ?? 30_000)
  let ownServer: Server | null = null
  let closing = false
  let nextConnectionId = 1

  const core = storagePromise.then((storage) => {
    const commitQueue = createCommitQueue({
      storage,
      log,
      onCommitted: (appended) => {
        for (const { doc, updates } of appended) compaction.noteAppended(doc, updates)
      }
    })
    const registry = createRoomRegistry({
      storage,
      commitQueue,
      relays,
      prepareLog: (name, stored) => compaction.prepareOpen(name, stored),
      onEvicted: (name) => compaction.forget(name),
      onQuiet: (name) => compaction.noteQuiet(name)
    })
    const compaction = createCompactionScheduler({
      storage,
      commitQueue,
      thread,
      log,
      policy: { ...DEFAULT_COMPACTION_POLICY, maxUpdates: options.compactAfter ?? DEFAULT_COMPACTION_POLICY.maxUpdates },
      openRoom: (doc) => registry.get(doc),
      busy: () => relays.busy
    })
    return { storage, commitQueue, registry, compaction }
  })
  let ready: Awaited<typeof core> | null = null
  core.then(
    (c) => {
      ready = c
    },
    () => {}
  )

  const reject = (socket: Duplex, status: number, message: string): void => {
    socket.end(`HTTP/1.1 ${status} ${message}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${message}\n`)
  }

  const handleUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', destroySocket)
    if (closing) {
      reject(socket, 503, 'Service Unavailable')
      return
    }
    const wanted = readRoomRequest(request)
    const accept = (then: (ws: WebSocket) => void): void => {
      wss.handleUpgrade(request, socket, head, (ws) => {
        if (closing) {
          ws.close(CLOSE_GOING_AWAY, 'server shutting down')
          return
        }
        addFramingCloseReasons(ws, maxMessageBytes)
        trackSocket(sockets, ws)
        then(ws)
      })
    }
    const refusedOrigin = originAllowList.check(request.headers.origin)
    if (refusedOrigin !== null) {
      accept((ws) => ws.close(CLOSE_FORBIDDEN, truncateCloseReason(refusedOrigin)))
      return
    }
    if (Buffer.byteLength(wanted.room) > maxRoomNameBytes) {
      accept((ws) => ws.close(CLOSE_POLICY_VIOLATION, `room name longer than ${maxRoomNameBytes} bytes`))
      return
    }
    if (connectionsPerIp.total >= limits.maxConnections) {
      accept((ws) => ws.close(CLOSE_TRY_AGAIN_LATER, `try again later: this server has ${limits.maxConnections} connections open`))
      return
    }
    const ip = request.socket.remoteAddress ?? 'unknown'
    if (!connectionsPerIp.tryAcquire(ip)) {
      accept((ws) => ws.close(CLOSE_POLICY_VIOLATION, `too many connections from your address (limit ${limits.maxConnectionsPerIp})`))
      return
    }
    releaseOnClose(socket, connectionsPerIp, ip)
    const authorized: Promise<AuthResult> = options.authenticate
      ? Promise.resolve().then(() => options.authenticate!({ request, room: wanted.room, token: wanted.token }))
      : Promise.resolve({ user: 'anonymous', access: 'write' })
    Promise.all([core, authorized]).then(
      ([{ registry }, auth]) => {
        if (registry.get(wanted.room) === undefined && registry.size >= limits.maxRooms) {
          accept((ws) => ws.close(CLOSE_TRY_AGAIN_LATER, `try again later: this server has ${limits.maxRooms} rooms open`))
          return
        }
        accept((ws) =>
          openConnection({
            socket: ws,
            roomName: wanted.room,
            access: auth.access,
            user: auth.user,
            extension: wanted.extension,
            maxMessageBytes,
            maxBufferedBytes: options.maxBufferedBytes ?? 64 * 1024 * 1024,
            limits,
            updateGuard,
            registry,
            log,
            id: nextConnectionId++
          })
        )
      },
      (error: unknown) => {
        core.then(
          () => {
            const refused = toQuireError(error, 'unauthorized')
            const code = refused.code === 'forbidden' ? CLOSE_FORBIDDEN : CLOSE_UNAUTHORIZED
            accept((ws) => ws.close(code, truncateCloseReason(refused.message || 'access denied')))
          },
          (storageError: unknown) => {
            log('error', `storage unavailable: ${storageError instanceof Error ? storageError.message : String(storageError)}`)
            reject(socket, 503, 'Service Unavailable')
          }
        )
      }
    )
  }

  const handleRequest = async (request: IncomingMessage, response: ServerResponse): Promise<boolean> => {
    const path = (request.url ?? '/').split('?')[0]
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ ok: !closing, ...stats() }))
      return true
    }
    if (path === SHARE_PATH) {
      await handleShareRequest(options.shareTokens, request, response)
      return true
    }
    return staticHandler ? staticHandler(request, response) : false
  }

  const stats = (): { rooms: number; connections: number; unsavedUpdates: number } => ({
    rooms: ready?.registry.size ?? 0,
    connections: sockets.size,
    unsavedUpdates: ready?.commitQueue.backlog ?? 0
  })

  const attach = (server: Server): void => {
    server.on('upgrade', handleUpgrade)
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      if (server.listenerCount('request') > 1) return // the embedder routes requests itself
      handleRequest(request, response).then(
        (handled) => {
          if (!handled) {
            response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
            response.end('Not found. Quire serves WebSocket connections at ws://<host>/<room>.\n')
          }
        },
        (error: unknown) => {
          log('error', `HTTP ${request.url}: ${error instanceof Error ? error.message : String(error)}`)
          if (!response.headersSent) response.writeHead(500)
          response.end()
        }
      )
    })
  }

  return {
    async listen(port = 1234, host = '127.0.0.1') {
      await core.catch((error: unknown) => {
        throw new QuireError('storage-failed', error instanceof Error ? error.message : String(error), { cause: error })
      })
      const server = createHttpServer()
      attach(server)
      ownServer = server
      await new Promise<void>((resolve, rejectListen) => {
        server.once('error', rejectListen)
        server.listen(port, host, () => {
          server.off('error', rejectListen)
          resolve()
        })
      })
      const address = server.address()
      const actualPort = typeof address === 'object' && address ? address.port : port
      const urlHost = host.includes(':') ? `[${host}]` : host
      return { port: actualPort, host, url: `http://${urlHost}:${actualPort}` }
    },
    attach,
    handleUpgrade,
    handleRequest,
    async compact(doc) {
      const { compaction } = await core
      await compaction.compact(doc)
    },
    stats,
    async close() {
      if (closing) return
      closing = true
      stopHeartbeat()
      const serverClosed = ownServer
        ? new Promise<void>((resolve) => ownServer!.close(() => resolve()))
        : Promise.resolve()
      for (const ws of sockets) ws.close(CLOSE_GOING_AWAY, 'server shutting down')
      const c = await core.catch(() => null)
      if (c) {
        await c.commitQueue.whenCommitted()
        await c.registry.settled()
        await c.compaction.idle()
      }
      await thread.close()
      relays.close()
      for (const ws of sockets) ws.terminate()
      ownServer?.closeAllConnections()
      await serverClosed
      if (c && ownsStorage) await c.storage.close()
    }
  }
}

/*
 * Listeners that live as long as a connection are registered here, at module level, not
 * inside handleUpgrade: a closure keeps its whole enclosing scope alive, and that scope
 * holds the upgrade request and its head buffer, a few KiB per idle connection.
 */
function destroySocket(this: Duplex): void {
  this.destroy()
}

function trackSocket(sockets: Set<WebSocket>, ws: WebSocket): void {
  sockets.add(ws)
  ws.on('close', () => sockets.delete(ws))
}

function releaseOnClose(socket: Duplex, counter: { release(ip: string): void }, ip: string): void {
  socket.once('close', () => counter.release(ip))
}
