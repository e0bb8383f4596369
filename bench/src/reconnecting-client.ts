import { performance } from 'node:perf_hooks'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import type { DocumentReplica } from './document-replica.js'
import { openRawWebSocket, type RawWebSocket } from './raw-websocket.js'
import type { Dialect } from './server-kind.js'

/**
 * Load-generator clients that connect, sync and reconnect the way a stock y-websocket 3
 * `WebsocketProvider` does (node_modules/y-websocket/src/y-websocket.js, 3.1), without
 * a Y.Doc: each holds a `DocumentReplica` shared with the other clients of its document.
 *
 * What is copied from the provider, because it shapes a reconnect storm:
 * - On open it sends sync step 1 (its state vector) and its awareness state (a provider's
 *   awareness starts as `{}`, so it always has one). It answers the server's sync step 1
 *   with sync step 2 (what the server lacks: after an in-memory server restarted, the
 *   whole document), and counts as synced when it receives a sync step 2.
 * - Every close, including a connection that was refused or never opened, counts as an
 *   unsuccessful attempt, and the next attempt comes min(2^attempts x 100, 2500) ms
 *   later: 200, 400, 800, 1600, then every 2500 ms. There is no jitter, so clients that
 *   lost the server at the same moment come back in lockstep. The count is reset only
 *   when a connection synced, so a client refused after a few seconds of downtime waits
 *   the full 2.5 s before its next try.
 * - Close codes 4400-4499 stop it for good; every other code (1013 included) is retried.
 * - It closes a connection on which nothing arrived for 30 s, and renews its awareness
 *   state every 15 s (y-protocols' Awareness), so idle clients keep each other alive.
 *
 * Hocuspocus needs its own framing (the document name before every message, an auth
 * message first): the `hocuspocus` dialect adds it, as `bench-client.ts` does. The
 * sockets are raw-websocket.ts's, which cost the generator a fraction of what `ws` does
 * per attempt, so a wave of retries reaches the server about as tightly as thousands of
 * separate machines would send it.
 */
export interface ReconnectingClient {
  readonly replica: DocumentReplica
  readonly synced: boolean
  /** performance.now() of the last time the client became synced; NaN before. */
  readonly syncedAt: number
  /** The close that stopped it for good (4400-4499), if any. */
  readonly stoppedBy: { readonly code: number; readonly reason: string } | null
}

/** One connection attempt: when it started, and whether it reached a listening server. */
export interface ConnectionAttempt {
  readonly startedAt: number
  /** False when the connect was refused (ECONNREFUSED: nothing listening). */
  reachedServer: boolean
}

export interface ClientFleet {
  readonly clients: readonly ReconnectingClient[]
  /** Adds a client of the server at `baseUrl` (ws://host:port) and connects it now. */
  add(baseUrl: string, replica: DocumentReplica, clientId: number): ReconnectingClient
  /** Attempts since the last `resetCounts`, in start order. */
  readonly attempts: readonly ConnectionAttempt[]
  /** Close codes the clients saw since the last `resetCounts` (1006 for a refused or dropped connection). */
  readonly closeCodes: ReadonlyMap<number, number>
  resetCounts(): void
  /** Stops every client (as `provider.destroy()`): no reconnects, sockets dropped. */
  close(): void
}

export const MAX_BACKOFF_MS = 2500
const BACKOFF_UNIT_MS = 100
const MESSAGE_RECONNECT_TIMEOUT_MS = 30_000
const AWARENESS_RENEWAL_MS = 15_000
const CHECK_INTERVAL_MS = 3000

const MESSAGE_SYNC = 0
const MESSAGE_AWARENESS = 1
const MESSAGE_AUTH = 2
const MESSAGE_QUERY_AWARENESS = 3
const HOCUSPOCUS_SYNC_REPLY = 4
const SYNC_STEP_1 = 0
const SYNC_STEP_2 = 1

export function createClientFleet(dialect: Dialect): ClientFleet {
  const clients: Client[] = []
  let attempts: ConnectionAttempt[] = []
  let closeCodes = new Map<number, number>()
  const fleet: FleetRecords = {
    dialect,
    attempt: (attempt) => attempts.push(attempt),
    closed: (code) => closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1)
  }
  // One timer for all clients: the provider's watchdog and the awareness renewal.
  const checker = setInterval(() => {
    const now = performance.now()
    for (const client of clients) client.check(now)
  }, CHECK_INTERVAL_MS)
  return {
    clients,
    add(baseUrl, replica, clientId) {
      const url = new URL(baseUrl)
      const client = new Client(fleet, { host: url.hostname, port: Number(url.port), path: `/${encodeURIComponent(replica.name)}` }, replica, clientId)
      clients.push(client)
      client.connect()
      return client
    },
    get attempts() {
      return attempts
    },
    get closeCodes() {
      return closeCodes
    },
    resetCounts() {
      attempts = []
      closeCodes = new Map()
    },
    close() {
      clearInterval(checker)
      for (const client of clients) client.destroy()
    }
  }
}

interface ServerAddress {
  readonly host: string
  readonly port: number
  readonly path: string
}

interface FleetRecords {
  readonly dialect: Dialect
  attempt(attempt: ConnectionAttempt): void
  closed(code: number): void
}

class Client implements ReconnectingClient {
  synced = false
  syncedAt = Number.NaN
  stoppedBy: { code: number; reason: string } | null = null
  private socket: RawWebSocket | null = null
  private connected = false
  private shouldConnect = true
  private unsuccessfulReconnects = 0
  private lastMessageAt = 0
  /**
   * A provider's awareness clock starts at 0 and goes up with every renewal (15 s); the
   * clients of a server that ran for a while come back with clocks above 0. It matters:
   * y-protocols' Awareness (in @y/websocket-server and Hocuspocus) ignores a clock-0
   * state of a client it does not know, so clients that start at 0 would have their
   * presence relayed by no server built on it.
   */
  private awarenessClock = 1
  private awarenessAt = performance.now()
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null

  constructor(
    private readonly fleet: FleetRecords,
    private readonly address: ServerAddress,
    readonly replica: DocumentReplica,
    private readonly clientId: number
  ) {}

  connect(): void {
    this.reconnectTimer = null
    if (!this.shouldConnect || this.socket !== null) return
    this.connected = false
    this.synced = false
    const attempt: ConnectionAttempt = { startedAt: performance.now(), reachedServer: true }
    this.fleet.attempt(attempt)
    const { host, port, path } = this.address
    const socket: RawWebSocket = openRawWebSocket(host, port, path, {
      onOpen: () => {
        if (this.socket !== socket) return
        this.lastMessageAt = performance.now()
        this.connected = true
        this.send(this.frame(MESSAGE_AUTH_FIRST[this.fleet.dialect]))
        this.send(this.frame((encoder) => writeSyncMessage(encoder, SYNC_STEP_1, this.replica.stateVector)))
        this.sendAwareness()
      },
      onMessage: (data) => {
        if (this.socket !== socket) return
        this.lastMessageAt = performance.now()
        this.receive(data)
      },
      onClose: (code, reason, refused) => {
        if (refused) attempt.reachedServer = false
        if (this.socket === socket) this.closed(socket, { code, reason })
      }
    })
    this.socket = socket
  }

  check(now: number): void {
    if (this.connected && now - this.lastMessageAt > MESSAGE_RECONNECT_TIMEOUT_MS && this.socket !== null) {
      this.closed(this.socket, null)
    }
    if (now - this.awarenessAt >= AWARENESS_RENEWAL_MS) {
      this.awarenessClock++
      this.awarenessAt = now
      if (this.connected) this.sendAwareness()
    }
  }

  destroy(): void {
    this.shouldConnect = false
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer)
    const socket = this.socket
    if (socket === null) return
    // Not a close handshake: the run is over, and a server still busy with the storm would hold it up.
    socket.terminate()
    this.closed(socket, null)
  }

  /** y-websocket's `closeWebsocketConnection`: `event` is null for a close of our own. */
  private closed(socket: RawWebSocket, event: { code: number; reason: string } | null): void {
    this.socket = null
    if (socket.isOpen) socket.close()
    else socket.terminate()
    if (event !== null) this.fleet.closed(event.code)
    this.connected = false
    this.synced = false
    this.unsuccessfulReconnects++
    if (event !== null && event.code >= 4400 && event.code < 4500) {
      this.shouldConnect = false
      this.stoppedBy = event
    }
    if (!this.shouldConnect) return
    const delay = Math.min(2 ** this.unsuccessfulReconnects * BACKOFF_UNIT_MS, MAX_BACKOFF_MS)
    this.reconnectTimer = setTimeout(() => this.connect(), delay)
  }

  private receive(data: Buffer): void {
    const decoder = decoding.createDecoder(data)
    if (this.fleet.dialect === 'hocuspocus') decoding.readVarString(decoder)
    const type = decoding.readVarUint(decoder)
    const g = globalThis as unknown as { tmpCounts?: Map<number, number> }
    g.tmpCounts ??= new Map()
    g.tmpCounts.set(type, (g.tmpCounts.get(type) ?? 0) + 1)
    if (type === MESSAGE_SYNC || (type === HOCUSPOCUS_SYNC_REPLY && this.fleet.dialect === 'hocuspocus')) {
      const subtype = decoding.readVarUint(decoder)
      if (subtype === SYNC_STEP_1) {
        const reply = this.replica.reply(decoding.readVarUint8Array(decoder))
        this.send(this.frame((encoder) => writeSyncMessage(encoder, SYNC_STEP_2, reply)))
      } else if (subtype === SYNC_STEP_2 && !this.synced) {
        this.synced = true
        this.syncedAt = performance.now()
        // "a connection that synced did useful work - reset the reconnect backoff"
        this.unsuccessfulReconnects = 0
      }
    } else if (type === MESSAGE_QUERY_AWARENESS) {
      this.sendAwareness()
    }
  }

  private sendAwareness(): void {
    this.send(
      this.frame((encoder) => {
        encoding.writeVarUint(encoder, MESSAGE_AWARENESS)
        const update = encoding.createEncoder()
        encoding.writeVarUint(update, 1)
        encoding.writeVarUint(update, this.clientId)
        encoding.writeVarUint(update, this.awarenessClock)
        encoding.writeVarString(update, '{}')
        encoding.writeVarUint8Array(encoder, encoding.toUint8Array(update))
      })
    )
  }

  private frame(write: ((encoder: encoding.Encoder) => void) | null): Uint8Array | null {
    if (write === null) return null
    const encoder = encoding.createEncoder()
    if (this.fleet.dialect === 'hocuspocus') encoding.writeVarString(encoder, this.replica.name)
    write(encoder)
    return encoding.toUint8Array(encoder)
  }

  private send(frame: Uint8Array | null): void {
    if (frame !== null && this.connected) this.socket?.send(frame)
  }
}

function writeSyncMessage(encoder: encoding.Encoder, subtype: number, payload: Uint8Array): void {
  encoding.writeVarUint(encoder, MESSAGE_SYNC)
  encoding.writeVarUint(encoder, subtype)
  encoding.writeVarUint8Array(encoder, payload)
}

/** Hocuspocus handles nothing of a document before an auth message (an empty token here). */
const MESSAGE_AUTH_FIRST: Record<Dialect, ((encoder: encoding.Encoder) => void) | null> = {
  'y-websocket': null,
  relay: null,
  hocuspocus: (encoder) => {
    encoding.writeVarUint(encoder, MESSAGE_AUTH)
    encoding.writeVarUint(encoder, 0)
    encoding.writeVarString(encoder, '')
  }
}
