import type { DOMOutputSpec } from '@tiptap/pm/model'
import { isSafeUrl } from './safe-url.js'

/**
 * A `DOMOutputSpec` (what a node's `renderHTML` or `toDOM` returns) with whatever could
 * run script or leave the page removed, before it becomes HTML text. The static renderer
 * escapes text and attribute values; this covers what escaping does not: elements that
 * run or load things, event-handler attributes, URLs with other schemes than http, https
 * and mailto, and attribute names that are not plain names (the static renderer writes
 * names as they are). The default extensions produce none of these; an embedder's
 * extensions, or attribute values a document carries into them, might.
 */
const DROPPED_ELEMENTS = new Set([
  'script', 'style', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'link', 'meta',
  'form', 'input', 'button', 'textarea', 'select', 'option', 'template', 'svg', 'math', 'noscript', 'portal'
])
const URL_ATTRIBUTES = new Set(['href', 'src', 'action', 'formaction', 'xlink:href', 'poster', 'background', 'cite', 'data', 'longdesc', 'usemap'])
const DROPPED_ATTRIBUTES = new Set(['srcdoc', 'srcset', 'style', 'http-equiv'])
const PLAIN_NAME = /^[a-z][a-z0-9-]*$/i

export function toSafeOutputSpec(spec: DOMOutputSpec): DOMOutputSpec {
  if (typeof spec === 'string' || !Array.isArray(spec)) return typeof spec === 'string' ? spec : ['span', 0]
  const [tagSpec, ...rest] = spec as readonly unknown[]
  const tag = String(tagSpec).split(' ').at(-1)?.toLowerCase() ?? 'span'
  const safeTag = DROPPED_ELEMENTS.has(tag) || !PLAIN_NAME.test(tag) ? 'span' : tag
  const out: unknown[] = [safeTag]
  let children = rest
  const first = rest[0]
  if (typeof first === 'object' && first !== null && !Array.isArray(first)) {
    if (safeTag === tag) out.push(safeAttributes(first as Record<string, unknown>))
    children = rest.slice(1)
  }
  for (const child of children) out.push(child === 0 ? 0 : toSafeOutputSpec(child as DOMOutputSpec))
  return out as unknown as DOMOutputSpec
}

function safeAttributes(attributes: Record<string, unknown>): Record<string, unknown> {
  const safe: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(attributes)) {
    const lower = name.toLowerCase()
    if (!PLAIN_NAME.test(name) || lower.startsWith('on') || DROPPED_ATTRIBUTES.has(lower)) continue
    if (URL_ATTRIBUTES.has(lower) && value !== null && value !== undefined && !isSafeUrl(String(value))) continue
    safe[name] = value
  }
  return safe
}
