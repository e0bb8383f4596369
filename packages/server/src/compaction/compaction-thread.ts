import { Worker } from 'node:worker_threads'

interface CompactionRequest {
  readonly id: number
  readonly updates: Uint8Array[]
}

type CompactionResponse = { readonly id: number; readonly snapshot: Uint8Array } | { readonly id: number; readonly error: string }

/**
 * A worker thread that compacts one log at a time, started on demand and stopped after
 * IDLE_STOP_MS without work: a worker is a whole V8 isolate whose heap grew to the
 * largest document it loaded, memory an idle server should give back.
 */
export interface CompactionThread {
  compact(updates: Uint8Array[]): Promise<Uint8Array>
  close(): Promise<void>
}

const IDLE_STOP_MS = 2000

export function createCompactionThread(): CompactionThread {
  let worker: Worker | null = null
  let idleTimer: ReturnType<typeof setTimeout> | null = null

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
  let nextId = 1
  const waiting = new Map<number, { resolve: (s: Uint8Array) => void; reject: (e: Error) => void }>()

  const start = (): Worker => {
    // Plain JS beside this module, in src and in dist alike.
    const w = new Worker(new URL('./compaction-worker.js', import.meta.url))
    w.unref()
    w.on('message', (response: CompactionResponse) => {
      const job = waiting.get(response.id)
      if (!job) return
      waiting.delete(response.id)
      if ('snapshot' in response) job.resolve(response.snapshot)
      else job.reject(new Error(`compaction failed: ${response.error}`))
      stopWhenIdle()
    })
    w.on('error', (error) => failAll(error))
    w.on('exit', (code) => {
      if (worker === w) worker = null
      if (waiting.size > 0) failAll(new Error(`compaction worker exited with code ${code}`))
    })
    return w
  }

  const failAll = (error: Error): void => {
    for (const job of waiting.values()) job.reject(error)
    waiting.clear()
  }

  return {
    compact(updates) {
      if (idleTimer !== null) clearTimeout(idleTimer)
      idleTimer = null
      worker ??= start()
      const id = nextId++
      const request: CompactionRequest = { id, updates }
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        worker?.postMessage(request)
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

