import type { Access } from '../authenticate.js'
import { QuireError } from '../quire-error.js'
import { describeScope, readSecret, scopeAllows } from './room-token.js'
import { signRoomToken } from './sign-room-token.js'
import { verifyRoomToken } from './verify-room-token.js'

export interface ShareRequest {
  /** The token proving the caller's own access (from `Authorization: Bearer`). */
  readonly bearer: string | null
  readonly room: string
  readonly access: Access
}

/**
 * Mints a token for someone else from the caller's own token: behind `GET /api/share`.
 * Resolves to the new token, or rejects with a QuireError ('unauthorized' for a missing
 * or bad token, 'forbidden' when it does not allow what is asked).
 */
export type IssueShareToken = (request: ShareRequest) => Promise<string>

export interface ShareTokenIssuerOptions {
  readonly secret: string | Uint8Array
}

/**
 * Share links for signed room tokens. Only a write token may share, only read access is
 * handed out, and only for one exact room the write token covers (a prefix token shares
 * single rooms, never its whole prefix). The new token expires when the caller's does,
 * so sharing never extends anyone's access.
 */
export function createShareTokenIssuer(options: ShareTokenIssuerOptions): IssueShareToken {
  const secret = readSecret(options.secret)
  return async ({ bearer, room, access }) => {
    if (bearer === null || bearer === '') throw new QuireError('unauthorized', 'send your own token as Authorization: Bearer <token>')
    const { grant, expiresAt } = await verifyRoomToken(bearer, secret)
    if (access !== 'read') throw new QuireError('forbidden', 'only read-only share links can be created')
    if (grant.access !== 'write') throw new QuireError('forbidden', 'only a token with write access can create share links')
    if (!scopeAllows(grant, room)) throw new QuireError('forbidden', `token grants ${describeScope(grant)}, not "${room}"`)
    return signRoomToken({ room, user: grant.user, access: 'read' }, { secret, expiresAt })
  }
}
