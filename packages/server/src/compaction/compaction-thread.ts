import { Worker } from 'node:worker_threads'

interface CompactionRequest {
  readonly id: number
  readonly updates: Uint8Array[]
}

type CompactionResponse = { readonly id: number; readonly snapshot: Uint8Array } | { readonly id: number; readonly error: string }

/** A lazily started worker thread that compacts one log at a time. */
export interface CompactionThread {
  compact(updates: Uint8Array[]): Promise<Uint8Array>
  close(): Promise<void>
}

export function createCompactionThread(): CompactionThread {
  let worker: Worker | null = null
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
    })
    w.on('error', (error) => failAll(error))
    w.on('exit', (code) => {
      worker = null
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
      worker ??= start()
      const id = nextId++
      const request: CompactionRequest = { id, updates }
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        worker?.postMessage(request)
      })
    },
    async close() {
      const w = worker
      worker = null
      if (w) await w.terminate()
    }
  }
}

