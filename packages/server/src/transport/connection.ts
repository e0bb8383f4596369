import type { WebSocket } from 'ws'
import {
  CLOSE_INTERNAL_ERROR,
  CLOSE_POLICY_VIOLATION,
  CLOSE_UNSUPPORTED_DATA,
  QUIRE_EXTENSION_VERSION,
  closeCodeForDecodeError,
  createSavedAcknowledgement,
  decodeAwarenessUpdate,
  decodeMessage,
  encodeAwarenessUpdate,
  encodeMessage,
  isEmptyUpdate,
  truncateCloseReason,
  type Message
} from '@quire/protocol'
import type { Access } from '../authenticate.js'
import { createConnectionRateLimit } from '../limits/connection-rate-limit.js'
import { DEFAULT_LIMITS, type Limits } from '../limits/limits.js'
import { createSlowConsumerWatch } from '../limits/slow-consumer-watch.js'
import { createUpdateGuard, type UpdateGuard } from '../limits/update-guard.js'
import type { Log } from '../log.js'
import type { Peer } from '../room/peer.js'
import type { RoomRegistry } from '../room/room-registry.js'
import type { Room } from '../room/room.js'


export interface ConnectionOptions {
  readonly socket: WebSocket
  readonly roomName: string
  readonly access: Access
  readonly user: string | null
  /** The client asked for the Quire extension (hello + saved acknowledgements). */
  readonly extension: boolean
  readonly maxMessageBytes: number
  /** Close a peer at once when its unsent bytes go above this (the hard bound for a slow consumer). */
  readonly maxBufferedBytes: number
  /** Rate limits and the slow-consumer soft bound; defaults when omitted. */
  readonly limits?: Limits
  /** Shared by the server's connections: admits only the part of an update a room lacks. */
  readonly updateGuard?: UpdateGuard
  readonly registry: RoomRegistry
  readonly log: Log
  readonly id: number
}

/**
 * One client socket. Frames are decoded here, once, into typed messages; a frame that
 * fails to decode closes this socket alone with the close code the protocol table
 * gives. Until the room is loaded, frames wait in arrival order.
 *
 * The y-websocket handshake: on join the server sends sync step 1 (its state vector),
 * current presence, and (extension only) a hello; the client's own sync step 1 gets a
 * sync step 2 with what it lacks. Updates from the client enter the room through
 * `Room.acceptUpdate`, the single accepted-update point.
 */
export function openConnection(options: ConnectionOptions): void {
  const { socket, log } = options
  let room: Room | null = null
  let closed = false
  let deniedSent = false
  let acknowledge = options.extension
  const queued: Uint8Array[] = []
  const limits = options.limits ?? DEFAULT_LIMITS
  const updateGuard = options.updateGuard ?? createUpdateGuard()
  const rateLimit = createConnectionRateLimit(limits, options.maxMessageBytes)
  const slowConsumer = createSlowConsumerWatch({
    bufferedAmount: () => socket.bufferedAmount,
    softBytes: Math.min(limits.slowConsumerBytes, options.maxBufferedBytes),
    hardBytes: options.maxBufferedBytes,
    graceMs: limits.slowConsumerGraceMs,
    onSlow: (reason) => close(CLOSE_POLICY_VIOLATION, reason)
  })

  let lastSentAt = Date.now()
  const send = (frame: Uint8Array): void => {
    if (closed || socket.readyState !== socket.OPEN) return
    socket.send(frame)
    lastSentAt = Date.now()
    slowConsumer.check()
  }

  // ws has no cork of its own; its underlying net.Socket (`_socket`, there since ws 1)
  // does. Corked, several frames leave in one writev instead of a syscall each.
  const rawSocket = (socket as unknown as { _socket?: { cork?: () => void; uncork?: () => void } })._socket
  const sendAll = (frames: readonly Uint8Array[]): void => {
    if (frames.length === 1) {
      send(frames[0] as Uint8Array)
      return
    }
    if (closed || socket.readyState !== socket.OPEN) return
    rawSocket?.cork?.()
    for (const frame of frames) socket.send(frame)
    rawSocket?.uncork?.()
    lastSentAt = Date.now()
    slowConsumer.check()
  }

  const peer: Peer = {
    id: options.id,
    send,
    sendAll,
    acknowledge(updates) {
      if (!acknowledge || closed) return
      send(encodeMessage({ type: 'quire-saved', ...createSavedAcknowledgement(updates) }))
    }
  }

  const close = (code: number, reason: string): void => {
    if (closed) return
    log('warn', `closing connection ${options.id} to "${options.roomName}": ${code} ${reason}`)
    socket.close(code, truncateCloseReason(reason))
    leave()
  }

  const leave = (): void => {
    if (closed) return
    closed = true
    queued.length = 0
    slowConsumer.stop()
    if (room) {
      room.leave(peer)
      options.registry.releaseIfIdle(room)
    }
  }

  const handle = (r: Room, message: Message, frame: Uint8Array): void => {
    switch (message.type) {
      case 'sync-step-1':
        send(encodeMessage({ type: 'sync-step-2', update: r.state.diff(message.stateVector) }))
        return
      case 'sync-step-2':
      case 'sync-update': {
        if (options.access === 'read') {
          if (!deniedSent) send(encodeMessage({ type: 'auth-permission-denied', reason: 'read-only access: your updates are not stored or relayed' }))
          deniedSent = true
          return
        }
        if (isEmptyUpdate(message.update)) return
        // Only what the room lacks goes in: known clocks re-sent with other content break clients.
        const fresh = updateGuard.admit(r, message.update)
        if (fresh === message.update) {
          // A view of the socket's receive buffer: the room copies what it keeps.
          r.acceptUpdate(fresh, { kind: 'peer', peer }, message.type === 'sync-update' ? frame : undefined)
          return
        }
        if (fresh !== null) r.acceptUpdate(fresh, { kind: 'peer', peer })
        // The writer still learns that everything it sent is safe (a resend after a lost ack).
        r.acknowledgeWhenDurable(message.update, peer)
        return
      }
      case 'awareness': {
        const refused = rateLimit.admitAwareness()
        if (refused !== null) {
          close(CLOSE_POLICY_VIOLATION, refused)
          return
        }
        const decoded = decodeAwarenessUpdate(message.update)
        if (!decoded.ok) return
        r.applyAwareness(decoded.entries, frame, peer)
        // y-websocket clients reconnect after 30 s without an incoming message. Awareness
        // renews every 15 s, so echoing it to a client we have been silent to keeps a
        // lone client connected, without doubling presence traffic in a busy room.
        if (Date.now() - lastSentAt > KEEPALIVE_ECHO_AFTER_MS) send(frame)
        return
      }
      case 'query-awareness': {
        const entries = r.awareness.entries()
        if (entries.length > 0) send(encodeMessage({ type: 'awareness', update: encodeAwarenessUpdate(entries) }))
        return
      }
      case 'quire-hello':
        // A client may opt in with a first message instead of the query parameter.
        if (!acknowledge) {
          acknowledge = true
          send(encodeMessage({ type: 'quire-hello', version: QUIRE_EXTENSION_VERSION }))
        }
        return
      case 'auth-permission-denied':
      case 'quire-saved':
        close(CLOSE_POLICY_VIOLATION, `unexpected ${message.type} message from a client`)
        return
    }
  }

  const receive = (frame: Uint8Array): void => {
    if (closed) return
    if (!room) {
      queued.push(frame)
      return
    }
    const decoded = decodeMessage(frame, { maxBytes: options.maxMessageBytes })
    if (!decoded.ok) {
      close(closeCodeForDecodeError[decoded.error.kind], decoded.error.reason)
      return
    }
    handle(room, decoded.message, frame)
  }

  socket.on('message', (data, isBinary) => {
    if (closed) return
    if (!isBinary) {
      close(CLOSE_UNSUPPORTED_DATA, 'text frames are not part of the protocol; send binary frames')
      return
    }
    const frame = toBytes(data)
    // Before decoding or queueing: a flood costs a counter, and the queue stays bounded.
    const refused = rateLimit.admitFrame(frame.byteLength)
    if (refused !== null) {
      close(CLOSE_POLICY_VIOLATION, refused)
      return
    }
    receive(frame)
  })
  socket.on('close', leave)
  socket.on('error', (error) => {
    // ws has already closed the socket (e.g. 1009 for an oversized frame); note why.
    log('warn', `connection ${options.id} to "${options.roomName}": ${error.message}`)
    leave()
  })

  options.registry.open(options.roomName).then(
    (r) => {
      if (closed) {
        options.registry.releaseIfIdle(r)
        return
      }
      room = r
      r.join(peer)
      send(encodeMessage({ type: 'sync-step-1', stateVector: r.state.stateVector() }))
      const presence = r.awareness.entries()
      if (presence.length > 0) send(encodeMessage({ type: 'awareness', update: encodeAwarenessUpdate(presence) }))
      if (acknowledge) send(encodeMessage({ type: 'quire-hello', version: QUIRE_EXTENSION_VERSION }))
      for (const frame of queued.splice(0)) receive(frame)
    },
    (error: unknown) => {
      log('error', `cannot load "${options.roomName}": ${error instanceof Error ? error.message : String(error)}`)
      close(CLOSE_INTERNAL_ERROR, 'the document could not be loaded from storage; try again later')
    }
  )
}

/** Silence after which a client's own awareness is echoed back to it (see above). */
const KEEPALIVE_ECHO_AFTER_MS = 10_000

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data as Buffer[]))
  return new Uint8Array(0)
}
