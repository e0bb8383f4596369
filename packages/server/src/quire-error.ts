/**
 * The one error type Quire throws or rejects with at its edges. `code` is a closed
 * union so callers can switch on it; `cause` keeps the original error.
 */
export type QuireErrorCode =
  | 'unauthorized' // no or invalid credentials: close 4401
  | 'forbidden' // valid credentials without access to this room: close 4403
  | 'storage-failed'
  | 'document-deleted' // the document was deleted and is refused until created again: close 4404
  | 'invalid-options'

export class QuireError extends Error {
  readonly code: QuireErrorCode

  constructor(code: QuireErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'QuireError'
    this.code = code
  }
}

/** Normalises anything thrown by user code (e.g. an authenticate hook) into a QuireError. */
export function toQuireError(error: unknown, fallback: QuireErrorCode): QuireError {
  if (error instanceof QuireError) return error
  const message = error instanceof Error ? error.message : String(error)
  return new QuireError(fallback, message, { cause: error })
}
