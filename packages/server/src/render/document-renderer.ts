import { digestOfParts } from '../api/document-etag.js'
import { createRenderCache } from './render-cache.js'
import type { RenderOutcome, RenderRequest, RenderThread } from './render-thread.js'

export type { RenderFormat, RenderRequest } from './render-thread.js'

export interface RenderedDocument {
  /** UTF-8. */
  readonly body: Uint8Array
  readonly contentType: string
  /** Node and mark types the schema does not know (their text is still rendered). */
  readonly unknownNodes: readonly string[]
}

/**
 * The server's renderer, for the document API and for whatever else renders a document
 * (stored versions): a document in, one format out, off the event loop (render-thread.ts)
 * and cached per document version. The document comes as the updates it is stored or
 * held in, unmerged: the worker applies them in turn, and the event loop never merges a
 * large document to render it. The key is a digest of those updates with the format and
 * field, so the same bytes are rendered once however often they are read; the same
 * content held otherwise (a room's state, the log after a compaction) is a needless
 * render, never a wrong one. Equal requests in flight share one render.
 *
 * Rejects with `RenderRefusedError` for a field that is neither rich text nor text, and
 * with an Error when the worker fails.
 */
export interface DocumentRenderer {
  /** `digest`: `digestOfParts(updates)`, when the caller has it already (for an ETag). */
  render(updates: readonly Uint8Array[], request: RenderRequest, digest?: string): Promise<RenderedDocument>
  /** Renders served from the cache and renders done, since the server started. */
  readonly hits: number
  readonly misses: number
  /** Rendered bodies the cache holds now. */
  readonly cached: number
}

export class RenderRefusedError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RenderRefusedError'
  }
}

export interface DocumentRendererOptions {
  readonly thread: RenderThread
  /** The cache's bound in bytes of rendered bodies (UTF-8). */
  readonly cacheBytes: number
}

/** Per entry beside its body: the key, the list of unknown nodes, the Map's entry. */
const ENTRY_OVERHEAD_BYTES = 256

export function createDocumentRenderer(options: DocumentRendererOptions): DocumentRenderer {
  const cache = createRenderCache<RenderOutcome>(options.cacheBytes)
  /**
   * The key of the newest render of each document (by room, format and field). A
   * document's earlier version is of no use once it was edited and rendered again: only a
   * client that still holds its ETag could ask for it, and it gets the new version. Kept,
   * every edit-and-render of a large document left another body in the cache (110 KiB each
   * for the automerge paper) until the bound pushed the oldest out, memory outside V8's
   * heap that the collector is then run for; with the render cache off, the relay's p99
   * beside about 20 renders a second was 3.1 ms instead of 4.0-4.1 (bench/README.md, AMD
   * EPYC VM, 2026-12-02). Renders without a room (a stored version) are not tracked.
   */
  const newestOfDocument = new Map<string, string>()
  const inFlight = new Map<string, Promise<RenderOutcome>>()

  const keep = (key: string, request: RenderRequest, outcome: RenderOutcome): void => {
    const bytes = 'body' in outcome ? outcome.body.byteLength : outcome.refused.length * 2
    cache.set(key, outcome, bytes + ENTRY_OVERHEAD_BYTES)
    if (request.room === undefined) return
    const document = `${request.room}\u0000${request.format}\u0000${request.field ?? ''}`
    const previous = newestOfDocument.get(document)
    if (previous !== undefined && previous !== key) cache.delete(previous)
    newestOfDocument.set(document, key)
    // Documents whose render the cache has pushed out since are forgotten in passing.
    if (newestOfDocument.size > 2 * cache.size + 64) {
      for (const [name, newest] of newestOfDocument) if (!cache.has(newest)) newestOfDocument.delete(name)
    }
  }
  let hits = 0
  let misses = 0

  const outcomeOf = (updates: readonly Uint8Array[], request: RenderRequest, digest: string): Promise<RenderOutcome> => {
    const key = `${digest}:${request.format}:${request.field ?? ''}`
    const cached = cache.get(key)
    if (cached !== undefined) {
      hits++
      return Promise.resolve(cached)
    }
    const running = inFlight.get(key)
    if (running !== undefined) {
      hits++
      return running
    }
    misses++
    const rendering = options.thread.render(updates, request).then((outcome) => {
      keep(key, request, outcome)
      return outcome
    })
    inFlight.set(key, rendering)
    const forget = (): void => {
      inFlight.delete(key)
    }
    rendering.then(forget, forget)
    return rendering
  }

  return {
    async render(updates, request, digest = digestOfParts(updates)) {
      const outcome = await outcomeOf(updates, request, digest)
      if ('refused' in outcome) throw new RenderRefusedError(outcome.refused)
      return outcome
    },
    get hits() {
      return hits
    },
    get misses() {
      return misses
    },
    get cached() {
      return cache.size
    }
  }
}
