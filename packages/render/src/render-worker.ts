/**
 * Worker thread entry (`@quire/render/worker`): the server starts it on the first render
 * and stops it when idle, so the renderer, Tiptap and ProseMirror are loaded only in
 * this thread and only by a server that renders. Loads the schema once (the module in
 * `workerData.extensionsModule`, or the demo's extensions), then answers one message per
 * render:
 *
 *   in:  { id, updates: Uint8Array[] (transferred; the document's parts, applied in turn), format, field?, room? }
 *   out: { id, body: Uint8Array (UTF-8, transferred), contentType, unknownNodes } | { id, refused } | { id, error }
 *
 * The body goes back as UTF-8 bytes in a buffer of its own, transferred: a string would
 * be copied into the server's heap (a 110 KiB page, every render), where the full
 * collections that such strings bring on pause the relay; bytes outside the heap are
 * what the server writes to the socket anyway.
 *
 * The documents rendered last stay built (document-cache.ts): the next render of one that
 * was edited meanwhile applies only its new parts.
 */
import { platform } from 'node:process'
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
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

// A render is background work: where it shares a core with the relay (a server pinned
// to one core, or a busy machine), the scheduler should run the relay first. On Linux
// `setpriority(PRIO_PROCESS, 0)` applies to the calling thread only, so this lowers the
// worker's priority and leaves the relay's main thread alone; elsewhere it would renice
// the whole process, so it is Linux only.
if (platform === 'linux') {
  try {
    setPriority(19)
  } catch {
    // A container that forbids it renders at the process's priority.
  }
}

const options = (workerData ?? {}) as { readonly extensionsModule?: string }
let renderer: Promise<DocumentRenderer> | null = null
// A few documents, and a few MiB of their encoding (tens of MiB of this thread's heap at
// most): enough for the documents being edited now; the worker stops when idle anyway.
const documents = createDocumentCache({ maxDocuments: 4, maxBytes: 4 * 1024 * 1024 })

parentPort?.on('message', (job: RenderJob) => {
  renderer ??= loadRenderSchema(options.extensionsModule).then(createDocumentRenderer)
  renderer.then(
    (r) => {
      const request = job.field === undefined ? { format: job.format } : { format: job.format, field: job.field }
      const result = job.room === undefined ? r.render(job.updates, request) : r.renderDoc(documents.documentOf(job.room, job.updates), request)
      if ('refused' in result) {
        parentPort?.postMessage({ id: job.id, ...result })
        return
      }
      // TextEncoder gives a buffer of its own (Buffer.from may hand out a slice of a shared pool).
      const body = new TextEncoder().encode(result.body)
      parentPort?.postMessage({ id: job.id, ...result, body }, [body.buffer])
    },
    (error: unknown) => {
      throw error
    }
  ).catch((error: unknown) => {
    parentPort?.postMessage({ id: job.id, error: error instanceof Error ? error.message : String(error) })
  })
})
