import type { IncomingMessage } from 'node:http'

export type Access = 'read' | 'write'

export interface AuthenticateContext {
  /** The HTTP upgrade request (headers, remote address). */
  readonly request: IncomingMessage
  readonly room: string
  /** From the `token` query parameter (y-websocket `params`) or an `Authorization: Bearer` header. */
  readonly token: string | null
}

export interface AuthResult {
  readonly user: string
  readonly access: Access
  /**
   * When this access ends, in ms since the epoch (a token's expiry): the connection is
   * then closed with 4401 "token expired", and a client that can get a fresh token
   * reconnects with it. Absent: until the connection closes.
   */
  readonly expiresAt?: number
  /**
   * Asked again every `accessCheckMs` (server option, default 60 s) while the connection
   * is open: false, or a rejection, closes it with 4403. For access that can be withdrawn
   * before a token expires (a suspended account, a removed member). `QuireServer.revoke`
   * does the same at once, from the embedder's side.
   */
  readonly checkAccess?: () => boolean | Promise<boolean>
}

/**
 * Decides who may open a room and how. Resolve to grant access; reject (ideally with a
 * QuireError of code 'unauthorized' or 'forbidden') to refuse: the socket is closed with
 * 4401 or 4403 and the reason, before any document data is sent.
 */
export type Authenticate = (context: AuthenticateContext) => Promise<AuthResult> | AuthResult
