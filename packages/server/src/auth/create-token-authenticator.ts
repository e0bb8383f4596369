import type { Authenticate } from '../authenticate.js'
import { QuireError } from '../quire-error.js'
import { describeScope, readSecret, scopeAllows } from './room-token.js'
import { verifyRoomToken } from './verify-room-token.js'

export interface TokenAuthenticatorOptions {
  /** The HMAC secret tokens are signed with (at least 32 bytes). */
  readonly secret: string | Uint8Array
}

/**
 * An `authenticate` hook for signed room tokens (see room-token.ts). No token or a bad
 * one (tampered, expired, malformed) is refused as unauthorized (close 4401); a valid
 * token for other rooms is refused as forbidden (close 4403). A connection lasts as long
 * as its token: at `exp` it is closed with 4401 "token expired".
 */
export function createTokenAuthenticator(options: TokenAuthenticatorOptions): Authenticate {
  const secret = readSecret(options.secret)
  return async ({ room, token }) => {
    if (token === null || token === '') {
      throw new QuireError('unauthorized', 'a token is required: add ?token=<token> to the URL or an Authorization: Bearer header')
    }
    const { grant, expiresAt } = await verifyRoomToken(token, secret)
    if (!scopeAllows(grant, room)) {
      throw new QuireError('forbidden', `token grants ${describeScope(grant)}, not this one`)
    }
    // The connection ends with the token (4401 "token expired"); the client reconnects with a fresh one.
    return { user: grant.user, access: grant.access, expiresAt: expiresAt * 1000 }
  }
}
