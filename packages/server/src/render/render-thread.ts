import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/** The formats the renderer writes (see `@quire/render`). */
export type RenderFormat = 'html' | 'markdown' | 'text' | 'prosemirror-json'

export interface RenderRequest {
  readonly format: RenderFormat
  /** The top-level field; `default` (Tiptap's) when absent. */
  readonly field?: string
}

export type RenderOutcome =
  | { readonly body: string; readonly contentType: string; readonly unknownNodes: readonly string[] }
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
  render(update: Uint8Array, request: RenderRequest): Promise<RenderOutcome>
  close(): Promise<void>
}

export interface RenderThreadOptions {
  /** A module (file URL) exporting `extensions` or `schema`, imported by the worker; absent: the demo's StarterKit. */
  readonly extensionsModule: string | undefined
  /** Called once each worker is running (see `ServerOptions.onWorkerStarted`). */
  readonly onStarted?: (() => void) | undefined
}

type WorkerAnswer = { readonly id: number } & (RenderOutcome | { readonly error: string })

const IDLE_STOP_MS = 10_000

export function createRenderThread(options: RenderThreadOptions): RenderThread {
  let worker: Worker | null = null
  let idleTimer: ReturnType<typeof setTimeout> | null = null
  let nextId = 1
  const waiting = new Map<number, { resolve: (outcome: RenderOutcome) => void; reject: (e: Error) => void }>()

  const stopWhenIdle = (): void => {
    if (waiting.size > 0 || idleTimer !== null) return
    idleTimer = setTimeout(() => {
      idleTimer = null
      const w = worker
      if (w === null || waiting.size > 0) return
      worker = null
      void w.terminate()
    }, IDLE_STOP_MS)
    idleTimer.unref()
  }

  const failAll = (error: Error): void => {
    for (const job of waiting.values()) job.reject(error)
    waiting.clear()
  }

  const start = (): Worker => {
    // Resolved by Node, not by a bundler or vitest: the built worker of @quire/render.
    const script = createRequire(import.meta.url).resolve('@quire/render/worker')
    const w = new Worker(script, { workerData: { extensionsModule: options.extensionsModule } })
    w.unref()
    if (options.onStarted) w.once('online', options.onStarted)
    w.on('message', (answer: WorkerAnswer) => {
      const job = waiting.get(answer.id)
      if (!job) return
      waiting.delete(answer.id)
      if ('error' in answer) job.reject(new Error(`render worker failed: ${answer.error}`))
      else job.resolve('refused' in answer ? { refused: answer.refused } : { body: answer.body, contentType: answer.contentType, unknownNodes: answer.unknownNodes })
      stopWhenIdle()
    })
    w.on('error', (error) => failAll(error))
    w.on('exit', (code) => {
      if (worker === w) worker = null
      if (waiting.size > 0) failAll(new Error(`render worker exited with code ${code}`))
    })
    return w
  }

  return {
    render(update, request) {
      if (idleTimer !== null) clearTimeout(idleTimer)
      idleTimer = null
      worker ??= start()
      const id = nextId++
      // A copy: the buffer is transferred, and the caller's bytes may be the room's state.
      const copy = update.slice()
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        worker?.postMessage({ id, update: copy, format: request.format, ...(request.field === undefined ? {} : { field: request.field }) }, [copy.buffer as ArrayBuffer])
      })
    },
    async close() {
      if (idleTimer !== null) clearTimeout(idleTimer)
      idleTimer = null
      const w = worker
      worker = null
      if (w) await w.terminate()
    }
  }
}
