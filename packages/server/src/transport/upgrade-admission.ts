import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import {
  CLOSE_FORBIDDEN,
  CLOSE_POLICY_VIOLATION,
  CLOSE_TRY_AGAIN_LATER,
  CLOSE_UNAUTHORIZED,
  truncateCloseReason
} from '@quire/protocol'
import { createOriginAllowList } from '../auth/origin-allow-list.js'
import type { Access, Authenticate, AuthResult } from '../authenticate.js'
import { createConnectionCounter } from '../limits/connection-counter.js'
import type { Limits } from '../limits/limits.js'
import { createNewConnectionRate } from '../limits/new-connection-rate.js'
import type { Log } from '../log.js'
import { toQuireError } from '../quire-error.js'
import type { RoomRegistry } from '../room/room-registry.js'
import { resolveClientAddress } from './client-address.js'
import type { RoomRequest } from './room-request.js'
import type { TrustedProxies } from './trusted-proxies.js'

/**
 * Whether a WebSocket upgrade may open its room: the origin allow-list, the room name's
 * length, the process's and the address's connection caps, the address's rate of new
 * connections, the authenticate hook, and
 * the cap on open rooms, in that order (the cheap checks first, so a stranger costs
 * nothing past them). "The address" is the client's: the socket's peer, or the client a
 * trusted proxy forwarded for (client-address.ts).
 *
 * A refusal is mostly a close code and reason sent once the socket has opened, not an
 * HTTP status: a browser's WebSocket sees nothing of a refused upgrade but a failure,
 * while a close reason tells the client (and its user) what to change. Only when the
 * server itself cannot serve (its storage did not open) is the upgrade answered 503.
 */
export type UpgradeDecision = UpgradeGrant | UpgradeRefusal

export interface UpgradeGrant {
  readonly kind: 'grant'
  readonly user: string
  /** `user` came from `authenticate` (a token subject), not the stand-in of an open server. */
  readonly authenticated: boolean
  readonly access: Access
  /** When the access ends and how to check it meanwhile, as `authenticate` said (see access-watch.ts). */
  readonly expiresAt: number | undefined
  readonly checkAccess: AuthResult['checkAccess']
  /** The address the connection is counted and logged by. */
  readonly clientAddress: string
  /** The registry the room cap was checked against, open by now. */
  readonly registry: RoomRegistry
}

export type UpgradeRefusal =
  | { readonly kind: 'close'; readonly code: number; readonly reason: string }
  | { readonly kind: 'http'; readonly status: number; readonly reason: string }

export interface UpgradeAdmission {
  /**
   * Decides on one upgrade. The checks that need only the request run before this
   * returns, so concurrent upgrades see each other in the connection counts; an admitted
   * socket counts against its address until it closes (even while auth is pending).
   */
  admit(request: IncomingMessage, socket: Duplex, wanted: RoomRequest): Promise<UpgradeDecision>
}

export interface UpgradeAdmissionOptions {
  readonly limits: Limits
  readonly maxRoomNameBytes: number
  /** Undefined allows every origin. */
  readonly allowedOrigins: readonly string[] | undefined
  /** Undefined lets everyone write every room. */
  readonly authenticate: Authenticate | undefined
  /** Proxies whose forwarding headers name the client; none by default. */
  readonly trustedProxies: TrustedProxies
  /** Resolves once storage is open, rejects when it cannot open. */
  readonly rooms: Promise<{ readonly registry: RoomRegistry }>
  readonly log: Log
}

const ANONYMOUS_WRITER: AuthResult = { user: 'anonymous', access: 'write' }

export function createUpgradeAdmission(options: UpgradeAdmissionOptions): UpgradeAdmission {
  const { limits, maxRoomNameBytes, authenticate, trustedProxies, rooms, log } = options
  const originAllowList = createOriginAllowList(options.allowedOrigins)
  // Counts sockets from upgrade to close, so pending upgrades (awaiting auth) count too.
  const connectionsPerIp = createConnectionCounter(limits.maxConnectionsPerIp)
  const newConnectionsPerIp = createNewConnectionRate({ ratePerSecond: limits.maxNewConnectionsPerSecondPerIp, burst: limits.newConnectionBurstPerIp })

  return {
    admit(request, socket, wanted) {
      const refusedOrigin = originAllowList.check(request.headers.origin)
      if (refusedOrigin !== null) return refuse(CLOSE_FORBIDDEN, truncateCloseReason(refusedOrigin))
      if (Buffer.byteLength(wanted.room) > maxRoomNameBytes) {
        return refuse(CLOSE_POLICY_VIOLATION, `room name longer than ${maxRoomNameBytes} bytes`)
      }
      if (connectionsPerIp.total >= limits.maxConnections) {
        return refuse(CLOSE_TRY_AGAIN_LATER, `try again later: this server has ${limits.maxConnections} connections open`)
      }
      const clientAddress = resolveClientAddress(request, trustedProxies)
      if (!connectionsPerIp.tryAcquire(clientAddress)) {
        return refuse(CLOSE_POLICY_VIOLATION, `too many connections from your address (limit ${limits.maxConnectionsPerIp})`)
      }
      // After the open cap, so that tabs refused by it do not spend the address's tokens too.
      if (!newConnectionsPerIp.tryTake(clientAddress)) {
        connectionsPerIp.release(clientAddress)
        return refuse(CLOSE_TRY_AGAIN_LATER, `try again later: more than ${limits.maxNewConnectionsPerSecondPerIp} new connections per second from your address`)
      }
      releaseOnClose(socket, connectionsPerIp, clientAddress)
      const authorized: Promise<AuthResult> = authenticate
        ? Promise.resolve().then(() => authenticate({ request, room: wanted.room, token: wanted.token }))
        : Promise.resolve(ANONYMOUS_WRITER)
      return Promise.all([rooms, authorized]).then(
        ([{ registry }, auth]): UpgradeDecision => {
          if (registry.get(wanted.room) === undefined && registry.size >= limits.maxRooms) {
            return { kind: 'close', code: CLOSE_TRY_AGAIN_LATER, reason: `try again later: this server has ${limits.maxRooms} rooms open` }
          }
          return {
            kind: 'grant',
            user: auth.user,
            authenticated: authenticate !== undefined,
            access: auth.access,
            expiresAt: auth.expiresAt,
            checkAccess: auth.checkAccess,
            clientAddress,
            registry
          }
        },
        // A server whose storage did not open answers 503 whatever the token: it can serve no one.
        (error: unknown) =>
          rooms.then(
            (): UpgradeDecision => {
              const refused = toQuireError(error, 'unauthorized')
              const code = refused.code === 'forbidden' ? CLOSE_FORBIDDEN : CLOSE_UNAUTHORIZED
              return { kind: 'close', code, reason: truncateCloseReason(refused.message || 'access denied') }
            },
            (storageError: unknown): UpgradeDecision => {
              log('error', `storage unavailable: ${storageError instanceof Error ? storageError.message : String(storageError)}`, { room: wanted.room, addr: clientAddress })
              return { kind: 'http', status: 503, reason: 'Service Unavailable' }
            }
          )
      )
    }
  }
}

function refuse(code: number, reason: string): Promise<UpgradeDecision> {
  return Promise.resolve({ kind: 'close', code, reason })
}

/*
 * A listener that lives as long as a connection is made here, not inside `admit`: a
 * closure keeps its whole enclosing scope alive, and that scope holds the upgrade
 * request, a few KiB per idle connection.
 */
function releaseOnClose(socket: Duplex, counter: { release(ip: string): void }, ip: string): void {
  socket.once('close', () => counter.release(ip))
}
