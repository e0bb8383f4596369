import type { ChildProcess } from 'node:child_process'
import type { Worker } from 'node:worker_threads'

/**
 * A worker started on the first request and stopped after `idleStopMs` without one,
 * answering requests by id: the lifecycle the compaction thread and the render process
 * share. A worker is a whole V8 isolate whose heap grew to the largest job it ran,
 * memory an idle server should give back; but starting one costs 0.2-0.4 s of CPU (see
 * compaction-thread.ts), so it is kept for a while rather than per job.
 *
 * Requests are posted as `{ id, ...message }`; the worker answers `{ id, ...answer }`, or
 * `{ id, error }` when the job failed. A worker that crashes or exits fails every request
 * waiting for it, and the next request starts a new one.
 */
export interface OnDemandWorker<Answer> {
  request(message: object, transfer: ArrayBuffer[]): Promise<Answer>
  close(): Promise<void>
}

/** What the lifecycle needs of a worker, a thread (`threadWorker`) or a child process (`processWorker`). */
export interface WorkerHandle {
  /** `transfer`: buffers a thread takes over; a process gets copies anyway. */
  post(message: object, transfer: ArrayBuffer[]): void
  onMessage(listener: (message: unknown) => void): void
  onError(listener: (error: Error) => void): void
  onExit(listener: (code: number | null) => void): void
  /** Once it runs the worker's code. */
  onStarted(listener: () => void): void
  /** Does not keep the server's process alive. */
  unref(): void
  terminate(): Promise<void>
}

export function threadWorker(worker: Worker): WorkerHandle {
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    onMessage: (listener) => worker.on('message', listener),
    onError: (listener) => worker.on('error', listener),
    onExit: (listener) => worker.on('exit', listener),
    onStarted: (listener) => worker.once('online', listener),
    unref: () => worker.unref(),
    terminate: async () => {
      await worker.terminate()
    }
  }
}

/** A child process started with `fork(…, { serialization: 'advanced' })`: its messages carry bytes as they are. */
export function processWorker(child: ChildProcess): WorkerHandle {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    post: (message) => {
      // A process that is gone fails its requests through 'exit'.
      if (child.connected) child.send(message)
    },
    onMessage: (listener) => child.on('message', listener),
    onError: (listener) => child.on('error', listener),
    onExit: (listener) => child.on('exit', (code) => listener(code)),
    onStarted: (listener) => child.once('spawn', listener),
    unref: () => {
      child.unref()
      child.channel?.unref()
    },
    terminate: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill()
      await exited
    }
  }
}

export interface OnDemandWorkerOptions {
  /** For error messages: "compaction worker", "render worker". */
  readonly name: string
  /** Starts the worker. */
  readonly create: () => WorkerHandle
  readonly idleStopMs: number
  /** Called once each worker is running (see `ServerOptions.onWorkerStarted`). */
  readonly onStarted?: (() => void) | undefined
}

type WorkerAnswer<Answer> = { readonly id: number } & (Answer | { readonly error: string })

export function createOnDemandWorker<Answer extends object>(options: OnDemandWorkerOptions): OnDemandWorker<Answer> {
  let worker: WorkerHandle | null = null
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

  const start = (): WorkerHandle => {
    const w = options.create()
    w.unref()
    if (options.onStarted) w.onStarted(options.onStarted)
    w.onMessage((message) => {
      const answer = message as WorkerAnswer<Answer>
      const job = waiting.get(answer.id)
      if (!job) return
      waiting.delete(answer.id)
      if ('error' in answer) job.reject(new Error(`${options.name} failed: ${answer.error}`))
      else job.resolve(answer)
      stopWhenIdle()
    })
    w.onError((error) => failAll(error))
    w.onExit((code) => {
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
        worker?.post({ id, ...message }, transfer)
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
