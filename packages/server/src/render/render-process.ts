import { fork } from 'node:child_process'
import { createRequire } from 'node:module'
import { createOnDemandWorker, processWorker } from '../on-demand-worker.js'

/** The formats the renderer writes (see `@quire/render`). */
export type RenderFormat = 'html' | 'markdown' | 'text' | 'prosemirror-json'

export interface RenderRequest {
  readonly format: RenderFormat
  /** The top-level field; `default` (Tiptap's) when absent. */
  readonly field?: string
  /**
   * The document's name: the worker keeps it built, and the next render of it applies only
   * the parts added since (see `@quire/render`'s document-cache.ts). Absent for a one-off
   * (a stored version), built for that render only.
   */
  readonly room?: string
}

export type RenderOutcome =
  /** `body`: UTF-8 bytes (see `@quire/render/worker`). */
  | { readonly body: Uint8Array; readonly contentType: string; readonly unknownNodes: readonly string[] }
  | { readonly refused: string }

/**
 * The child process that renders documents (`@quire/render/worker`), started on the first
 * render and stopped after IDLE_STOP_MS without one, like the compaction thread (see
 * compaction-thread.ts for why not sooner). A worker of its own rather than the
 * compaction thread: the renderer loads Tiptap and ProseMirror (tens of MB of heap),
 * which a server that never renders should not carry, and a long render must not hold
 * up a compaction. The server's main thread never imports `@quire/render`: it only
 * resolves the worker's file, so an embedder who never renders loads none of it.
 *
 * A process rather than a thread, so that all of a render runs at the lowest priority.
 * Rendering is background work, and where it shares a core with the relay (a server
 * pinned to one core, or a busy machine) the scheduler should run the relay first. A
 * worker thread can lower its own priority, but its garbage collection and optimizing
 * compiles run on V8's helper threads, which a process shares between all its isolates
 * and which must run at the relay's priority for the relay's own collections: rendering
 * the 144 KiB paper again and again (render bench, Intel Xeon VM, 2026-11-30), those
 * helpers took about as much of the relay's core as the renders themselves, and the
 * relay's fan-out p99 went from 2.2 to 5-6 ms. The child lowers every one of its threads
 * (see `@quire/render/worker`). The price: a document's parts cross a pipe, copied (a
 * few hundred KiB for a long document), and the process costs some 40 MB while it runs.
 *
 * Renders run one at a time in the process; the cache and the coalescing of equal
 * requests are the caller's (document-renderer.ts).
 */
export interface RenderProcess {
  /** `updates`: the document's parts, applied in turn in the worker (merged there, not here). */
  render(updates: readonly Uint8Array[], request: RenderRequest): Promise<RenderOutcome>
  close(): Promise<void>
}

export interface RenderProcessOptions {
  /** A module (file URL) exporting `extensions` or `schema`, imported by the worker; absent: the demo's StarterKit. */
  readonly extensionsModule: string | undefined
  /** Called once each worker is running (see `ServerOptions.onWorkerStarted`). */
  readonly onStarted?: (() => void) | undefined
}

const IDLE_STOP_MS = 10_000

export function createRenderProcess(options: RenderProcessOptions): RenderProcess {
  const worker = createOnDemandWorker<RenderOutcome>({
    name: 'render worker',
    // Resolved by Node, not by a bundler or vitest: the built worker of @quire/render.
    create: () =>
      processWorker(
        fork(createRequire(import.meta.url).resolve('@quire/render/worker'), options.extensionsModule === undefined ? [] : [options.extensionsModule], {
          // Bytes cross as bytes (structured clone), not as JSON arrays of numbers.
          serialization: 'advanced',
          // Not the server's own flags (a test runner's loaders, an inspector port).
          execArgv: [],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc']
        })
      ),
    idleStopMs: IDLE_STOP_MS,
    onStarted: options.onStarted
  })

  return {
    async render(updates, request) {
      // Serialized (copied) as it is sent: the room's bytes are not handed over.
      const answer = await worker.request({ updates, ...request }, [])
      return 'refused' in answer ? { refused: answer.refused } : { body: answer.body, contentType: answer.contentType, unknownNodes: answer.unknownNodes }
    },
    close() {
      return worker.close()
    }
  }
}
