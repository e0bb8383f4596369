import type { Extensions } from '@tiptap/core'
import StarterKit from '@tiptap/starter-kit'

/**
 * The demo's editor schema (demo/src/rich-text-editor.ts): StarterKit without its undo
 * history and trailing node, which add editor plugins only and no node or mark. The
 * Collaboration extensions add none either. A new array each call: extensions hold
 * configuration an embedder might change.
 */
export function createDefaultExtensions(): Extensions {
  return [StarterKit.configure({ undoRedo: false, trailingNode: false })]
}
