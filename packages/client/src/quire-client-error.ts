/**
 * Why something went wrong inside a session, as a closed set:
 * - `local-storage`: reading or writing the IndexedDB copy failed (quota, private mode).
 * - `invalid-saved-state`: the stored saved-state record could not be read; unsaved
 *   work from an earlier session may be reported as saved only after the next sync.
 * - `invalid-server-message`: the server sent a Quire extension message we cannot decode.
 * - `token`: the `token` function threw or rejected; the session retries with backoff.
 */
export type QuireClientErrorCode = 'local-storage' | 'invalid-saved-state' | 'invalid-server-message' | 'token'

export class QuireClientError extends Error {
  readonly code: QuireClientErrorCode

  constructor(code: QuireClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'QuireClientError'
    this.code = code
  }

  /** Normalises anything thrown at a boundary (IndexedDB, sockets) into a QuireClientError. */
  static from(code: QuireClientErrorCode, cause: unknown): QuireClientError {
    if (cause instanceof QuireClientError) return cause
    const message = cause instanceof Error ? cause.message : String(cause)
    return new QuireClientError(code, message, { cause })
  }
}
