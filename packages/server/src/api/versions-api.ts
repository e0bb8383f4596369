import type { IncomingMessage, ServerResponse } from 'node:http'
import { inspectUpdate, type UpdateMeta } from '@quire/protocol'
import { renderVersion } from '../history/render-version.js'
import type { ServerParts } from '../server-wiring.js'
import type { VersionInfo } from '../storage/version-store.js'
import type { VersionHistory } from '../history/version-history.js'
import { apiError, writeApiError, writeJson, type ApiError } from './api-error.js'
import type { ApiRequest } from './api-request.js'
import { readRequestBody } from './request-body.js'

export interface VersionsApiOptions {
  /** Accepts `update` into `room` as an API write, answered once durable (see document-api.ts). */
  readonly acceptUpdate: (parts: ServerParts, room: string, update: Uint8Array, meta: UpdateMeta) => Promise<ApiError | null>
  /** The document now as one update, or why there is none (not stored, deleted). */
  readonly readDocument: (parts: ServerParts, room: string) => Promise<{ update: Uint8Array } | ApiError>
  readonly maxBodyBytes: number
}

export interface VersionsApi {
  list(parts: ServerParts, room: string, response: ServerResponse): Promise<void>
  name(parts: ServerParts, room: string, request: IncomingMessage, response: ServerResponse): Promise<void>
  show(parts: ServerParts, wanted: Extract<ApiRequest, { kind: 'version' }>, response: ServerResponse): Promise<void>
  restore(parts: ServerParts, wanted: Extract<ApiRequest, { kind: 'restore' }>, response: ServerResponse): Promise<void>
}

/** The longest version name, in UTF-16 code units. */
const MAX_NAME_LENGTH = 200

/**
 * The version history routes of the document API (see the server README's "Version
 * history"), under the same access rules as the rest of it: list a document's versions,
 * name one, show one (as an update or rendered), restore one. A restore is a forward
 * update computed in the worker, accepted like any API write, then recorded as a version
 * of its own.
 */
export function createVersionsApi(options: VersionsApiOptions): VersionsApi {
  /** The history, or the refusal for a storage that keeps none; and the document must exist. */
  const historyFor = async (parts: ServerParts, room: string): Promise<VersionHistory | ApiError> => {
    if (parts.history === null) return apiError('not-implemented', 'this server\'s storage keeps no version history')
    const document = await options.readDocument(parts, room)
    return 'code' in document ? document : parts.history
  }

  return {
    async list(parts, room, response) {
      const history = await historyFor(parts, room)
      if ('code' in history) return writeApiError(response, history)
      const versions = await history.list(room)
      writeJson(response, 200, { versions: versions.reverse().map(versionJson) })
    },

    async name(parts, room, request, response) {
      const body = await readRequestBody(request, options.maxBodyBytes)
      if (!body.ok) {
        if (body.reason === 'aborted') return
        return writeApiError(response, apiError('payload-too-large', `the body is larger than ${options.maxBodyBytes} bytes`))
      }
      const name = decodeName(body.bytes)
      if (typeof name !== 'string') return writeApiError(response, name)
      const history = await historyFor(parts, room)
      if ('code' in history) return writeApiError(response, history)
      const version = await history.record(room, { kind: 'named', name })
      if (version === null) return writeApiError(response, apiError('document-not-found', `no document ${JSON.stringify(room)}`))
      writeJson(response, 201, versionJson(version))
    },

    async show(parts, wanted, response) {
      const history = await historyFor(parts, wanted.room)
      if ('code' in history) return writeApiError(response, history)
      const content = await history.content(wanted.room, wanted.id)
      if (content === null) return writeApiError(response, versionNotFound(wanted.room, wanted.id))
      if (wanted.format === 'update') {
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': content.byteLength, 'cache-control': 'no-cache' })
        response.end(content)
        return
      }
      const rendered = await renderVersion(parts, content, wanted.format, wanted.field)
      if ('code' in rendered) return writeApiError(response, rendered)
      const headers: Record<string, string | number> = { 'content-type': rendered.contentType, 'content-length': rendered.body.byteLength, 'cache-control': 'no-cache' }
      // As the document's own rendered reads say it (see document-api.ts).
      if (rendered.unknownNodes.length > 0) headers['quire-unknown-nodes'] = rendered.unknownNodes.map(encodeURIComponent).join(',')
      response.writeHead(200, headers)
      response.end(rendered.body)
    },

    async restore(parts, wanted, response) {
      const { room, id } = wanted
      if (parts.history === null) return writeApiError(response, apiError('not-implemented', 'this server\'s storage keeps no version history'))
      const history = parts.history
      const document = await options.readDocument(parts, room)
      if ('code' in document) return writeApiError(response, document)
      const version = await history.find(room, id)
      if (version === null) return writeApiError(response, versionNotFound(room, id))
      const update = await history.restoreUpdate(room, id, document.update)
      if (update === null) return writeApiError(response, versionNotFound(room, id))
      const inspection = inspectUpdate(update)
      // Made by a Y.Doc in the worker: a malformed one is a bug, not bad input.
      if (!inspection.ok) throw new Error(`the restore update of version ${id} is malformed: ${inspection.problem}`)
      const refused = await options.acceptUpdate(parts, room, update, inspection.meta)
      if (refused !== null) return writeApiError(response, refused)
      const from = version.name ?? new Date(version.createdAt).toISOString()
      const restored = await history.record(room, { kind: 'restore', name: `Restored from ${from}`, restoredFrom: id })
      if (restored === null) return writeApiError(response, apiError('document-not-found', `no document ${JSON.stringify(room)}`))
      writeJson(response, 200, versionJson(restored))
    }
  }
}

/** A version as the API shows it. */
function versionJson(version: VersionInfo): Record<string, unknown> {
  return {
    id: version.id,
    createdAt: new Date(version.createdAt).toISOString(),
    name: version.name,
    kind: version.kind,
    restoredFrom: version.restoredFrom,
    authors: version.authors,
    summary: { inserted: version.summary.inserted, deleted: version.summary.deleted }
  }
}

function versionNotFound(room: string, id: number): ApiError {
  return apiError('version-not-found', `the document ${JSON.stringify(room)} has no version ${id}`)
}

/** `{"name": "..."}`, decoded at the edge: a name of 1 to 200 characters, trimmed. */
function decodeName(bytes: Uint8Array): string | ApiError {
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    return apiError('invalid-body', 'the body must be JSON: {"name": "..."}')
  }
  const name = typeof value === 'object' && value !== null ? (value as { name?: unknown }).name : undefined
  if (typeof name !== 'string') return apiError('invalid-body', 'the body must be {"name": "..."} with the name a string')
  const trimmed = name.trim()
  if (trimmed === '' || trimmed.length > MAX_NAME_LENGTH) return apiError('invalid-body', `a version name is 1 to ${MAX_NAME_LENGTH} characters`)
  return trimmed
}
