import { createRequire } from 'node:module'
import { forkWorker } from '../forked-worker.js'
import { createOnDemandWorker } from '../on-demand-worker.js'

/** The formats the renderer writes (see `@quire/render`). */
export type RenderFormat = 'html' | 'markdown' | 'text' | 'prosemirror-json'

export interface RenderRequest {
  readonly format: RenderFormat
  /** The top-level field; `default` (Tiptap's) when absent. */
  readonly field?: string
}

export type RenderOutcome =
  /** `body`: UTF-8, in a buffer outside the heap (see `@quire/render/worker`). */
  | { readonly body: Uint8Array; readonly contentType: string; readonly unknownNodes: readonly string[] }
  | { readonly refused: string }

/**
 * The child process that renders documents (`@quire/render/worker`), started on the
 * first render and stopped after IDLE_STOP_MS without one, like the compaction thread
 * (see compaction-thread.ts for why not sooner). Not the compaction thread: the renderer
 * loads Tiptap and ProseMirror (tens of MB of heap), which a server that never renders
 * should not carry, and a long render must not hold up a compaction. Not a thread at all:
 * a render allocates megabytes, and a worker thread's collections run on the V8 helper
 * threads it shares with the relay, at the relay's priority, on the relay's core; in a
 * process of its own every thread of the renderer runs at the lowest priority (nice 19
 * on Linux; see forked-worker.ts). Measured with `pnpm bench --scenario render`: see the
 * bench README. The server's main thread never imports `@quire/render`: it only resolves
 * the worker's file, so an embedder who never renders loads none of it.
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

type WorkerAnswer = RenderOutcome

const IDLE_STOP_MS = 10_000

export function createRenderProcess(options: RenderProcessOptions): RenderProcess {
  const worker = createOnDemandWorker<WorkerAnswer>({
    name: 'render worker',
    // Resolved by Node, not by a bundler or vitest: the built worker of @quire/render.
    create: () => forkWorker(createRequire(import.meta.url).resolve('@quire/render/worker'), { extensionsModule: options.extensionsModule ?? null }),
    idleStopMs: IDLE_STOP_MS,
    onStarted: options.onStarted
  })

  return {
    async render(updates, request) {
      // Copied into the message by the IPC channel, which would copy a view's whole buffer:
      // a view into a larger buffer (a read of several values) goes as a copy of its own.
      const parts = updates.map((update) => (update.byteLength === update.buffer.byteLength ? update : update.slice()))
      const answer = await worker.request({ updates: parts, format: request.format, ...(request.field === undefined ? {} : { field: request.field }) }, [])
      return 'refused' in answer ? { refused: answer.refused } : { body: answer.body, contentType: answer.contentType, unknownNodes: answer.unknownNodes }
    },
    close() {
      return worker.close()
    }
  }
}
