import type { IncomingMessage, ServerResponse } from 'node:http'
import { toQuireError } from '../quire-error.js'
import type { IssueShareToken } from './create-share-token-issuer.js'

/** The HTTP path of the share endpoint. */
export const SHARE_PATH = '/api/share'

/**
 * `GET /api/share?room=<room>&access=read` with `Authorization: Bearer <write token>`:
 * answers `200 {"token": "..."}`, or a JSON `{"error": "..."}` with 400 (bad query),
 * 401 (no or bad token), 403 (token does not allow it) or 405 (not GET). Without an
 * issuer (no token auth configured) it answers 404: there is nothing to share.
 */
export async function handleShareRequest(
  issue: IssueShareToken | undefined,
  request: IncomingMessage,
  response: ServerResponse
): Promise<void> {
  const reply = (status: number, body: unknown): void => {
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
    response.end(JSON.stringify(body))
  }
  if (!issue) return reply(404, { error: 'share links need token authentication (quire serve --secret-env NAME)' })
  if (request.method !== 'GET') return reply(405, { error: 'use GET' })
  const query = new URLSearchParams((request.url ?? '').split('?')[1] ?? '')
  const room = query.get('room')
  const access = query.get('access') ?? 'read'
  if (room === null || room === '') return reply(400, { error: 'the room query parameter is required' })
  if (access !== 'read' && access !== 'write') return reply(400, { error: 'access must be "read" or "write"' })
  const header = request.headers.authorization
  const bearer = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : null
  try {
    reply(200, { token: await issue({ bearer, room, access }) })
  } catch (error) {
    const refused = toQuireError(error, 'unauthorized')
    reply(refused.code === 'forbidden' ? 403 : 401, { error: refused.message })
  }
}
