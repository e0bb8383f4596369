import type { RenderFormat } from '../render/render-thread.js'
import { decodeRoomName } from '../transport/room-request.js'
import { apiError, type ApiError } from './api-error.js'

/**
 * A document API request, decoded once at the edge from its method and URL into what it
 * asks for (the body of a write is read later, against its size limit). Past here
 * nobody parses a path or a query string. Room names are percent-encoded path segments,
 * decoded as the WebSocket decodes its path (`a%2Fb` is the room `a/b`), and held to the
 * same length limit.
 */
export type ApiRequest =
  | { readonly kind: 'list'; readonly prefix: string; readonly limit: number; readonly after: string | undefined }
  | { readonly kind: 'read'; readonly room: string; readonly format: 'update' | 'json' }
  | {
      readonly kind: 'render'
      readonly room: string
      readonly format: RenderFormat
      /** The top-level field to render; undefined: `default` (Tiptap's). */
      readonly field: string | undefined
      /** A whole HTML page for people (`&page=1`), not a fragment. */
      readonly page: boolean
      /** `?token=` of a page: a browser cannot send a header when it follows a link. */
      readonly queryToken: string | undefined
    }
  | { readonly kind: 'state-vector'; readonly room: string }
  | { readonly kind: 'write'; readonly room: string }
  | { readonly kind: 'create'; readonly room: string }
  | { readonly kind: 'delete'; readonly room: string }
  | { readonly kind: 'versions'; readonly room: string }
  | { readonly kind: 'name-version'; readonly room: string }
  | { readonly kind: 'version'; readonly room: string; readonly id: number; readonly format: VersionFormat; readonly field: string | undefined }
  | { readonly kind: 'restore'; readonly room: string; readonly id: number }

/** How a version is shown: its content as one Yjs update, or rendered. */
export type VersionFormat = 'update' | 'html' | 'markdown' | 'text'
const VERSION_FORMATS: readonly VersionFormat[] = ['update', 'html', 'markdown', 'text']

export type ApiRequestKind = ApiRequest['kind']

export type ApiRequestDecoding = { readonly ok: true; readonly request: ApiRequest } | { readonly ok: false; readonly error: ApiError }

/** Every route of the API starts with this. */
export const API_PATH_PREFIX = '/api/v1/'
const DOCUMENTS = '/api/v1/documents'

/** The listing's page size when none is asked for, and the most it gives at once. */
export const DEFAULT_LIST_LIMIT = 100
export const MAX_LIST_LIMIT = 1000

export function isApiPath(url: string): boolean {
  return url.startsWith(API_PATH_PREFIX)
}

export function decodeApiRequest(method: string, url: string, maxRoomNameBytes: number): ApiRequestDecoding {
  const queryStart = url.indexOf('?')
  const path = queryStart < 0 ? url : url.slice(0, queryStart)
  const query = new URLSearchParams(queryStart < 0 ? '' : url.slice(queryStart + 1))
  if (path === DOCUMENTS || path === `${DOCUMENTS}/`) {
    if (!isRead(method)) return notAllowed('GET')
    return decodeListing(query)
  }
  if (!path.startsWith(`${DOCUMENTS}/`)) return fail(apiError('not-found', `no such route: ${path} (the API serves ${DOCUMENTS})`))
  // The raw path, split before decoding: a room's own slashes arrive as %2F.
  const [segment = '', sub, ...rest] = path.slice(DOCUMENTS.length + 1).split('/')
  if (sub === 'versions') return decodeVersionsRoute(method, path, segment, rest, query, maxRoomNameBytes)
  if (rest.length > 0 || (sub !== undefined && sub !== 'state-vector' && sub !== 'updates')) {
    return fail(apiError('not-found', `no such route: ${path} (a room's own "/" is written %2F)`))
  }
  const room = decodeRoom(segment, maxRoomNameBytes)
  if (typeof room !== 'string') return room
  if (sub === 'state-vector') return isRead(method) ? ok({ kind: 'state-vector', room }) : notAllowed('GET')
  if (sub === 'updates') return method === 'POST' ? ok({ kind: 'write', room }) : notAllowed('POST')
  if (isRead(method)) return decodeRead(room, query)
  if (method === 'PUT') return ok({ kind: 'create', room })
  if (method === 'DELETE') return ok({ kind: 'delete', room })
  return notAllowed('GET, PUT, DELETE')
}

function decodeRoom(segment: string, maxRoomNameBytes: number): string | ApiRequestDecoding {
  if (segment === '') return fail(apiError('invalid-room-name', 'the room name is empty'))
  const room = decodeRoomName(segment)
  if (Buffer.byteLength(room) > maxRoomNameBytes) return fail(apiError('room-name-too-long', `room name longer than ${maxRoomNameBytes} bytes`))
  return room
}

/**
 * `/documents/<room>/versions` (GET lists, POST names one), `.../versions/<id>` (GET
 * shows one, `?format=update|html|markdown|text`, `&field=` for a rendering) and
 * `.../versions/<id>/restore` (POST).
 */
function decodeVersionsRoute(method: string, path: string, segment: string, rest: readonly string[], query: URLSearchParams, maxRoomNameBytes: number): ApiRequestDecoding {
  const [idText, action, ...more] = rest
  if (more.length > 0 || (action !== undefined && action !== 'restore')) return fail(apiError('not-found', `no such route: ${path}`))
  const room = decodeRoom(segment, maxRoomNameBytes)
  if (typeof room !== 'string') return room
  if (idText === undefined || idText === '') {
    if (isRead(method)) return ok({ kind: 'versions', room })
    return method === 'POST' ? ok({ kind: 'name-version', room }) : notAllowed('GET, POST')
  }
  const id = Number(idText)
  if (!/^\d{1,15}$/.test(idText) || id < 1) return fail(apiError('invalid-query', `a version id is a whole number, not ${JSON.stringify(idText)}`))
  if (action === 'restore') return method === 'POST' ? ok({ kind: 'restore', room, id }) : notAllowed('POST')
  if (!isRead(method)) return notAllowed('GET')
  const format = query.get('format') ?? 'update'
  if (!(VERSION_FORMATS as readonly string[]).includes(format)) {
    return fail(apiError('invalid-query', `format must be one of ${VERSION_FORMATS.map((f) => `"${f}"`).join(', ')}, not ${JSON.stringify(format)}`))
  }
  return ok({ kind: 'version', room, id, format: format as VersionFormat, field: query.get('field') ?? undefined })
}

const RENDER_FORMATS: readonly RenderFormat[] = ['html', 'markdown', 'text', 'prosemirror-json']
const READ_FORMATS = ['update', 'json', ...RENDER_FORMATS].map((f) => `"${f}"`).join(', ')

function decodeRead(room: string, query: URLSearchParams): ApiRequestDecoding {
  const format = query.get('format') ?? 'update'
  const field = query.get('field') ?? undefined
  const page = query.get('page')
  if (format === 'update' || format === 'json') {
    if (field !== undefined || page !== null) return fail(apiError('invalid-query', `field and page go with a rendered format (${RENDER_FORMATS.join(', ')}), not "${format}"`))
    return ok({ kind: 'read', room, format })
  }
  const renderFormat = RENDER_FORMATS.find((f) => f === format)
  if (renderFormat === undefined) return fail(apiError('invalid-query', `format must be one of ${READ_FORMATS}, not ${JSON.stringify(format)}`))
  if (field === '') return fail(apiError('invalid-query', 'field is empty: name a top-level field, or leave it out for "default"'))
  if (page !== null && page !== '1') return fail(apiError('invalid-query', `page must be 1 (a whole HTML page) or absent, not ${JSON.stringify(page)}`))
  if (page !== null && renderFormat !== 'html') return fail(apiError('invalid-query', 'page=1 goes with format=html'))
  const token = page === null ? null : query.get('token')
  return ok({ kind: 'render', room, format: renderFormat, field, page: page !== null, queryToken: token === null || token === '' ? undefined : token })
}

function decodeListing(query: URLSearchParams): ApiRequestDecoding {
  const limitText = query.get('limit')
  let limit = DEFAULT_LIST_LIMIT
  if (limitText !== null) {
    limit = Number(limitText)
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > MAX_LIST_LIMIT) {
      return fail(apiError('invalid-query', `limit must be a whole number from 1 to ${MAX_LIST_LIMIT}, not ${JSON.stringify(limitText)}`))
    }
  }
  const cursor = query.get('cursor')
  let after: string | undefined
  if (cursor !== null && cursor !== '') {
    const decoded = decodeCursor(cursor)
    if (decoded === null) return fail(apiError('invalid-query', 'cursor is not one this API handed out (pass nextCursor as it came)'))
    after = decoded
  }
  return ok({ kind: 'list', prefix: query.get('prefix') ?? '', limit, after })
}

/**
 * The listing's cursor: the last name of the page, as JSON (which keeps a lone surrogate)
 * in base64url. Opaque to clients: what it holds may change.
 */
export function encodeCursor(after: string): string {
  return Buffer.from(JSON.stringify({ after })).toString('base64url')
}

function decodeCursor(cursor: string): string | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (typeof value === 'object' && value !== null && typeof (value as { after?: unknown }).after === 'string') return (value as { after: string }).after
    return null
  } catch {
    return null
  }
}

const isRead = (method: string): boolean => method === 'GET' || method === 'HEAD'
const ok = (request: ApiRequest): ApiRequestDecoding => ({ ok: true, request })
const fail = (error: ApiError): ApiRequestDecoding => ({ ok: false, error })
const notAllowed = (allow: string): ApiRequestDecoding => fail(apiError('method-not-allowed', `this route answers ${allow}`, { allow }))
