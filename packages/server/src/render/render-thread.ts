import { createRequire } from 'node:module'
import { setFlagsFromString } from 'node:v8'
import { Worker } from 'node:worker_threads'
import { createOnDemandWorker } from '../on-demand-worker.js'

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
  /** `body`: UTF-8, in a buffer outside the heap (see `@quire/render/worker`). */
  | { readonly body: Uint8Array; readonly contentType: string; readonly unknownNodes: readonly string[] }
  | { readonly refused: string }

/**
 * The worker thread that renders documents (`@quire/render/worker`), started on the
 * first render and stopped after IDLE_STOP_MS without one, like the compaction thread
 * (see compaction-thread.ts for why not sooner). A thread of its own rather than the
 * compaction thread's: the renderer loads Tiptap and ProseMirror (tens of MB of heap),
 * which a server that never renders should not carry, and a long render must not hold
 * up a compaction. The server's main thread never imports `@quire/render`: it only
 * resolves the worker's file, so an embedder who never renders loads none of it.
 *
 * Renders run one at a time in the thread; the cache and the coalescing of equal
 * requests are the caller's (document-renderer.ts).
 */
export interface RenderThread {
  /** `updates`: the document's parts, applied in turn in the worker (merged there, not here). */
  render(updates: readonly Uint8Array[], request: RenderRequest): Promise<RenderOutcome>
  close(): Promise<void>
}

export interface RenderThreadOptions {
  /** A module (file URL) exporting `extensions` or `schema`, imported by the worker; absent: the demo's StarterKit. */
  readonly extensionsModule: string | undefined
  /** Called once each worker is running (see `ServerOptions.onWorkerStarted`). */
  readonly onStarted?: (() => void) | undefined
}

const IDLE_STOP_MS = 10_000

/**
 * Isolates created from now on (the render worker about to start) compile optimized code
 * on their own thread rather than on V8's helper threads, which the whole process shares
 * and which run at the relay's priority: the render worker's thread runs at nice 19, but
 * its optimizing compiler did not. Rendering the 144 KiB paper again and again (render
 * bench, Intel Xeon VM, 2026-11-30), the helpers took about as much of the relay's core as
 * the renders themselves, compiling a third of that time (`perf`): Tiptap's and Yjs'
 * per-call closures were optimized again and again. An isolate reads the flag once, when
 * it is created (it decides whether it has a concurrent compiler at all), so the relay's
 * own isolate, created long before, keeps compiling in the background. Isolates an
 * embedder creates afterwards in the same process compile on their own threads too.
 */
function compileOnOwnThreadFromNowOn(): void {
  setFlagsFromString('--no-concurrent-recompilation')
}

export function createRenderThread(options: RenderThreadOptions): RenderThread {
  const worker = createOnDemandWorker<RenderOutcome>({
    name: 'render worker',
    // Resolved by Node, not by a bundler or vitest: the built worker of @quire/render.
    create: () => {
      compileOnOwnThreadFromNowOn()
      return new Worker(createRequire(import.meta.url).resolve('@quire/render/worker'), { workerData: { extensionsModule: options.extensionsModule } })
    },
    idleStopMs: IDLE_STOP_MS,
    onStarted: options.onStarted
  })

  return {
    async render(updates, request) {
      // Copies: their buffers are transferred, and the caller's bytes may be the room's state.
      const copies = updates.map((update) => update.slice())
      const transfer = copies.map((copy) => copy.buffer as ArrayBuffer)
      const answer = await worker.request({ updates: copies, ...request }, transfer)
      return 'refused' in answer ? { refused: answer.refused } : { body: answer.body, contentType: answer.contentType, unknownNodes: answer.unknownNodes }
    },
    close() {
      return worker.close()
    }
  }
}
