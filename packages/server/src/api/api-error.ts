import type { ServerResponse } from 'node:http'

/**
 * Every refusal of the document API, as a closed union: the `code` a client switches on,
 * beside the status and a readable `message`. Answered as JSON
 * `{ "error": { "code", "message" } }`; never a stack trace.
 */
export type ApiErrorCode =
  | 'not-found' // no such route
  | 'method-not-allowed'
  | 'invalid-room-name'
  | 'room-name-too-long'
  | 'invalid-query'
  | 'unauthorized' // no or invalid credentials
  | 'forbidden' // valid credentials without this access
  | 'document-not-found'
  | 'document-deleted' // refused until created again (PUT)
  | 'payload-too-large'
  | 'invalid-update'
  | 'not-renderable' // the field is a map or an array, not rich text or text
  | 'too-many-rooms'
  | 'storage-unavailable'
  | 'not-saved-yet' // accepted, not durable within the bounded wait
  | 'server-closing'
  | 'invalid-body' // a JSON body that is not what the route takes
  | 'version-not-found'
  | 'not-implemented' // a route this server cannot serve (a storage without versions)

const STATUS: Readonly<Record<ApiErrorCode, number>> = {
  'not-found': 404,
  'method-not-allowed': 405,
  'invalid-room-name': 400,
  'room-name-too-long': 414,
  'invalid-query': 400,
  unauthorized: 401,
  forbidden: 403,
  'document-not-found': 404,
  'document-deleted': 410,
  'payload-too-large': 413,
  'invalid-update': 422,
  'not-renderable': 422,
  'too-many-rooms': 503,
  'storage-unavailable': 503,
  'not-saved-yet': 503,
  'server-closing': 503,
  'invalid-body': 400,
  'version-not-found': 404,
  'not-implemented': 501
}

export interface ApiError {
  readonly code: ApiErrorCode
  readonly message: string
  /** Extra response headers (Allow, Retry-After, WWW-Authenticate). */
  readonly headers?: Readonly<Record<string, string>>
}

export function apiError(code: ApiErrorCode, message: string, headers?: Readonly<Record<string, string>>): ApiError {
  return headers === undefined ? { code, message } : { code, message, headers }
}

export function statusOf(code: ApiErrorCode): number {
  return STATUS[code]
}

export function writeApiError(response: ServerResponse, error: ApiError): void {
  writeJson(response, statusOf(error.code), { error: { code: error.code, message: error.message } }, error.headers)
}

export function writeJson(response: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers })
  response.end(text)
}
