/**
 * What a render is asked for and what it answers, shared by the renderer, its worker
 * thread and the server that calls it (the server declares the same shapes itself: it
 * never imports this package on its main thread).
 */
export type RenderFormat = 'html' | 'markdown' | 'text' | 'prosemirror-json'

export const RENDER_FORMATS: readonly RenderFormat[] = ['html', 'markdown', 'text', 'prosemirror-json']

/** The Y.Doc field rendered when none is named: the Tiptap Collaboration extension's. */
export const DEFAULT_FIELD = 'default'

export interface RenderRequest {
  readonly format: RenderFormat
  /** The top-level field (a Y.XmlFragment or a Y.Text); `default` when absent. */
  readonly field?: string
}

export interface RenderResult {
  readonly body: string
  readonly contentType: string
  /**
   * Node and mark types in the document that the schema does not know, sorted. Their
   * content is still rendered (an unknown block's text as a paragraph, an unknown mark's
   * text without it); they are reported so that a schema missing nodes is noticed
   * instead of content silently vanishing.
   */
  readonly unknownNodes: readonly string[]
}

/** A document that cannot be rendered as asked (the field is a map or an array). */
export interface RenderRefusal {
  readonly refused: string
}

export function isRenderFormat(value: string): value is RenderFormat {
  return (RENDER_FORMATS as readonly string[]).includes(value)
}

export const CONTENT_TYPES: Readonly<Record<RenderFormat, string>> = {
  html: 'text/html; charset=utf-8',
  markdown: 'text/markdown; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  'prosemirror-json': 'application/json; charset=utf-8'
}
