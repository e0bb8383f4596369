import type { RawData, WebSocket } from 'ws'
import {
  CLOSE_DOCUMENT_DELETED,
  CLOSE_INTERNAL_ERROR,
  CLOSE_POLICY_VIOLATION,
  CLOSE_TRY_AGAIN_LATER,
  CLOSE_UNSUPPORTED_DATA,
  QUIRE_EXTENSION_VERSION,
  closeCodeForDecodeError,
  createSavedAcknowledgement,
  decodeAwarenessUpdate,
  decodeMessage,
  encodeAwarenessUpdate,
  encodeMessage,
  truncateCloseReason,
  updateMetaOf,
  type DecodedMessage,
  type InspectedUpdate
} from '@quire/protocol'
import type { Access } from '../authenticate.js'
import { createConnectionRateLimit, type ConnectionRateLimit } from '../limits/connection-rate-limit.js'
import { DEFAULT_LIMITS, type Limits } from '../limits/limits.js'
import { createSlowConsumerWatch, type SlowConsumerWatch, type WatchedConsumer } from '../limits/slow-consumer-watch.js'
import type { UnsentBytesAccount, UnsentBytesBudget } from '../limits/unsent-bytes-budget.js'
import type { Log, LogFields } from '../log.js'
import { countClose, type TrafficCounters } from '../metrics/traffic-counters.js'
import { QuireError } from '../quire-error.js'
import type { Peer } from '../room/peer.js'
import type { RoomRegistry } from '../room/room-registry.js'
import type { Room } from '../room/room.js'
import { wireFramesOf } from './wire-frames.js'

export interface ConnectionOptions {
  readonly socket: WebSocket
  readonly roomName: string
  readonly access: Access
  readonly user: string | null
  /** Who the connection is in a version's authors: its token subject; null without auth (then its presence's name). */
  readonly author?: string | null
  /** Where the client connects from, behind trusted proxies included: for the logs. */
  readonly clientAddress: string
  /** The client asked for the Quire extension (hello + saved acknowledgements). */
  readonly extension: boolean
  readonly maxMessageBytes: number
  /** Close a peer at once when its unsent bytes go above this (the hard bound for a slow consumer). */
  readonly maxBufferedBytes: number
  /** Rate limits and the slow-consumer soft bound; defaults when omitted. */
  readonly limits?: Limits
  /** The server's budget for unsent bytes, shared by all its connections. */
  readonly unsentBytes: UnsentBytesBudget
  readonly registry: RoomRegistry
  readonly log: Log
  readonly id: number
  /** Where the connection counts its traffic; null without metrics. */
  readonly counters: TrafficCounters | null
}

/**
 * One client socket. Frames are decoded here, once, into typed messages; a frame that
 * fails to decode closes this socket alone with the close code the protocol table
 * gives. Until the room is loaded, frames wait in arrival order.
 *
 * The y-websocket handshake: on join the server sends sync step 1 (its state vector),
 * current presence, and (extension only) a hello; the client's own sync step 1 gets a
 * sync step 2 with what it lacks. Updates from the client enter the room through
 * `Room.accept`, the single accepted-update point.
 */
export function openConnection(options: ConnectionOptions): void {
  const connection = new Connection(options)
  connections.set(options.socket, connection)
  options.socket.on('message', onSocketMessage)
  options.socket.on('close', onSocketClose)
  options.socket.on('error', onSocketError)
  connection.open()
}

// The socket listeners are shared functions that find their connection through the
// socket, and Connection is a class: no closures per connection (memory per idle
// connection is one of the figures users compare servers by).
const connections = new WeakMap<WebSocket, Connection>()

function onSocketMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  connections.get(this)?.receiveFrame(data, isBinary)
}

function onSocketClose(this: WebSocket): void {
  connections.get(this)?.leave()
}

function onSocketError(this: WebSocket, error: Error): void {
  connections.get(this)?.failed(error)
}

interface RawSocket {
  readonly writable: boolean
  write(bytes: Uint8Array): boolean
}

class Connection implements Peer, WatchedConsumer {
  readonly id: number
  private room: Room | null = null
  private closed = false
  private deniedSent = false
  acknowledging: boolean
  private queued: Uint8Array[] = []
  private lastSentAt = Date.now()
  private readonly rateLimit: ConnectionRateLimit
  private readonly unsent: UnsentBytesAccount
  private readonly slowConsumer: SlowConsumerWatch

  get author(): string | null {
    return this.options.author ?? null
  }

  constructor(private readonly options: ConnectionOptions) {
    this.id = options.id
    this.acknowledging = options.extension
    const limits = options.limits ?? DEFAULT_LIMITS
    this.rateLimit = createConnectionRateLimit(limits, options.maxMessageBytes)
    this.unsent = options.unsentBytes.open(this)
    this.slowConsumer = createSlowConsumerWatch(this, {
      softBytes: Math.min(limits.slowConsumerBytes, options.maxBufferedBytes),
      hardBytes: options.maxBufferedBytes,
      graceMs: limits.slowConsumerGraceMs,
      unsent: this.unsent
    })
  }

  /** What every log line about this connection carries: its id, its room, its client's address. */
  private logFields(more?: LogFields): LogFields {
    const { roomName, clientAddress } = this.options
    return { conn: this.id, room: roomName, addr: clientAddress, ...more }
  }

  open(): void {
    const { registry, roomName, log } = this.options
    registry.open(roomName).then(
      (room) => this.joined(room),
      (error: unknown) => {
        if (error instanceof QuireError && error.code === 'document-deleted') {
          this.close(CLOSE_DOCUMENT_DELETED, 'document deleted')
          return
        }
        log('error', `cannot load "${roomName}": ${error instanceof Error ? error.message : String(error)}`, this.logFields())
        this.close(CLOSE_INTERNAL_ERROR, 'the document could not be loaded from storage; try again later')
      }
    )
  }

  send(frame: Uint8Array): void {
    this.write(frame)
  }

  sendAll(frames: readonly Uint8Array[]): void {
    this.write(frames.length === 1 ? (frames[0] as Uint8Array) : frames)
  }

  /**
   * Writes WebSocket frames straight to the socket under `ws` (`_socket`, there since ws 1),
   * encoded once for every receiver (wire-frames.ts), several frames in one write. `ws`
   * writes to that socket synchronously too (pings, close), so the order on the wire is
   * the order of the calls; the socket's buffered bytes still count in `bufferedAmount`.
   */
  private write(messages: readonly Uint8Array[] | Uint8Array): void {
    const { socket } = this.options
    if (this.closed || socket.readyState !== socket.OPEN) return
    const raw = (socket as unknown as { _socket?: RawSocket })._socket
    const counters = this.options.counters
    if (raw?.writable) {
      const wire = wireFramesOf(messages)
      raw.write(wire)
      if (counters !== null) {
        counters.socketWrites++
        counters.bytesOut += wire.byteLength
        counters.deliveries += messages instanceof Uint8Array ? 1 : messages.length
      }
    } else if (messages instanceof Uint8Array) {
      socket.send(messages)
      if (counters !== null) countSends(counters, messages.byteLength, 1)
    } else {
      for (const message of messages) socket.send(message)
      if (counters !== null) for (const message of messages) countSends(counters, message.byteLength, 1)
    }
    this.sent()
  }

  disconnect(code: number, reason: string): void {
    this.close(code, reason)
  }

  acknowledge(updates: readonly InspectedUpdate[]): void {
    if (!this.acknowledging || this.closed) return
    this.send(encodeMessage({ type: 'quire-saved', ...createSavedAcknowledgement(updates) }))
  }

  bufferedAmount(): number {
    return this.options.socket.bufferedAmount
  }

  onSlow(reason: string): void {
    this.terminate(reason)
  }

  receiveFrame(data: RawData, isBinary: boolean): void {
    if (this.closed) return
    if (!isBinary) {
      this.close(CLOSE_UNSUPPORTED_DATA, 'text frames are not part of the protocol; send binary frames')
      return
    }
    const frame = toBytes(data)
    if (this.options.counters !== null) this.options.counters.bytesIn += frame.byteLength
    // Before decoding or queueing: a flood costs a counter, and the queue stays bounded.
    const refused = this.rateLimit.admitFrame(frame.byteLength)
    if (refused !== null) {
      this.close(CLOSE_POLICY_VIOLATION, refused)
      return
    }
    this.receive(frame)
  }

  failed(error: Error): void {
    // ws has already closed the socket (e.g. 1009 for an oversized frame); note why.
    this.options.log('warn', `connection ${this.id} to "${this.options.roomName}" from ${this.options.clientAddress}: ${error.message}`, this.logFields())
    this.leave()
  }

  leave(): void {
    if (this.closed) return
    this.closed = true
    this.options.log('debug', `connection ${this.id} to "${this.options.roomName}" closed`, this.logFields())
    this.queued = []
    this.slowConsumer.stop()
    this.unsent.close()
    connections.delete(this.options.socket)
    if (this.room) {
      this.room.leave(this)
      this.options.registry.releaseIfIdle(this.room)
    }
  }

  private sent(): void {
    this.lastSentAt = Date.now()
    this.slowConsumer.check()
  }

  private close(code: number, reason: string): void {
    if (this.closed) return
    this.options.log('warn', `closing connection ${this.id} to "${this.options.roomName}" from ${this.options.clientAddress}: ${code} ${reason}`, this.logFields({ code }))
    this.options.socket.close(code, truncateCloseReason(reason))
    this.leave()
  }

  /**
   * Drops the socket without a close handshake. A close frame would wait behind the very
   * bytes the peer is not reading, so the socket and its backlog would stay in memory
   * until the peer drained it or `ws`'s close timeout (30 s) fired; destroying the socket
   * frees them now. The peer sees its connection end (1006) and resyncs when it
   * reconnects, as after any network loss.
   */
  private terminate(reason: string): void {
    if (this.closed) return
    const { socket, log, roomName } = this.options
    log('warn', `terminating connection ${this.id} to "${roomName}" (${socket.bufferedAmount} bytes unsent): ${reason}`, this.logFields({ code: CLOSE_ABNORMAL, unsentBytes: socket.bufferedAmount }))
    countClose(this.options.counters, CLOSE_ABNORMAL)
    socket.terminate()
    this.leave()
  }

  private joined(room: Room): void {
    if (this.closed) {
      this.options.registry.releaseIfIdle(room)
      return
    }
    this.room = room
    room.join(this)
    this.options.log('debug', `connection ${this.id} joined "${room.name}"`, this.logFields({ access: this.options.access, extension: this.acknowledging }))
    // One socket write for all of them: after a restart thousands of clients join at once,
    // and a write each took 62,000 write calls instead of 48,000 in `pnpm bench --scenario storm`.
    const greeting = [encodeMessage({ type: 'sync-step-1', stateVector: room.stateVector() })]
    const presence = room.presence()
    if (presence.length > 0) greeting.push(encodeMessage({ type: 'awareness', update: encodeAwarenessUpdate(presence) }))
    if (this.acknowledging) greeting.push(encodeMessage({ type: 'quire-hello', version: QUIRE_EXTENSION_VERSION }))
    this.sendAll(greeting)
    const queued = this.queued
    this.queued = []
    for (const frame of queued) this.receive(frame)
  }

  private receive(frame: Uint8Array): void {
    if (this.closed) return
    if (!this.room) {
      this.queued.push(frame)
      return
    }
    const decoded = decodeMessage(frame, { maxBytes: this.options.maxMessageBytes })
    if (this.options.counters !== null && decoded.ok) this.options.counters.messagesReceived[decoded.message.type]++
    if (!decoded.ok) {
      this.close(closeCodeForDecodeError[decoded.error.kind], decoded.error.reason)
      return
    }
    this.handle(this.room, decoded.message, frame)
  }

  private handle(room: Room, message: DecodedMessage, frame: Uint8Array): void {
    switch (message.type) {
      case 'sync-step-1':
        this.send(encodeMessage({ type: 'sync-step-2', update: room.syncReply(message.stateVector) }))
        return
      case 'sync-step-2':
      case 'sync-update': {
        if (this.options.access === 'read') {
          if (!this.deniedSent) {
            this.send(encodeMessage({ type: 'auth-permission-denied', reason: 'read-only access: your updates are not stored or relayed' }))
          }
          this.deniedSent = true
          return
        }
        if (room.savingStalled) {
          // Unsaved updates would only pile up in memory; the client keeps them and resends on reconnect.
          this.close(CLOSE_TRY_AGAIN_LATER, 'try again later: this server cannot save right now; your edits stay on your device')
          return
        }
        // A connection always validates, so the update comes with what that learned.
        const meta = message.meta ?? updateMetaOf(message.update)
        room.accept(message.update, meta, this, message.type === 'sync-update' ? frame : undefined)
        return
      }
      case 'awareness': {
        const refused = this.rateLimit.admitAwareness()
        if (refused !== null) {
          this.close(CLOSE_POLICY_VIOLATION, refused)
          return
        }
        const decoded = decodeAwarenessUpdate(message.update)
        if (!decoded.ok) return
        room.applyAwareness(decoded.entries, frame, this)
        // y-websocket clients reconnect after 30 s without an incoming message. Awareness
        // renews every 15 s, so echoing it to a client we have been silent to keeps a
        // lone client connected, without doubling presence traffic in a busy room.
        if (Date.now() - this.lastSentAt > KEEPALIVE_ECHO_AFTER_MS) this.send(frame)
        return
      }
      case 'query-awareness': {
        const entries = room.presence()
        if (entries.length > 0) this.send(encodeMessage({ type: 'awareness', update: encodeAwarenessUpdate(entries) }))
        return
      }
      case 'quire-hello':
        // A client may opt in with a first message instead of the query parameter.
        if (!this.acknowledging) {
          this.acknowledging = true
          this.send(encodeMessage({ type: 'quire-hello', version: QUIRE_EXTENSION_VERSION }))
        }
        return
      case 'auth-permission-denied':
      case 'quire-saved':
      case 'quire-deleted':
        this.close(CLOSE_POLICY_VIOLATION, `unexpected ${message.type} message from a client`)
        return
    }
  }
}

/** What the metrics count for a socket that was dropped without a close frame (RFC 6455's "abnormal closure"). */
const CLOSE_ABNORMAL = 1006

/** Frames sent through `ws` (no raw socket): payload bytes, as `ws` adds its own headers. */
function countSends(counters: TrafficCounters, bytes: number, frames: number): void {
  counters.socketWrites += frames
  counters.bytesOut += bytes
  counters.deliveries += frames
}

/** Silence after which a client's own awareness is echoed back to it (see above). */
const KEEPALIVE_ECHO_AFTER_MS = 10_000

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data as Buffer[]))
  return new Uint8Array(0)
}
