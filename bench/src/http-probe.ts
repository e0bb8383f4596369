import { startStoppableWorker } from './stoppable-worker.js'

/**
 * Asks a server for `GET /healthz` over a new connection every `intervalMs` (as a load
 * balancer's health check does) until stopped, one request at a time, and keeps each
 * response time: how responsive the server stays while it is busy. Every server in the
 * bench answers a plain GET on any path. A request still unanswered when the probe
 * stops counts with the time it has waited so far.
 *
 * The probe runs in a worker thread of its own (stoppable-worker.ts): in the generator's
 * event loop, its requests would wait behind thousands of clients' messages, and the
 * times would be the generator's.
 */
export interface HttpProbe {
  /** Stops probing and resolves with the response times in ms, in the order asked. */
  stop(): Promise<number[]>
}

export function startHttpProbe(httpUrl: string, intervalMs: number): HttpProbe {
  return startStoppableWorker<number[]>(PROBE_SOURCE, { httpUrl, intervalMs })
}

const PROBE_SOURCE = `
const { request } = require('node:http')
const { parentPort, workerData } = require('node:worker_threads')
const { httpUrl, intervalMs } = workerData
const times = []
let running = true
let pending = null // when the request in flight was sent
let timer = null
const ask = () => {
  timer = null
  if (!running) return
  const startedAt = performance.now()
  pending = startedAt
  const finish = () => {
    if (pending !== startedAt) return
    times.push(performance.now() - startedAt)
    pending = null
    if (running) timer = setTimeout(ask, Math.max(0, intervalMs - (performance.now() - startedAt)))
  }
  const req = request(httpUrl + '/healthz', { agent: false }, (response) => {
    response.resume()
    response.once('end', finish)
    response.once('error', finish)
  })
  req.once('error', finish)
  req.end()
}
ask()
parentPort.once('message', () => {
  running = false
  if (timer !== null) clearTimeout(timer)
  if (pending !== null) times.push(performance.now() - pending)
  parentPort.postMessage(times)
})
`
