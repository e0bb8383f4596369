import type { JSONContent } from '@tiptap/core'
import type { Schema } from '@tiptap/pm/model'
import { isSafeUrl } from './safe-url.js'

/**
 * The document as y-prosemirror reads it from the Y.XmlFragment, made fit for `schema`
 * without losing its text:
 *
 * - a node type the schema does not know is replaced by its content: an unknown block
 *   holding text becomes a paragraph, one holding blocks gives its blocks, one inside a
 *   paragraph gives its text; a childless one is dropped. Its name is reported.
 * - a mark the schema does not know is dropped from its text, and reported.
 * - a link whose href is not http, https, mailto or relative loses its link (its text
 *   stays): renderers trust the href they are given.
 *
 * ProseMirror would otherwise refuse the whole document (`Node.fromJSON` throws on an
 * unknown type), and a renderer that skipped it would make the content vanish unseen.
 */
export interface KnownContent {
  readonly doc: JSONContent
  readonly unknownNodes: readonly string[]
}

export function toKnownContent(json: JSONContent, schema: Schema): KnownContent {
  const unknown = new Set<string>()
  const paragraph = schema.nodes['paragraph'] === undefined ? null : 'paragraph'

  const keepMarks = (marks: JSONContent['marks']): JSONContent['marks'] => {
    if (marks === undefined) return undefined
    return marks.filter((mark) => {
      if (!(mark.type in schema.marks)) {
        unknown.add(mark.type)
        return false
      }
      return mark.type !== 'link' || isSafeUrl(mark.attrs?.['href'])
    })
  }

  const isInline = (node: JSONContent): boolean => node.type === 'text' || schema.nodes[node.type ?? '']?.isInline === true

  const convert = (node: JSONContent, inline: boolean): JSONContent[] => {
    if (node.type === 'text') {
      if (!node.text) return []
      const marks = keepMarks(node.marks)
      return [marks === undefined || marks.length === 0 ? { type: 'text', text: node.text } : { type: 'text', text: node.text, marks }]
    }
    const type = node.type === undefined ? undefined : schema.nodes[node.type]
    const children = node.content ?? []
    if (type !== undefined) {
      const converted: JSONContent = { type: type.name }
      if (node.attrs !== undefined) converted.attrs = node.attrs
      const marks = keepMarks(node.marks)
      if (marks !== undefined && marks.length > 0) converted.marks = marks
      const content = children.flatMap((child) => convert(child, type.inlineContent))
      if (content.length > 0) converted.content = content
      return [converted]
    }
    unknown.add(node.type ?? '(untyped)')
    const childrenInline = children.length > 0 && children.every(isInline)
    const content = children.flatMap((child) => convert(child, childrenInline))
    if (content.length === 0) return []
    if (inline === childrenInline) return content
    if (inline) return textOf(content).length > 0 ? [{ type: 'text', text: textOf(content) }] : []
    return paragraph === null ? [] : [{ type: paragraph, content }]
  }

  const top = schema.topNodeType
  const content = (json.content ?? []).flatMap((child) => convert(child, top.inlineContent))
  return { doc: content.length > 0 ? { type: top.name, content } : { type: top.name }, unknownNodes: [...unknown].sort() }
}

function textOf(nodes: readonly JSONContent[]): string {
  return nodes.map((node) => (node.type === 'text' ? (node.text ?? '') : textOf(node.content ?? []))).join(' ')
}
