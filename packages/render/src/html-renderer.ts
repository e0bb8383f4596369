import type { Extensions } from '@tiptap/core'
import type { Mark, Node as ProseMirrorNode } from '@tiptap/pm/model'
import { escapeHTML, renderJSONContentToString, serializeChildrenToHTMLString } from '@tiptap/static-renderer/json/html-string'
import { domOutputSpecToHTMLString, renderToElement } from '@tiptap/static-renderer/pm/html-string'
import type { RenderSchema } from './render-schema.js'
import { toSafeOutputSpec } from './safe-output-spec.js'

/**
 * A document as an HTML fragment. With Tiptap extensions (the default), Tiptap's static
 * renderer does the work, each node as its extension's `renderHTML` says; with a bare
 * ProseMirror schema, each node as its `toDOM` says. Both go through the same
 * conversion of a DOMOutputSpec to text, after `toSafeOutputSpec`: text and attribute
 * values escaped (by the static renderer), no script, no event handlers, safe URLs only.
 * The document has only known types by now (see known-content.ts).
 */
export function renderHtml(doc: ProseMirrorNode, renderSchema: RenderSchema): string {
  return renderSchema.extensions === null ? renderWithSchema(doc) : renderWithExtensions(doc, renderSchema.extensions)
}

const safeSpecToHtml = (spec: Parameters<typeof domOutputSpecToHTMLString>[0]): ReturnType<typeof domOutputSpecToHTMLString> =>
  domOutputSpecToHTMLString(toSafeOutputSpec(spec))

function renderWithExtensions(doc: ProseMirrorNode, extensions: Extensions): string {
  return renderToElement<string>({
    // What the library's own renderToHTMLString passes; its generics type it for JSON nodes only.
    renderer: renderJSONContentToString as Parameters<typeof renderToElement<string>>[0]['renderer'],
    domOutputSpecToElement: safeSpecToHtml,
    mapDefinedTypes: {
      doc: ({ children }) => serializeChildrenToHTMLString(children),
      text: ({ node }) => escapeHTML((node as { text?: string }).text ?? '')
    },
    content: doc,
    extensions
  })
}

function renderWithSchema(doc: ProseMirrorNode): string {
  const renderNode = (node: ProseMirrorNode): string => {
    let html: string
    if (node.isText) html = escapeHTML(node.text ?? '')
    else {
      const children: string[] = []
      node.forEach((child) => children.push(renderNode(child)))
      const toDOM = node.type.spec.toDOM
      html = toDOM === undefined || node.type === node.type.schema.topNodeType ? children.join('') : safeSpecToHtml(toDOM(node))(children)
    }
    return node.marks.reduceRight((inner: string, mark: Mark) => {
      const toDOM = mark.type.spec.toDOM
      return toDOM === undefined ? inner : safeSpecToHtml(toDOM(mark, true))(inner)
    }, html)
  }
  return renderNode(doc)
}
