import { Worker } from 'node:worker_threads'

/**
 * A worker thread that runs `source` (plain JavaScript: a worker does not get the
 * TypeScript loader this process runs with) with `data` as its `workerData`, until
 * stopped: `stop()` posts it one message, and resolves with the first message it sends
 * back, then ends the thread. For load that must not share the generator's event loop,
 * where it would wait behind the clients' messages and time the generator, not the server.
 */
export interface StoppableWorker<Result> {
  stop(): Promise<Result>
}

export function startStoppableWorker<Result>(source: string, data: unknown): StoppableWorker<Result> {
  const worker = new Worker(source, { eval: true, workerData: data })
  const result = new Promise<Result>((resolve, reject) => {
    worker.once('message', (message: Result) => resolve(message))
    worker.once('error', reject)
  })
  return {
    async stop() {
      worker.postMessage('stop')
      const answer = await result
      await worker.terminate()
      return answer
    }
  }
}
