import type { Access } from '../authenticate.js'
import { QuireError } from '../quire-error.js'

/**
 * What a signed room token grants, as the JWT (HS256) claims it travels in:
 *
 *   sub         the user name (shown to no one by the server; for the embedder's logs)
 *   room        one exact room name          } exactly one of the two
 *   roomPrefix  every room starting with it  }
 *   access      "read" or "write"
 *   exp         expiry, seconds since the epoch (required: there are no eternal tokens)
 *
 * A token is a bearer credential: whoever holds it has its access until `exp`.
 */
export type RoomScope = { readonly room: string } | { readonly roomPrefix: string }

export type RoomGrant = RoomScope & {
  readonly user: string
  readonly access: Access
}

export interface RoomTokenClaims extends Readonly<Record<string, unknown>> {
  readonly sub: string
  readonly access: Access
  readonly exp: number
  readonly room?: string
  readonly roomPrefix?: string
}

/** HMAC secrets shorter than this are refused: HS256 wants a key of at least its hash size. */
export const MIN_SECRET_BYTES = 32

/** Turns a secret into HMAC key bytes, refusing short ones. */
export function readSecret(secret: string | Uint8Array): Uint8Array {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret
  if (bytes.byteLength < MIN_SECRET_BYTES) {
    throw new QuireError(
      'invalid-options',
      `the token secret must be at least ${MIN_SECRET_BYTES} bytes long (got ${bytes.byteLength}); generate one with: openssl rand -base64 48`
    )
  }
  return bytes
}

/** Does `scope` cover `room`? A prefix covers every room name that starts with it. */
export function scopeAllows(scope: RoomScope, room: string): boolean {
  return 'room' in scope ? scope.room === room : room.startsWith(scope.roomPrefix)
}

export function describeScope(scope: RoomScope): string {
  return 'room' in scope ? `room "${scope.room}"` : `rooms starting with "${scope.roomPrefix}"`
}
