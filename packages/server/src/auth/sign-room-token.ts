import { SignJWT } from 'jose'
import { QuireError } from '../quire-error.js'
import { readSecret, type RoomGrant } from './room-token.js'

export interface SignRoomTokenOptions {
  readonly secret: string | Uint8Array
  /** Lifetime in seconds from now. */
  readonly ttlSeconds?: number
  /** Absolute expiry in seconds since the epoch (wins over `ttlSeconds`). */
  readonly expiresAt?: number
  /** Seconds clock; injected by tests. */
  readonly now?: () => number
}

/** Mints a room token (JWT, HS256) carrying `grant`; see room-token.ts for the claims. */
export async function signRoomToken(grant: RoomGrant, options: SignRoomTokenOptions): Promise<string> {
  const key = readSecret(options.secret)
  const now = options.now?.() ?? Math.floor(Date.now() / 1000)
  const exp = options.expiresAt ?? (options.ttlSeconds === undefined ? undefined : now + options.ttlSeconds)
  if (exp === undefined || !Number.isSafeInteger(exp) || exp <= now) {
    throw new QuireError('invalid-options', 'a room token needs an expiry in the future (ttlSeconds > 0 or expiresAt)')
  }
  if (grant.access !== 'read' && grant.access !== 'write') {
    throw new QuireError('invalid-options', `access must be "read" or "write", got "${String(grant.access)}"`)
  }
  const scope = 'room' in grant ? { room: grant.room } : { roomPrefix: grant.roomPrefix }
  return new SignJWT({ ...scope, access: grant.access })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(grant.user)
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(key)
}
