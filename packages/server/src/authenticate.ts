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
}

/**
 * Decides who may open a room and how. Resolve to grant access; reject (ideally with a
 * QuireError of code 'unauthorized' or 'forbidden') to refuse: the socket is closed with
 * 4401 or 4403 and the reason, before any document data is sent.
 */
export type Authenticate = (context: AuthenticateContext) => Promise<AuthResult> | AuthResult
