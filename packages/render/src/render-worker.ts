/**
 * Worker thread entry (`@quire/render/worker`): the server starts it on the first render
 * and stops it when idle, so the renderer, Tiptap and ProseMirror are loaded only in
 * this thread and only by a server that renders. Loads the schema once (the module in
 * `workerData.extensionsModule`, or the demo's extensions), then answers one message per
 * render:
 *
 *   in:  { id, updates: Uint8Array[] (transferred; the document's parts, applied in turn), format, field? }
 *   out: { id, body, contentType, unknownNodes } | { id, refused } | { id, error }
 */
import { platform } from 'node:process'
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { createDocumentRenderer, type DocumentRenderer } from './document-renderer.js'
import type { RenderRequest } from './render-request.js'
import { loadRenderSchema } from './render-schema.js'

interface RenderJob extends RenderRequest {
  readonly id: number
  readonly updates: readonly Uint8Array[]
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

parentPort?.on('message', (job: RenderJob) => {
  renderer ??= loadRenderSchema(options.extensionsModule).then(createDocumentRenderer)
  renderer.then(
    (r) => {
      const result = r.render(job.updates, job.field === undefined ? { format: job.format } : { format: job.format, field: job.field })
      parentPort?.postMessage({ id: job.id, ...result })
    },
    (error: unknown) => {
      throw error
    }
  ).catch((error: unknown) => {
    parentPort?.postMessage({ id: job.id, error: error instanceof Error ? error.message : String(error) })
  })
})
