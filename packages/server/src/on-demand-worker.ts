import type { Worker } from 'node:worker_threads'

/**
 * A worker thread started on the first request and stopped after `idleStopMs` without
 * one, answering requests by id: the lifecycle the compaction thread and the render
 * thread share. A worker is a whole V8 isolate whose heap grew to the largest job it
 * ran, memory an idle server should give back; but starting one costs 0.2-0.4 s of CPU
 * (see compaction-thread.ts), so it is kept for a while rather than per job.
 *
 * Requests are posted as `{ id, ...message }`; the worker answers `{ id, ...answer }`, or
 * `{ id, error }` when the job failed. A worker that crashes or exits fails every request
 * waiting for it, and the next request starts a new one.
 */
export interface OnDemandWorker<Answer> {
  request(message: object, transfer: ArrayBuffer[]): Promise<Answer>
  close(): Promise<void>
}

export interface OnDemandWorkerOptions {
  /** For error messages: "compaction worker", "render worker". */
  readonly name: string
  /** Starts the thread (the caller's script and its data). */
  readonly create: () => Worker
  readonly idleStopMs: number
  /** Called once each worker is running (see `ServerOptions.onWorkerStarted`). */
  readonly onStarted?: (() => void) | undefined
}

type WorkerAnswer<Answer> = { readonly id: number } & (Answer | { readonly error: string })

export function createOnDemandWorker<Answer extends object>(options: OnDemandWorkerOptions): OnDemandWorker<Answer> {
  let worker: Worker | null = null
  let idleTimer: ReturnType<typeof setTimeout> | null = null
  let nextId = 1
  const waiting = new Map<number, { resolve: (answer: Answer) => void; reject: (e: Error) => void }>()

  const stopWhenIdle = (): void => {
    if (waiting.size > 0 || idleTimer !== null) return
    idleTimer = setTimeout(() => {
      idleTimer = null
      const w = worker
      if (w === null || waiting.size > 0) return
      worker = null
      void w.terminate()
    }, options.idleStopMs)
    idleTimer.unref()
  }

  const failAll = (error: Error): void => {
    for (const job of waiting.values()) job.reject(error)
    waiting.clear()
  }

  const start = (): Worker => {
    const w = options.create()
    w.unref()
    if (options.onStarted) w.once('online', options.onStarted)
    w.on('message', (answer: WorkerAnswer<Answer>) => {
      const job = waiting.get(answer.id)
      if (!job) return
      waiting.delete(answer.id)
      if ('error' in answer) job.reject(new Error(`${options.name} failed: ${answer.error}`))
      else job.resolve(answer)
      stopWhenIdle()
    })
    w.on('error', (error) => failAll(error))
    w.on('exit', (code) => {
      if (worker === w) worker = null
      if (waiting.size > 0) failAll(new Error(`${options.name} exited with code ${code}`))
    })
    return w
  }

  return {
    request(message, transfer) {
      if (idleTimer !== null) clearTimeout(idleTimer)
      idleTimer = null
      worker ??= start()
      const id = nextId++
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        worker?.postMessage({ id, ...message }, transfer)
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
