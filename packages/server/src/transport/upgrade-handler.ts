import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { CLOSE_SERVICE_RESTART } from '@quire/protocol'
import type { AccessWatch } from '../auth/access-watch.js'
import type { Limits } from '../limits/limits.js'
import type { UnsentBytesBudget } from '../limits/unsent-bytes-budget.js'
import type { Log } from '../log.js'
import type { TrafficCounters } from '../metrics/traffic-counters.js'
import { openConnection } from './connection.js'
import { addFramingCloseReasons } from './framing-close-reason.js'
import { readRoomRequest } from './room-request.js'
import type { UpgradeAdmission, UpgradeDecision, UpgradeGrant } from './upgrade-admission.js'

export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void

export interface UpgradeHandlerOptions {
  readonly admission: UpgradeAdmission
  /** Every open socket of the server: added here, removed when it closes. */
  readonly sockets: Set<WebSocket>
  /** True once the server is shutting down: new upgrades are refused with 503. */
  readonly isClosing: () => boolean
  readonly maxMessageBytes: number
  readonly maxBufferedBytes: number
  readonly limits: Limits
  /** Shared by every connection of the server. */
  readonly unsentBytes: UnsentBytesBudget
  /** Ends connections whose access ends (token expiry, revocation). */
  readonly accessWatch: AccessWatch
  readonly log: Log
  /** Where connections count their traffic, and the server its closes; null without metrics. */
  readonly counters: TrafficCounters | null
}

/**
 * Turns an HTTP upgrade into an open connection, or into the refusal the admission
 * decided on (see upgrade-admission.ts for why most refusals are close codes).
 */
export function createUpgradeHandler(options: UpgradeHandlerOptions): UpgradeHandler {
  const { admission, sockets, isClosing, maxMessageBytes, maxBufferedBytes, limits, unsentBytes, accessWatch, log, counters } = options
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, perMessageDeflate: false })
  let nextConnectionId = 1

  return (request, socket, head) => {
    socket.on('error', destroySocket)
    if (isClosing()) {
      rejectOverHttp(socket, 503, 'Service Unavailable')
      return
    }
    const wanted = readRoomRequest(request)
    // Numbered from the upgrade on, so that a refusal's log line names it too.
    const id = nextConnectionId++
    const accept = (then: (ws: WebSocket) => void): void => {
      wss.handleUpgrade(request, socket, head, (ws) => {
        if (isClosing()) {
          ws.close(CLOSE_SERVICE_RESTART, 'server restarting: reconnect')
          return
        }
        addFramingCloseReasons(ws, maxMessageBytes, counters)
        trackSocket(sockets, ws)
        then(ws)
      })
    }
    // admit() does not reject: a failure here is a broken invariant. It is logged and
    // costs this one upgrade, not the process and every other room.
    admission.admit(request, socket, wanted).then((decision: UpgradeDecision) => {
      switch (decision.kind) {
        case 'http':
          log('info', `refused connection ${id} to ${JSON.stringify(wanted.room)}: HTTP ${decision.status} ${decision.reason}`, { conn: id, room: wanted.room, status: decision.status })
          rejectOverHttp(socket, decision.status, decision.reason)
          return
        case 'close':
          log('info', `refused connection ${id} to ${JSON.stringify(wanted.room)}: ${decision.code} ${decision.reason}`, { conn: id, room: wanted.room, code: decision.code })
          accept((ws) => ws.close(decision.code, decision.reason))
          return
        case 'grant':
          accept((ws) => {
            openConnection({
              socket: ws,
              roomName: wanted.room,
              access: decision.access,
              user: decision.user,
              author: decision.authenticated ? decision.user : null,
              clientAddress: decision.clientAddress,
              extension: wanted.extension,
              maxMessageBytes,
              maxBufferedBytes,
              limits,
              unsentBytes,
              registry: decision.registry,
              log,
              id,
              counters
            })
            watchAccess(accessWatch, ws, wanted.room, decision)
          })
      }
    }).catch((error: unknown) => {
      log('error', `upgrade of ${JSON.stringify(wanted.room)} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, { conn: id, room: wanted.room })
      socket.destroy()
    })
  }
}

function rejectOverHttp(socket: Duplex, status: number, message: string): void {
  socket.end(`HTTP/1.1 ${status} ${message}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${message}\n`)
}

/*
 * Listeners that live as long as a connection are registered here, at module level, not
 * inside the handler: a closure keeps its whole enclosing scope alive, and that scope
 * holds the upgrade request and its head buffer, a few KiB per idle connection.
 */
function destroySocket(this: Duplex): void {
  this.destroy()
}

function watchAccess(accessWatch: AccessWatch, ws: WebSocket, room: string, grant: UpgradeGrant): void {
  const { user, access, expiresAt, checkAccess } = grant
  const unwatch = accessWatch.watch({
    room,
    user,
    access,
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    ...(checkAccess !== undefined ? { checkAccess } : {}),
    close: (code, reason) => ws.close(code, reason)
  })
  ws.once('close', unwatch)
}

function trackSocket(sockets: Set<WebSocket>, ws: WebSocket): void {
  sockets.add(ws)
  ws.on('close', () => sockets.delete(ws))
}
