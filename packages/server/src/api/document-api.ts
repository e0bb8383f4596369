import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import * as Y from 'yjs'
import { encodeMessage, inspectUpdate, isEmptyUpdate, type UpdateMeta } from '@quire/protocol'
import type { Authenticate } from '../authenticate.js'
import type { Fanout } from '../fanout/fanout.js'
import type { Log } from '../log.js'
import { QuireError } from '../quire-error.js'
import { mergeUpdates } from '../room/merge-updates.js'
import type { Room } from '../room/room.js'
import type { ServerParts } from '../server-wiring.js'
import { createApiAccess } from './api-access.js'
import { apiError, writeApiError, writeJson, type ApiError } from './api-error.js'
import { decodeApiRequest, encodeCursor, isApiPath, type ApiRequest } from './api-request.js'
import { createApiWriter } from './api-writer.js'
import { createRoomLinger } from './api-room-linger.js'
import { RenderRefusedError } from '../render/document-renderer.js'
import { createReadPage } from '../render/read-page.js'
import { digestOfParts, documentEtag, matchesEtag } from './document-etag.js'
import { redactUrl } from '../redact-url.js'
import { resolveWithin } from '../resolve-within.js'
import { notifyDocumentEvent, type DocumentEvents, type RecordedDocumentEvents } from './document-events.js'
import { readRequestBody } from './request-body.js'
import { createVersionsApi } from './versions-api.js'

export interface DocumentApiOptions {
  /** The server's parts, once storage is open; a rejection answers 503. */
  readonly parts: Promise<ServerParts>
  readonly fanout: Fanout | undefined
  readonly apiKeys: readonly string[]
  readonly authenticate: Authenticate | undefined
  /** A written update may be as large as a WebSocket frame may be. */
  readonly maxMessageBytes: number
  readonly maxRoomNameBytes: number
  readonly maxRooms: number
  /** 0: a deleted document leaves no tombstone. */
  readonly tombstoneDays: number
  readonly saveTimeoutMs: number
  /** How long a room opened for a write stays open after it (see api-room-linger.ts). */
  readonly roomLingerMs: number
  readonly documentEvents: DocumentEvents | undefined
  /** The webhooks' record of creations and deletions, once storage is open (null without webhooks). */
  readonly webhookEvents?: () => RecordedDocumentEvents | null
  readonly isClosing: () => boolean
  readonly log: Log
  /** The render extensions module (`renderExtensions`), part of a rendered document's ETag. */
  readonly renderExtensionsModule?: string | undefined
}

/** Answers requests under `/api/v1/` and resolves true; resolves false for any other path. */
export type DocumentApi = (request: IncomingMessage, response: ServerResponse) => Promise<boolean>

/**
 * What a rendered answer may do in a browser: nothing but show itself. The HTML is safe
 * already (see `@quire/render`); this is the second lock. No referrer, since a page's URL
 * may carry its token.
 */
const RENDERED_HTML_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src http: https: data:; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer'
}

/** What a write waits for before it is durable or the bounded wait is over. */
type SaveOutcome = 'saved' | 'timeout'

const EMPTY_UPDATE = Uint8Array.of(0, 0)
/** A version's name is short: a body past this is refused. */
const VERSION_BODY_BYTES = 64 * 1024
const DAY_MS = 24 * 60 * 60 * 1000

/**
 * The document HTTP API (see the README's "HTTP API"): read a document as one Yjs update
 * or as JSON, its state vector, write an update (answered once durable), create, delete
 * with a tombstone, list. A request is decoded once (api-request.ts), checked
 * (api-access.ts), then served here; every refusal is an `ApiError` answered as JSON.
 *
 * Writes enter the room through `Room.accept` like a socket's updates, after the same
 * validation and size limit, so they are relayed to the room's clients at once and
 * stored by the same group commit. The room is opened through the registry (one load
 * however many ask) and released when idle, as a connection's room is.
 *
 * Reads of an open room come from its state; others from storage, merged here as a room
 * merges its log when it opens. Only the JSON and rendered forms build a Y.Doc: the JSON in
 * the compaction thread, the rendered ones (HTML, Markdown, text, ProseMirror JSON) in the
 * render thread (render/render-thread.ts), cached per document version.
 */
export function createDocumentApi(options: DocumentApiOptions): DocumentApi {
  const access = createApiAccess({ apiKeys: options.apiKeys, authenticate: options.authenticate })
  const { log } = options
  let nextWriterId = -1
  const linger = createRoomLinger({ lingerMs: options.roomLingerMs, maxRooms: options.maxRooms })

  const notify = (event: 'created' | 'deleted', doc: string): void => notifyDocumentEvent(options.documentEvents, event, doc, log)

  /**
   * The document as the updates it is held in (the open room's parts, or the stored
   * log), unmerged, or why there is none: what a render needs. Merging a large document
   * is tens of milliseconds on the event loop, and the render worker applies the parts
   * in turn anyway.
   */
  const readDocumentParts = async (parts: ServerParts, room: string): Promise<Uint8Array[] | ApiError> => {
    const open = parts.registry.get(room)
    if (open) return open.parts()
    const [stored, refusedUntil] = await Promise.all([parts.storage.load(room), parts.storage.tombstone(room)])
    if (refusedUntil !== null) return deletedError(room, refusedUntil)
    if (stored.updates.length === 0 && (await parts.storage.info(room)) === null) return apiError('document-not-found', `no document ${JSON.stringify(room)}`)
    return [...stored.updates]
  }

  /** The document as one update and its state vector, or why there is none. */
  const readDocument = async (parts: ServerParts, room: string): Promise<{ update: Uint8Array; stateVector: Uint8Array } | ApiError> => {
    const open = parts.registry.get(room)
    if (open) return { update: open.snapshot(), stateVector: open.stateVector() }
    const [stored, refusedUntil] = await Promise.all([parts.storage.load(room), parts.storage.tombstone(room)])
    if (refusedUntil !== null) return deletedError(room, refusedUntil)
    if (stored.updates.length === 0) {
      if ((await parts.storage.info(room)) === null) return apiError('document-not-found', `no document ${JSON.stringify(room)}`)
      return { update: EMPTY_UPDATE, stateVector: Y.encodeStateVectorFromUpdate(EMPTY_UPDATE) }
    }
    const update = mergeUpdates(stored.updates)
    return { update, stateVector: Y.encodeStateVectorFromUpdate(update) }
  }

  const read = async (parts: ServerParts, wanted: Extract<ApiRequest, { kind: 'read' | 'state-vector' }>, request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const document = await readDocument(parts, wanted.room)
    if ('code' in document) return writeApiError(response, document)
    const variant = wanted.kind === 'state-vector' ? 'sv' : wanted.format
    const etag = documentEtag(document.stateVector, wanted.kind === 'state-vector' ? null : document.update, variant)
    if (matchesEtag(request.headers['if-none-match'], etag)) {
      response.writeHead(304, { etag, 'cache-control': 'no-cache' })
      response.end()
      return
    }
    if (wanted.kind === 'read' && wanted.format === 'json') {
      const json = await parts.thread.documentJson(document.update)
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), etag, 'cache-control': 'no-cache' })
      response.end(json)
      return
    }
    const body = wanted.kind === 'state-vector' ? document.stateVector : document.update
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.byteLength, etag, 'cache-control': 'no-cache' })
    response.end(body)
  }

  /**
   * A rendered read: 304 when the tag matches (nothing rendered), otherwise the renderer's
   * answer (cached per document version), with the node and mark types the schema did not
   * know in `quire-unknown-nodes` (comma-separated, each percent-encoded: a node's name is
   * whatever a client wrote).
   */
  const render = async (parts: ServerParts, wanted: Extract<ApiRequest, { kind: 'render' }>, request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const document = await readDocumentParts(parts, wanted.room)
    if (!Array.isArray(document)) return writeApiError(response, document)
    const digest = digestOfParts(document)
    const etag = `"${wanted.format}${wanted.page ? '-page' : ''}-${renderVariant(wanted.field, options.renderExtensionsModule)}-${digest}"`
    if (matchesEtag(request.headers['if-none-match'], etag)) {
      response.writeHead(304, { etag, 'cache-control': 'no-cache' })
      response.end()
      return
    }
    let rendered
    try {
      rendered = await parts.renderer.render(document, { format: wanted.format, room: wanted.room, ...(wanted.field === undefined ? {} : { field: wanted.field }) }, digest)
    } catch (error) {
      if (error instanceof RenderRefusedError) return writeApiError(response, apiError('not-renderable', error.message))
      throw error
    }
    const body = wanted.page ? createReadPage(wanted.room, new TextDecoder().decode(rendered.body)) : rendered.body
    response.writeHead(200, {
      'content-type': rendered.contentType,
      'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
      etag,
      'cache-control': 'no-cache',
      ...(rendered.unknownNodes.length === 0 ? {} : { 'quire-unknown-nodes': rendered.unknownNodes.map(encodeURIComponent).join(',') }),
      ...(wanted.format === 'html' ? RENDERED_HTML_HEADERS : {})
    })
    response.end(body)
  }

  const write = async (parts: ServerParts, room: string, request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const body = await readRequestBody(request, options.maxMessageBytes)
    if (!body.ok) {
      if (body.reason === 'aborted') return
      return writeApiError(response, apiError('payload-too-large', `the update is larger than the limit of ${options.maxMessageBytes} bytes (--max-message-bytes)`))
    }
    const inspection = inspectUpdate(body.bytes)
    if (!inspection.ok) return writeApiError(response, apiError('invalid-update', `not a well-formed Yjs update: ${inspection.problem}`))
    const refused = await acceptUpdate(parts, room, body.bytes, inspection.meta)
    if (refused !== null) return writeApiError(response, refused)
    // The first write of a new document is reported created by the registry, as one over a WebSocket is.
    writeJson(response, 200, { saved: true })
  }

  /**
   * `update` enters `room` through `Room.accept` as an API write (the room opened for it
   * and released a while after, see api-room-linger.ts), answered once durable: null
   * then, or the refusal. A restore's update comes this way too.
   */
  const acceptUpdate = async (parts: ServerParts, room: string, update: Uint8Array, meta: UpdateMeta): Promise<ApiError | null> => {
    const { registry, storage } = parts
    if (registry.get(room) === undefined && registry.size >= options.maxRooms) {
      return apiError('too-many-rooms', `try again later: this server has ${options.maxRooms} rooms open`, { 'retry-after': '5' })
    }
    let opened: Room
    try {
      opened = await registry.open(room)
    } catch (error) {
      if (error instanceof QuireError && error.code === 'document-deleted') return deletedError(room, await storage.tombstone(room).catch(() => null))
      throw error
    }
    try {
      if (opened.savingStalled) {
        return apiError('storage-unavailable', 'storage has been failing for a while: try again later (nothing was accepted)', { 'retry-after': '5' })
      }
      if (isEmptyUpdate(update)) return null
      const writer = createApiWriter(nextWriterId--)
      opened.accept(update, meta, writer)
      const outcome = await savedWithin(writer.saved, options.saveTimeoutMs)
      if (outcome === 'timeout') {
        return apiError('not-saved-yet', `the update was accepted and relayed but is not durable after ${options.saveTimeoutMs} ms (storage is failing); it stays queued and is written once storage is back. Sending it again is safe.`, { 'retry-after': '5' })
      }
      return null
    } finally {
      linger.release(registry, opened)
    }
  }

  const versions = createVersionsApi({ acceptUpdate, readDocument, maxBodyBytes: VERSION_BODY_BYTES })

  const create = async (parts: ServerParts, room: string, response: ServerResponse): Promise<void> => {
    const created = await parts.storage.create(room)
    if (created) {
      notify('created', room)
      await options.webhookEvents?.()?.created(room).catch((error: unknown) => {
        log('error', `the document was created but its webhook event could not be recorded: ${error instanceof Error ? error.message : String(error)}`, { room })
      })
    }
    writeJson(response, created ? 201 : 200, { created })
  }

  const remove = async (parts: ServerParts, room: string, response: ServerResponse): Promise<void> => {
    const { registry, storage, commitQueue } = parts
    const refusedUntil = await storage.tombstone(room)
    if (refusedUntil !== null) return writeApiError(response, deletedError(room, refusedUntil))
    if (registry.get(room) === undefined && (await storage.info(room)) === null) {
      return writeApiError(response, apiError('document-not-found', `no document ${JSON.stringify(room)}`))
    }
    // From here the room is refused (its clients closed with 4404), until the tombstone is written.
    registry.refuse(room)
    try {
      // What its clients wrote before is stored first, so the delete removes it too.
      if ((await savedWithin(commitQueue.whenCommitted(), options.saveTimeoutMs)) === 'timeout') {
        return writeApiError(response, apiError('storage-unavailable', `storage has not committed for ${options.saveTimeoutMs} ms: the document was not deleted; try again later`, { 'retry-after': '5' }))
      }
      // Recorded before the delete: a crash in between costs an event for a delete the
      // caller never saw answered (and retries), never a delete without its event. The
      // webhooks retry a failing outbox write by themselves; past the API's bound the
      // delete is refused, and the event may still be written later (at least once).
      const recording = options.webhookEvents?.()?.deleted(room)
      if (recording !== undefined) {
        const outcome = await savedWithin(recording, options.saveTimeoutMs).catch((): 'failed' => 'failed')
        if (outcome !== 'saved') {
          log('error', `the webhook event of a delete was not recorded within ${options.saveTimeoutMs} ms, so nothing was deleted`, { room })
          return writeApiError(response, apiError('storage-unavailable', 'the deletion could not be recorded for the webhooks: the document was not deleted; try again later', { 'retry-after': '5' }))
        }
      }
      const until = options.tombstoneDays > 0 ? Date.now() + options.tombstoneDays * DAY_MS : undefined
      await storage.delete(room, until === undefined ? {} : { refuseUntil: until })
      parts.history?.forget(room)
      // Every other clone with the room open closes its clients too (a room message on the fan-out).
      options.fanout?.publish(room, [encodeMessage({ type: 'quire-deleted' })], { toEveryClone: true })
      notify('deleted', room)
      writeJson(response, 200, { deleted: true, refusedUntil: until === undefined ? null : new Date(until).toISOString() })
    } finally {
      registry.allow(room)
    }
  }

  const list = async (parts: ServerParts, wanted: Extract<ApiRequest, { kind: 'list' }>, response: ServerResponse): Promise<void> => {
    const page = await parts.storage.listDocuments({ prefix: wanted.prefix, limit: wanted.limit, ...(wanted.after === undefined ? {} : { after: wanted.after }) })
    const last = page.documents.at(-1)
    writeJson(response, 200, {
      documents: page.documents.map((d) => ({ name: d.name, bytes: d.bytes, updatedAt: d.updatedAt === null ? null : new Date(d.updatedAt).toISOString(), lastSeq: d.lastSeq })),
      nextCursor: page.more && last !== undefined ? encodeCursor(last.name) : null
    })
  }

  const serve = async (wanted: ApiRequest, request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const refused = await access.check(request, wanted)
    if (refused !== null) return writeApiError(response, refused)
    if (options.isClosing()) return writeApiError(response, apiError('server-closing', 'the server is shutting down: try again (another clone, or this one restarted)', { 'retry-after': '1' }))
    let parts: ServerParts
    try {
      parts = await options.parts
    } catch {
      return writeApiError(response, apiError('storage-unavailable', 'storage could not be opened'))
    }
    switch (wanted.kind) {
      case 'list':
        return list(parts, wanted, response)
      case 'read':
      case 'state-vector':
        return read(parts, wanted, request, response)
      case 'render':
        return render(parts, wanted, request, response)
      case 'write':
        return write(parts, wanted.room, request, response)
      case 'create':
        return create(parts, wanted.room, response)
      case 'delete':
        return remove(parts, wanted.room, response)
      case 'versions':
        return versions.list(parts, wanted.room, response)
      case 'name-version':
        return versions.name(parts, wanted.room, request, response)
      case 'version':
        return versions.show(parts, wanted, response)
      case 'restore':
        return versions.restore(parts, wanted, response)
    }
  }

  return async (request, response) => {
    const url = request.url ?? '/'
    if (!isApiPath(url)) return false
    const decoded = decodeApiRequest(request.method ?? 'GET', url, options.maxRoomNameBytes)
    try {
      if (!decoded.ok) writeApiError(response, decoded.error)
      else await serve(decoded.request, request, response)
    } catch (error) {
      // Storage failing, the worker failing: logged here, answered without the details.
      // Redacted: a rendered page's URL may carry its token.
      log('error', `HTTP ${request.method} ${redactUrl(url)}: ${error instanceof Error ? error.message : String(error)}`)
      if (!response.headersSent) writeApiError(response, apiError('storage-unavailable', 'the document could not be read or written now; try again later', { 'retry-after': '5' }))
      else response.end()
    }
    return true
  }
}

function deletedError(room: string, refusedUntil: number | null): ApiError {
  const until = refusedUntil === null ? '' : ` (refused until ${new Date(refusedUntil).toISOString()})`
  return apiError('document-deleted', `the document ${JSON.stringify(room)} was deleted${until}; create it again with PUT before writing to it`)
}

/** What besides the format tells rendered answers apart: the field and the schema, hashed (a field's name may hold a quote). */
function renderVariant(field: string | undefined, extensionsModule: string | undefined): string {
  return createHash('sha256').update(JSON.stringify([field ?? null, extensionsModule ?? null])).digest('base64url').slice(0, 8)
}

function savedWithin(saved: Promise<void>, timeoutMs: number): Promise<SaveOutcome> {
  return resolveWithin(saved.then((): SaveOutcome => 'saved'), timeoutMs, 'timeout')
}
