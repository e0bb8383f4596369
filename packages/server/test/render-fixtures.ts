import type { JSONContent } from '@tiptap/core'
import { prosemirrorJSONToYXmlFragment } from 'y-prosemirror'
import * as Y from 'yjs'
import { createRenderSchema } from '@quire/render'

/**
 * ProseMirror JSON documents of the demo's schema (StarterKit) for the rendering tests,
 * written into a Y.Doc's `default` fragment with y-prosemirror as the editor would.
 */
const text = (value: string, ...marks: JSONContent['marks'][]): JSONContent => ({ type: 'text', text: value, ...(marks[0] === undefined ? {} : { marks: marks[0] }) })
const paragraph = (...content: JSONContent[]): JSONContent => ({ type: 'paragraph', content })
const item = (...content: JSONContent[]): JSONContent => ({ type: 'listItem', content })

/** Every StarterKit node and mark, nested lists, a code block with its language. Markdown holds all but underline. */
export function starterKitDocument(options: { underline: boolean } = { underline: true }): JSONContent {
  return {
    type: 'doc',
    content: [
      { type: 'heading', attrs: { level: 1 }, content: [text('Title')] },
      { type: 'heading', attrs: { level: 3 }, content: [text('Section')] },
      paragraph(
        text('bold', [{ type: 'bold' }]),
        text(' and '),
        text('italic', [{ type: 'italic' }]),
        text(' and '),
        text('struck', [{ type: 'strike' }]),
        text(' and '),
        ...(options.underline ? [text('underlined', [{ type: 'underline' }]), text(' and ')] : []),
        text('code', [{ type: 'code' }]),
        text(' and a '),
        text('link', [{ type: 'link', attrs: { href: 'https://example.com/a?b=c' } }]),
        text(' and '),
        text('mail', [{ type: 'link', attrs: { href: 'mailto:someone@example.com' } }])
      ),
      paragraph(text('line one'), { type: 'hardBreak' }, text('line two')),
      { type: 'blockquote', content: [paragraph(text('quoted'))] },
      {
        type: 'bulletList',
        content: [
          item(paragraph(text('first')), { type: 'bulletList', content: [item(paragraph(text('nested bullet')))] }),
          item(paragraph(text('second')), { type: 'orderedList', attrs: { start: 1 }, content: [item(paragraph(text('nested number')))] })
        ]
      },
      { type: 'orderedList', attrs: { start: 3 }, content: [item(paragraph(text('three'))), item(paragraph(text('four')))] },
      { type: 'codeBlock', attrs: { language: 'ts' }, content: [text('const a = 1\nconst b = `x`')] },
      { type: 'horizontalRule' },
      paragraph(text('the end'))
    ]
  }
}

/** Text and attributes that must come out escaped or not at all. */
export function hostileDocument(): JSONContent {
  return {
    type: 'doc',
    content: [
      paragraph(text('<script>alert("x")</script> & \'quotes\' "double"')),
      paragraph(
        text('js link', [{ type: 'link', attrs: { href: 'javascript:alert(1)' } }]),
        text(' '),
        text('tabbed js', [{ type: 'link', attrs: { href: 'java\tscript:alert(1)' } }]),
        text(' '),
        text('data link', [{ type: 'link', attrs: { href: 'data:text/html,<script>alert(1)</script>' } }]),
        text(' '),
        text('quoted href', [{ type: 'link', attrs: { href: 'https://example.com/"onmouseover="alert(1)' } }])
      ),
      { type: 'codeBlock', attrs: { language: '"><script>alert(1)</script>' }, content: [text('</code><script>')] }
    ]
  }
}

export function documentUpdate(json: JSONContent, field = 'default'): Uint8Array {
  const doc = new Y.Doc()
  prosemirrorJSONToYXmlFragment(createRenderSchema().schema, json, doc.getXmlFragment(field))
  return Y.encodeStateAsUpdate(doc)
}
