import type { Node as ProseMirrorNode, Schema } from '@tiptap/pm/model'
import { defaultMarkdownSerializer, MarkdownSerializer, type MarkdownSerializerState } from 'prosemirror-markdown'

/**
 * Markdown for Tiptap's node and mark names, with prosemirror-markdown's serializer.
 * Its default serializer is written for its own schema (`bullet_list`, `em`, ...); the
 * entries whose node has the same attributes are reused under Tiptap's names, and the
 * others (code block language, ordered list start) are adapted. Markdown has no
 * underline: underlined text is written without it. Node types without a Markdown form
 * (an embedder's) are written as their content (`strict: false`). `<`, `>` and `&` are
 * escaped too, so text that looks like HTML stays text for a renderer that allows HTML.
 */
const defaults = defaultMarkdownSerializer

const nodes: ConstructorParameters<typeof MarkdownSerializer>[0] = {
  doc: (state, node) => state.renderContent(node),
  paragraph: defaults.nodes['paragraph']!,
  heading: defaults.nodes['heading']!,
  blockquote: defaults.nodes['blockquote']!,
  horizontalRule: defaults.nodes['horizontal_rule']!,
  hardBreak: defaults.nodes['hard_break']!,
  bulletList: (state, node) => state.renderList(node, '  ', () => '- '),
  orderedList: (state, node) => {
    const start = typeof node.attrs['start'] === 'number' ? node.attrs['start'] : 1
    const width = String(start + node.childCount - 1).length
    state.renderList(node, ' '.repeat(width + 2), (i) => `${String(start + i).padStart(width, ' ')}. `)
  },
  listItem: defaults.nodes['list_item']!,
  codeBlock: (state: MarkdownSerializerState, node: ProseMirrorNode) => {
    // A fence longer than any run of backticks inside.
    const longest = Math.max(2, ...(node.textContent.match(/`+/g) ?? []).map((run) => run.length))
    const fence = '`'.repeat(longest + 1)
    const language = typeof node.attrs['language'] === 'string' ? node.attrs['language'].replace(/[\s`]/g, '') : ''
    state.write(`${fence}${language}\n`)
    state.text(node.textContent, false)
    state.ensureNewLine()
    state.write(fence)
    state.closeBlock(node)
  },
  text: defaults.nodes['text']!
}

const marks: ConstructorParameters<typeof MarkdownSerializer>[1] = {
  bold: defaults.marks['strong']!,
  italic: defaults.marks['em']!,
  code: defaults.marks['code']!,
  link: defaults.marks['link']!,
  strike: { open: '~~', close: '~~', mixable: true, expelEnclosingWhitespace: true },
  underline: { open: '', close: '', mixable: true }
}

export function createMarkdownSerializer(schema: Schema): (doc: ProseMirrorNode) => string {
  const serializer = new MarkdownSerializer(nodes, marks, { strict: false, hardBreakNodeName: 'hardBreak', escapeExtraCharacters: /[<>&]/g })
  // Marks the schema has and Markdown does not: their text is written plainly.
  for (const name of Object.keys(schema.marks)) serializer.marks[name] ??= { open: '', close: '' }
  // Loose lists: a tight nested list numbered from other than 1 would not interrupt its
  // item's paragraph (CommonMark) and would read back as text.
  return (doc) => serializer.serialize(doc, { tightLists: false })
}
