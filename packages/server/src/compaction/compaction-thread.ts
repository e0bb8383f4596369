import { Worker } from 'node:worker_threads'
import type { CompactionRequest, CompactionResponse } from './compaction-worker.js'

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
    // From source (tests) the worker is TypeScript and needs tsx; built, it is plain JS.
    const fromSource = import.meta.url.endsWith('.ts')
    const url = new URL(fromSource ? './compaction-worker.ts' : './compaction-worker.js', import.meta.url)
    const w = new Worker(url, fromSource ? { execArgv: ['--import', 'tsx'] } : {})
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
