import type { Schema } from '@tiptap/pm/model'
import MarkdownIt from 'markdown-it'
import { MarkdownParser } from 'prosemirror-markdown'

/**
 * Markdown read back into a document of Tiptap's StarterKit schema, with
 * prosemirror-markdown's parser (markdown-it, CommonMark with strikethrough, no HTML):
 * the inverse of createMarkdownSerializer for what Markdown can hold (not underline).
 * For round trips and imports.
 */
export function createMarkdownParser(schema: Schema): MarkdownParser {
  const tokenizer = MarkdownIt('commonmark', { html: false }).enable('strikethrough')
  return new MarkdownParser(schema, tokenizer, {
    blockquote: { block: 'blockquote' },
    paragraph: { block: 'paragraph' },
    list_item: { block: 'listItem' },
    bullet_list: { block: 'bulletList' },
    ordered_list: { block: 'orderedList', getAttrs: (token) => ({ start: Number(token.attrGet('start') ?? 1) }) },
    heading: { block: 'heading', getAttrs: (token) => ({ level: Number(token.tag.slice(1)) }) },
    code_block: { block: 'codeBlock', noCloseToken: true },
    fence: { block: 'codeBlock', getAttrs: (token) => ({ language: token.info === '' ? null : token.info }), noCloseToken: true },
    hr: { node: 'horizontalRule' },
    hardbreak: { node: 'hardBreak' },
    em: { mark: 'italic' },
    strong: { mark: 'bold' },
    s: { mark: 'strike' },
    link: { mark: 'link', getAttrs: (token) => ({ href: token.attrGet('href'), title: token.attrGet('title') ?? null }) },
    code_inline: { mark: 'code', noCloseToken: true }
  })
}
