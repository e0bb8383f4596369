/**
 * The render process's entry (`@quire/render/worker`): the server forks it on the first
 * render (with `serialization: 'advanced'`) and stops it when idle, so the renderer,
 * Tiptap and ProseMirror are loaded only there and only by a server that renders. Loads
 * the schema once (the module named by its first argument, or the demo's extensions),
 * then answers one message per render:
 *
 *   in:  { id, updates: Uint8Array[] (the document's parts, applied in turn), format, field?, room? }
 *   out: { id, body: Uint8Array (UTF-8), contentType, unknownNodes } | { id, refused } | { id, error }
 *
 * The body goes back as UTF-8 bytes: a string would land in the server's heap (a 110 KiB
 * page, every render), where the full collections that such strings bring on pause the
 * relay; bytes outside the heap are what the server writes to the socket anyway.
 *
 * The documents rendered last stay built (document-cache.ts): the next render of one that
 * was edited meanwhile applies only its new parts.
 */
import { readdirSync } from 'node:fs'
import { setPriority } from 'node:os'
import { argv, platform } from 'node:process'
import { createDocumentCache } from './document-cache.js'
import { createDocumentRenderer, type DocumentRenderer } from './document-renderer.js'
import type { RenderRequest } from './render-request.js'
import { loadRenderSchema } from './render-schema.js'

interface RenderJob extends RenderRequest {
  readonly id: number
  readonly updates: readonly Uint8Array[]
  /** The document's name, to keep it built for its next render; absent for a one-off (a stored version). */
  readonly room?: string
}

/**
 * Rendering is background work: where it shares a core with the relay, the scheduler
 * should run the relay first, and that includes this process's garbage collection and
 * optimizing compiles, which run on V8's helper threads. On Linux a priority belongs to a
 * thread and new threads inherit their creator's, so every thread running now (the main
 * one and V8's helpers, started before this code) is lowered one by one; elsewhere
 * `setPriority` applies to the whole process.
 */
function lowerPriority(): void {
  try {
    if (platform !== 'linux') {
      setPriority(19)
      return
    }
    for (const thread of readdirSync('/proc/self/task')) setPriority(Number(thread), 19)
  } catch {
    // A container that forbids it renders at the server's priority.
  }
}

lowerPriority()

// The server went away (crashed, or was killed): nothing is left to render for.
process.on('disconnect', () => process.exit(0))

const extensionsModule = argv[2]
let renderer: Promise<DocumentRenderer> | null = null
// A few documents, and a few MiB of their encoding (tens of MiB of this process's heap
// at most): enough for the documents being edited now; the process stops when idle anyway.
const documents = createDocumentCache({ maxDocuments: 4, maxBytes: 4 * 1024 * 1024 })

const answer = (message: object): void => {
  process.send?.(message)
}

process.on('message', (message: unknown) => {
  const job = message as RenderJob
  renderer ??= loadRenderSchema(extensionsModule).then(createDocumentRenderer)
  renderer.then(
    (r) => {
      const request = job.field === undefined ? { format: job.format } : { format: job.format, field: job.field }
      const result = job.room === undefined ? r.render(job.updates, request) : r.renderDoc(documents.documentOf(job.room, job.updates), request)
      if ('refused' in result) {
        answer({ id: job.id, ...result })
        return
      }
      answer({ id: job.id, ...result, body: new TextEncoder().encode(result.body) })
    },
    (error: unknown) => {
      throw error
    }
  ).catch((error: unknown) => {
    answer({ id: job.id, error: error instanceof Error ? error.message : String(error) })
  })
})
