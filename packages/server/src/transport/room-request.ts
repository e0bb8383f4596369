import type { IncomingMessage } from 'node:http'
import { QUIRE_EXTENSION_PARAM } from '@quire/protocol'

/**
 * What a WebSocket upgrade request asks for: the room, the token (query `token` or an
 * `Authorization: Bearer` header) and whether the client speaks the Quire extension.
 *
 * The room is the `room` query parameter when present, else the URL path after the
 * first slash, percent-decoded, as y-websocket builds it. The raw path is used, not a
 * URL parser's, so `//` stays part of the name; but clients' URL parsers turn a path
 * of "." or ".." (even percent-encoded) into a directory step before it is sent, so
 * those names can only arrive in the query parameter.
 */
export interface RoomRequest {
  readonly room: string
  readonly token: string | null
  readonly extension: boolean
}

export function readRoomRequest(request: IncomingMessage): RoomRequest {
  const raw = request.url ?? '/'
  const queryStart = raw.indexOf('?')
  const path = queryStart < 0 ? raw : raw.slice(0, queryStart)
  const query = new URLSearchParams(queryStart < 0 ? '' : raw.slice(queryStart + 1))
  const encoded = path.startsWith('/') ? path.slice(1) : path
  const room = query.get('room') ?? decodeRoomName(encoded)
  const header = request.headers.authorization
  const bearer = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : null
  const flag = query.get(QUIRE_EXTENSION_PARAM)
  return {
    room,
    token: query.get('token') ?? bearer,
    extension: flag !== null && flag !== '0' && flag !== 'false'
  }
}

/**
 * A room name from its percent-encoded path segment (`a%2Fb` is the room `a/b`), as the
 * WebSocket and the document API read it. Stock y-websocket clients put the room name
 * in the path unencoded; one that does not decode is kept as sent.
 */
export function decodeRoomName(encoded: string): string {
  try {
    return decodeURIComponent(encoded)
  } catch {
    return encoded
  }
}
