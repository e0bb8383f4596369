/**
 * Render worker entry (`@quire/render/worker`), as a child process forked by the server
 * (what Quire does) or as a worker thread: the server starts it on the first render and
 * stops it when idle, so the renderer, Tiptap and ProseMirror are loaded only here and
 * only by a server that renders. Loads the schema once (the module named in the options:
 * `process.argv[2]` as JSON in a process, `workerData` in a thread; the demo's extensions
 * when absent), then answers one message per render:
 *
 *   in:  { id, updates: Uint8Array[] (the document's parts, applied in turn), format, field? }
 *   out: { id, body: Uint8Array (UTF-8), contentType, unknownNodes } | { id, refused } | { id, error }
 *
 * The body goes back as UTF-8 bytes in a buffer of its own (transferred to a thread): a
 * string would land in the server's heap (a 110 KiB page, every render), where the full
 * collections that such strings bring on pause the relay; bytes outside the heap are
 * what the server writes to the socket anyway.
 */
import { readdirSync } from 'node:fs'
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

/** Where jobs come from and answers go: the parent thread, or the parent process over IPC. */
interface JobPort {
  onJob(listener: (job: RenderJob) => void): void
  answer(message: object, transfer: ArrayBuffer[]): void
}

function jobPort(): JobPort {
  const thread = parentPort
  if (thread !== null) {
    return { onJob: (listener) => thread.on('message', listener), answer: (message, transfer) => thread.postMessage(message, transfer) }
  }
  const send = process.send?.bind(process)
  if (send === undefined) throw new Error('@quire/render/worker runs as a worker thread or as a forked child process, not on its own')
  // The server went away (even killed with SIGKILL): nothing is left to render for.
  process.on('disconnect', () => process.exit(0))
  return { onJob: (listener) => process.on('message', listener), answer: (message) => send(message) }
}

// A render is background work: where it shares a core with the relay (a server pinned
// to one core, or a busy machine), the scheduler should run the relay first. On Linux
// `setpriority(PRIO_PROCESS, id)` applies to one thread. In a child process of its own,
// every thread of the process is lowered: the V8 helper threads that collect this heap
// too, which would otherwise take the relay's core at its priority (threads started
// later inherit it). As a worker thread only this thread can be lowered, since the
// others are the server's. Elsewhere than Linux it would renice a whole process, so
// there it is done only in a child process.
function lowerPriority(): void {
  try {
    if (parentPort === null) {
      if (platform === 'linux') for (const tid of readdirSync('/proc/self/task')) setPriority(Number(tid), 19)
      else setPriority(19)
    } else if (platform === 'linux') {
      setPriority(19)
    }
  } catch {
    // A container that forbids it renders at the process's priority.
  }
}

lowerPriority()
const port = jobPort()
const options = (parentPort === null ? JSON.parse(process.argv[2] ?? '{}') : (workerData ?? {})) as { readonly extensionsModule?: string | null }
let renderer: Promise<DocumentRenderer> | null = null

port.onJob((job) => {
  renderer ??= loadRenderSchema(options.extensionsModule ?? undefined).then(createDocumentRenderer)
  renderer.then(
    (r) => {
      const result = r.render(job.updates, job.field === undefined ? { format: job.format } : { format: job.format, field: job.field })
      if ('refused' in result) {
        port.answer({ id: job.id, ...result }, [])
        return
      }
      // TextEncoder gives a buffer of its own (Buffer.from may hand out a slice of a shared pool).
      const body = new TextEncoder().encode(result.body)
      port.answer({ id: job.id, ...result, body }, [body.buffer])
    },
    (error: unknown) => {
      throw error
    }
  ).catch((error: unknown) => {
    port.answer({ id: job.id, error: error instanceof Error ? error.message : String(error) }, [])
  })
})
