import { apiError, type ApiError } from '../api/api-error.js'
import { RenderRefusedError, type RenderedDocument } from '../render/document-renderer.js'
import type { ServerParts } from '../server-wiring.js'

export type VersionRenderFormat = 'html' | 'markdown' | 'text'

/**
 * A version shown as HTML, Markdown or text: the version's content (one update) goes
 * through the server's renderer, the one `GET /api/v1/documents/<room>?format=html`
 * uses (off the event loop, cached per content), so a version renders exactly as the
 * live document would. The only path from a version to a rendering. A field that cannot
 * be rendered is a 422, as for the document.
 */
export async function renderVersion(parts: ServerParts, update: Uint8Array, format: VersionRenderFormat, field: string | undefined): Promise<RenderedDocument | ApiError> {
  try {
    return await parts.renderer.render([update], field === undefined ? { format } : { format, field })
  } catch (error) {
    if (error instanceof RenderRefusedError) return apiError('not-renderable', error.message)
    throw error
  }
}
