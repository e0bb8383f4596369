import { apiError, type ApiError } from '../api/api-error.js'
import type { ServerParts } from '../server-wiring.js'

/** What a renderer makes of a document (the server-side rendering of issue 14). */
export interface RenderedDocument {
  readonly body: string
  readonly contentType: string
  /** Node types the renderer's schema did not know (their content is not in `body`). */
  readonly unknownNodes: readonly string[]
}

export type RenderFormat = 'html' | 'markdown' | 'text'

/** The renderer as the server's parts expose it, when the server has one. */
export type RenderDocument = (update: Uint8Array, request: { readonly format: RenderFormat; readonly field?: string }) => Promise<RenderedDocument>

/**
 * A version shown as HTML, Markdown or text: the version's content (one update) goes
 * through the server's renderer, the one `GET /api/v1/documents/<room>?format=html`
 * uses, so a version renders exactly as the live document would. The only path from a
 * version to a rendering. Without a renderer in this server, a clear 501.
 */
export async function renderVersion(parts: ServerParts, update: Uint8Array, format: RenderFormat, field: string | undefined): Promise<RenderedDocument | ApiError> {
  const render = (parts as ServerParts & { readonly render?: RenderDocument }).render
  if (typeof render !== 'function') {
    return apiError('not-implemented', `this server cannot render documents as ${format}: ask for format=update (the version as one Yjs update)`)
  }
  return render(update, field === undefined ? { format } : { format, field })
}
