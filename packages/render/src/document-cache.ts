import { createHash } from 'node:crypto'
import * as Y from 'yjs'
import { applyParts } from './document-renderer.js'

/**
 * The `Y.Doc`s the render worker built last, by document, each with the digests of the
 * parts it was built from. The server sends a document as the parts it holds it in,
 * unmerged: the stored snapshot, then the edits since. A document being edited is
 * rendered again and again (a preview beside the editor, a read page reloaded, a backend
 * appending through the API), and its next request begins with the same parts plus a few
 * new ones: those few are applied to the held `Y.Doc` instead of building the whole
 * document again.
 *
 * Building the automerge-paper document (144 KiB) allocated megabytes of structs per
 * render, and the collections of the worker's heap that followed ran partly on V8's
 * helper threads, at the relay's priority on the relay's core (render bench, Intel Xeon
 * VM, 2026-11-30). Applying one appended paragraph allocates next to nothing.
 *
 * Parts are matched by their SHA-256, so a held document is only ever extended by parts
 * that follow exactly the bytes it was built from, whatever the name says: the result is
 * the document those parts hold, as a fresh build would make it (Yjs applies updates in
 * any order to the same state). Bounded: at most `maxDocuments`, and while more than one
 * is held, at most `maxBytes` of their parts' encoded bytes; the least recently used goes
 * first.
 */
export interface DocumentCache {
  /**
   * A `Y.Doc` holding exactly `parts`, the parts of the document named `name`: the one
   * held for that name brought up to date, or a new one. The cache owns it: the caller
   * reads it and neither changes nor destroys it.
   */
  documentOf(name: string, parts: readonly Uint8Array[]): Y.Doc
  /** Documents built from their first part since the cache was made (the rest were extended). */
  readonly builds: number
}

export interface DocumentCacheOptions {
  readonly maxDocuments: number
  readonly maxBytes: number
}

interface HeldDocument {
  digests: string[]
  bytes: number
  readonly doc: Y.Doc
}

export function createDocumentCache(options: DocumentCacheOptions): DocumentCache {
  // By name, least recently used first.
  const held = new Map<string, HeldDocument>()
  let bytes = 0
  let builds = 0

  const drop = (name: string, entry: HeldDocument): void => {
    held.delete(name)
    bytes -= entry.bytes
    entry.doc.destroy()
  }

  return {
    documentOf(name, parts) {
      const digests = parts.map(digestOf)
      const partBytes = parts.reduce((sum, part) => sum + part.byteLength, 0)
      let entry = held.get(name)
      if (entry !== undefined) {
        held.delete(name)
        bytes -= entry.bytes
        if (entry.digests.length <= digests.length && isPrefix(entry.digests, digests)) {
          applyParts(entry.doc, parts.slice(entry.digests.length))
          entry.digests = digests
          entry.bytes = partBytes
        } else {
          // Folded or compacted meanwhile (its first part is another snapshot): built again.
          entry.doc.destroy()
          entry = undefined
        }
      }
      if (entry === undefined) {
        entry = { digests, bytes: partBytes, doc: new Y.Doc({ gc: true }) }
        applyParts(entry.doc, parts)
        builds++
      }
      held.set(name, entry)
      bytes += entry.bytes
      for (const [oldest, old] of held) {
        if (held.size <= options.maxDocuments && (held.size === 1 || bytes <= options.maxBytes)) break
        drop(oldest, old)
      }
      return entry.doc
    },
    get builds() {
      return builds
    }
  }
}

function digestOf(part: Uint8Array): string {
  return createHash('sha256').update(part).digest('base64')
}

function isPrefix(prefix: readonly string[], of: readonly string[]): boolean {
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== of[i]) return false
  return true
}
