import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Authenticate } from '../authenticate.js'
import { toQuireError } from '../quire-error.js'
import { apiError, type ApiError } from './api-error.js'
import type { ApiRequest } from './api-request.js'

/**
 * Who may do what over the document API. Credentials come as `Authorization: Bearer`:
 *
 * - an API key (`apiKeys`) opens everything, the listing of all documents included;
 * - otherwise the `authenticate` hook decides as it does for a WebSocket of the same room
 *   (a room token): `write` access may use every endpoint of that room, `read` access
 *   only the GETs. The listing needs an API key.
 * - A rendered page for people (`?format=html&page=1`) may carry its credential as
 *   `?token=`, since a browser following a link sends no header; the header wins.
 * - With no API key and no hook configured, the API is as open as the WebSocket is.
 *
 * Keys are compared in constant time: each is hashed once (SHA-256), and the hash of
 * what was sent is compared with every key's hash with `timingSafeEqual`, so neither the
 * time to a mismatch nor a key's length is observable.
 */
export interface ApiAccess {
  /** Null when `request` may do what `wanted` asks; otherwise the refusal (401 or 403). */
  check(request: IncomingMessage, wanted: ApiRequest): Promise<ApiError | null>
  /**
   * Whether `request` may use the operators' endpoints (webhook deliveries): it carries an
   * API key, or no access control is configured at all. A room token never does.
   */
  isOperator(request: IncomingMessage): boolean
}

export interface ApiAccessOptions {
  readonly apiKeys: readonly string[]
  readonly authenticate: Authenticate | undefined
}

const BEARER = /^Bearer\s+(.+)$/i

export function createApiAccess(options: ApiAccessOptions): ApiAccess {
  const keyHashes = options.apiKeys.map(hashOf)
  const { authenticate } = options
  const open = keyHashes.length === 0 && authenticate === undefined
  const isApiKey = (token: string): boolean => {
    const sent = hashOf(token)
    let match = false
    // Every key is compared, whichever matches.
    for (const key of keyHashes) match = timingSafeEqual(sent, key) || match
    return match
  }

  const bearerOf = (request: IncomingMessage): string | null => BEARER.exec(request.headers.authorization ?? '')?.[1]?.trim() ?? null

  return {
    isOperator(request) {
      if (open) return true
      const token = bearerOf(request)
      return token !== null && isApiKey(token)
    },
    async check(request, wanted) {
      if (open) return null
      const token = bearerOf(request) ?? (wanted.kind === 'render' ? (wanted.queryToken ?? null) : null)
      if (token !== null && isApiKey(token)) return null
      if (wanted.kind === 'list') {
        return token === null
          ? apiError('unauthorized', 'listing documents needs an API key: send Authorization: Bearer <key>', { 'www-authenticate': 'Bearer' })
          : apiError('forbidden', 'listing documents needs an API key; a room token opens only its own room')
      }
      if (authenticate === undefined) {
        return apiError('unauthorized', token === null ? 'an API key is required: send Authorization: Bearer <key>' : 'invalid API key', { 'www-authenticate': 'Bearer' })
      }
      try {
        const granted = await authenticate({ request, room: wanted.room, token })
        if (granted.access === 'write' || isReadOnly(wanted.kind)) return null
        return apiError('forbidden', `read-only access to ${JSON.stringify(wanted.room)}: ${describe(wanted.kind)} needs write access`)
      } catch (error) {
        const refused = toQuireError(error, 'unauthorized')
        return refused.code === 'forbidden'
          ? apiError('forbidden', refused.message || 'access denied')
          : apiError('unauthorized', refused.message || 'access denied', { 'www-authenticate': 'Bearer' })
      }
    }
  }
}

function hashOf(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/** The routes `read` access may use: the GETs. */
function isReadOnly(kind: ApiRequest['kind']): boolean {
  return kind === 'read' || kind === 'render' || kind === 'state-vector' || kind === 'versions' || kind === 'version'
}

function describe(kind: ApiRequest['kind']): string {
  switch (kind) {
    case 'name-version':
      return 'naming a version'
    case 'restore':
      return 'restoring a version'
    case 'write':
      return 'writing an update'
    case 'create':
      return 'creating the document'
    case 'delete':
      return 'deleting the document'
    default:
      return kind
  }
}
