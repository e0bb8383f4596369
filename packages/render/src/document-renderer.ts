import { getText, getTextSerializersFromSchema, type JSONContent } from '@tiptap/core'
import { Node as ProseMirrorNode } from '@tiptap/pm/model'
import { yXmlFragmentToProsemirrorJSON } from 'y-prosemirror'
import * as Y from 'yjs'
import { renderHtml } from './html-renderer.js'
import { toKnownContent } from './known-content.js'
import { createMarkdownSerializer } from './markdown-serializer.js'
import { CONTENT_TYPES, DEFAULT_FIELD, type RenderRefusal, type RenderRequest, type RenderResult } from './render-request.js'
import type { RenderSchema } from './render-schema.js'

/**
 * Renders a document in one format, synchronously: the work the worker
 * thread does (render-worker.ts), usable as is where blocking is fine (a script, a test,
 * the benchmark's reference). The field is read as a Y.XmlFragment (Tiptap,
 * y-prosemirror) when it holds XML, as a Y.Text when it holds text; an absent or empty
 * field renders as an empty document. A map or an array is refused.
 */
export interface DocumentRenderer {
  /**
   * `document`: one Yjs update, or the updates a store or a room holds it in, applied in
   * turn (the server passes them unmerged: merging is the same work again, on its event
   * loop).
   */
  render(document: Uint8Array | readonly Uint8Array[], request: RenderRequest): RenderResult | RenderRefusal
  /** Renders a `Y.Doc` the caller holds (and keeps: it is not changed or destroyed here). */
  renderDoc(ydoc: Y.Doc, request: RenderRequest): RenderResult | RenderRefusal
}

type FieldKind = 'empty' | 'xml' | 'text' | 'map' | 'array'

export function createDocumentRenderer(renderSchema: RenderSchema): DocumentRenderer {
  const { schema } = renderSchema
  const toMarkdown = createMarkdownSerializer(schema)
  const textSerializers = getTextSerializersFromSchema(schema)
  const paragraph = schema.nodes['paragraph']?.name

  /** A Y.Text's lines as paragraphs, for the formats that have blocks. */
  const linesAsDoc = (text: string): JSONContent => ({
    type: schema.topNodeType.name,
    content: paragraph === undefined ? [] : text.split('\n').map((line) => (line === '' ? { type: paragraph } : { type: paragraph, content: [{ type: 'text', text: line }] }))
  })

  const renderJson = (raw: JSONContent, request: RenderRequest, plainText: string | null): RenderResult => {
    const contentType = CONTENT_TYPES[request.format]
    const known = toKnownContent(raw, schema)
    const { unknownNodes } = known
    if (request.format === 'prosemirror-json') {
      // The document as y-prosemirror reads it, unknown types included: JSON loses nothing.
      return { body: JSON.stringify({ doc: raw, unknownNodes }), contentType, unknownNodes }
    }
    if (plainText !== null && request.format !== 'html') return { body: plainText, contentType, unknownNodes }
    const doc = ProseMirrorNode.fromJSON(schema, known.doc)
    switch (request.format) {
      case 'html':
        return { body: renderHtml(doc, renderSchema), contentType, unknownNodes }
      case 'markdown':
        return { body: toMarkdown(doc), contentType, unknownNodes }
      case 'text':
        return { body: getText(doc, { blockSeparator: '\n', textSerializers }), contentType, unknownNodes }
    }
  }

  const renderDoc = (ydoc: Y.Doc, request: RenderRequest): RenderResult | RenderRefusal => {
    const field = request.field ?? DEFAULT_FIELD
    const kind = fieldKind(ydoc, field)
    switch (kind) {
      case 'map':
      case 'array':
        return { refused: `the field ${JSON.stringify(field)} is a Y.${kind === 'map' ? 'Map' : 'Array'}: only a Y.XmlFragment (rich text) or a Y.Text renders` }
      case 'text': {
        const text = ydoc.getText(field).toString()
        return renderJson(linesAsDoc(text), request, text)
      }
      case 'xml':
        return renderJson(yXmlFragmentToProsemirrorJSON(ydoc.getXmlFragment(field)) as JSONContent, request, null)
      case 'empty':
        return renderJson({ type: schema.topNodeType.name }, request, null)
    }
  }

  return {
    render(document, request) {
      const ydoc = new Y.Doc({ gc: true })
      try {
        applyParts(ydoc, document instanceof Uint8Array ? [document] : document)
        return renderDoc(ydoc, request)
      } finally {
        ydoc.destroy()
      }
    },
    renderDoc
  }
}

/** `parts` (a document's updates, or what it gained since `ydoc` was built) applied to `ydoc` in one transaction. */
export function applyParts(ydoc: Y.Doc, parts: readonly Uint8Array[]): void {
  Y.transact(ydoc, () => {
    for (const update of parts) Y.applyUpdate(ydoc, update)
  })
}

/**
 * Which kind of shared type a top-level field is. An update does not say (only
 * `doc.get(name, Kind)` does), so it is read from the content, as the server's JSON read
 * does (document-json.js): XML elements or XML text, a fragment; strings or formatting, a
 * text; keys only, a map; anything else in sequence, an array.
 */
function fieldKind(doc: Y.Doc, name: string): FieldKind {
  const type = doc.share.get(name)
  if (type === undefined) return 'empty'
  if (type._start === null) return type._map.size > 0 ? 'map' : 'empty'
  let text = false
  for (let item: Y.Item | null = type._start; item !== null; item = item.right) {
    const content = item.content
    if (content instanceof Y.ContentType && (content.type instanceof Y.XmlElement || content.type instanceof Y.XmlText)) return 'xml'
    if (content instanceof Y.ContentString || content instanceof Y.ContentFormat) text = true
  }
  return text ? 'text' : 'array'
}
