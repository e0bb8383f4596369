/**
 * The server's version history routes (the server README's "Version history"), as the
 * History panel uses them. The API is reached as "Download as Markdown" reaches it: the
 * server's WebSocket address names its HTTP origin, and the page's token, if any, is the
 * bearer credential (read access may list and show, write access may name and restore;
 * with no access control configured the API is open). Every failure becomes a
 * `HistoryApiError` with a sentence a person can read: the server's own message for a
 * refusal, "cannot reach the server" when the request never got an answer.
 */

export type VersionKind = 'auto' | 'named' | 'restore'

export interface Version {
  readonly id: number
  /** Milliseconds since the epoch. */
  readonly createdAt: number
  readonly name: string | null
  readonly kind: VersionKind
  /** For a restore: the id of the version it brought back. */
  readonly restoredFrom: number | null
  readonly authors: readonly string[]
  readonly inserted: number
  readonly deleted: number
}

export class HistoryApiError extends Error {
  override readonly name = 'HistoryApiError'
  /** The API's error code (`forbidden`, `version-not-found`…), or `unreachable`. */
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

export interface VersionHistoryApi {
  /** Newest first; empty for a document that was never written. */
  list(): Promise<Version[]>
  /** Records the document as it is now under `name`. */
  name(name: string): Promise<Version>
  /** The version rendered as HTML (escaped and stripped of scripts by the server). */
  previewHtml(id: number): Promise<string>
  /** Turns the live document into version `id` (a forward edit); answers the new restore version. */
  restore(id: number): Promise<Version>
}

export function createVersionHistoryApi(serverUrl: string, room: string, token: string | null): VersionHistoryApi {
  const base = new URL(`/api/v1/documents/${encodeURIComponent(room)}/versions`, serverUrl.replace(/^ws/, 'http'))
  const url = (path: string): URL => new URL(`${base.pathname}${path}`, base)

  const send = async (target: URL, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers)
    if (token !== null) headers.set('Authorization', `Bearer ${token}`)
    let response: Response
    try {
      response = await fetch(target, { ...init, headers })
    } catch {
      // fetch rejects only when no answer came at all: offline, or the server is down.
      throw new HistoryApiError('unreachable', 'Cannot reach the server. Check the connection and try again.')
    }
    if (!response.ok) throw await readRefusal(response)
    return response
  }

  return {
    async list() {
      let response: Response
      try {
        response = await send(base)
      } catch (error) {
        // A room nobody wrote to yet has no document, hence no versions: not a failure.
        if (error instanceof HistoryApiError && error.code === 'document-not-found') return []
        throw error
      }
      const body = (await response.json()) as { versions?: unknown }
      if (!Array.isArray(body.versions)) throw new HistoryApiError('invalid-answer', 'The server answered without a list of versions.')
      return body.versions.map(readVersion)
    },
    async name(name) {
      const response = await send(base, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }) })
      return readVersion(await response.json())
    },
    async previewHtml(id) {
      const target = url(`/${id}`)
      target.searchParams.set('format', 'html')
      return (await send(target)).text()
    },
    async restore(id) {
      const response = await send(url(`/${id}/restore`), { method: 'POST' })
      return readVersion(await response.json())
    }
  }
}

/** The API's `{"error": {"code", "message"}}`, or the status when the body is something else (a proxy's page). */
async function readRefusal(response: Response): Promise<HistoryApiError> {
  const text = await response.text().catch(() => '')
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error
    if (typeof error?.code === 'string' && typeof error.message === 'string') {
      return new HistoryApiError(error.code, `The server refused (${response.status}): ${error.message}`)
    }
  } catch {
    // Not JSON: fall through to the status.
  }
  return new HistoryApiError(`http-${response.status}`, `The server answered ${response.status}${text ? `: ${text.slice(0, 120)}` : ''}.`)
}

/** A version as the API shows it (see versions-api.ts on the server), checked field by field. */
function readVersion(value: unknown): Version {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
  const summary = (typeof v['summary'] === 'object' && v['summary'] !== null ? v['summary'] : {}) as Record<string, unknown>
  const createdAt = typeof v['createdAt'] === 'string' ? Date.parse(v['createdAt']) : NaN
  const kind = v['kind']
  if (typeof v['id'] !== 'number' || Number.isNaN(createdAt) || (kind !== 'auto' && kind !== 'named' && kind !== 'restore')) {
    throw new HistoryApiError('invalid-answer', 'The server answered with a version this page does not understand.')
  }
  return {
    id: v['id'],
    createdAt,
    name: typeof v['name'] === 'string' ? v['name'] : null,
    kind,
    restoredFrom: typeof v['restoredFrom'] === 'number' ? v['restoredFrom'] : null,
    authors: Array.isArray(v['authors']) ? v['authors'].filter((author): author is string => typeof author === 'string') : [],
    inserted: typeof summary['inserted'] === 'number' ? summary['inserted'] : 0,
    deleted: typeof summary['deleted'] === 'number' ? summary['deleted'] : 0
  }
}
