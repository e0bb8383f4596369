import { getSchema, type Extensions } from '@tiptap/core'
import type { Schema } from '@tiptap/pm/model'
import { createDefaultExtensions } from './default-extensions.js'

/**
 * The schema documents are rendered with, and the Tiptap extensions it came from (null
 * when an embedder gave a bare ProseMirror schema: HTML then comes from the schema's own
 * `toDOM`, not from Tiptap's static renderer).
 */
export interface RenderSchema {
  readonly schema: Schema
  readonly extensions: Extensions | null
}

export type RenderSchemaSource = { readonly extensions: Extensions } | { readonly schema: Schema }

export function createRenderSchema(source: RenderSchemaSource = { extensions: createDefaultExtensions() }): RenderSchema {
  if ('extensions' in source) return { schema: getSchema(source.extensions), extensions: source.extensions }
  return { schema: source.schema, extensions: null }
}

/**
 * The schema an embedder's module gives: it exports `extensions` (an array of Tiptap
 * extensions) or `schema` (a ProseMirror Schema), or one of them as its default export.
 * A module, not objects, because rendering runs in a worker thread: extensions are
 * functions and cannot be sent to one, so the worker imports the module itself. Without
 * a module, the demo's extensions (StarterKit).
 */
export async function loadRenderSchema(moduleUrl: string | undefined): Promise<RenderSchema> {
  if (moduleUrl === undefined) return createRenderSchema()
  const loaded = (await import(moduleUrl)) as Record<string, unknown>
  for (const value of [loaded['extensions'], loaded['schema'], loaded['default']]) {
    if (Array.isArray(value)) return createRenderSchema({ extensions: value as Extensions })
    if (isSchema(value)) return createRenderSchema({ schema: value })
  }
  throw new Error(`the render extensions module ${moduleUrl} exports neither "extensions" (an array of Tiptap extensions) nor "schema" (a ProseMirror Schema)`)
}

// By shape, not instanceof: the embedder's module may have its own copy of prosemirror-model.
function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && 'nodes' in value && 'marks' in value && 'topNodeType' in value
}
