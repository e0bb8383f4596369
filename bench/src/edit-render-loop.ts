import { startStoppableWorker } from './stoppable-worker.js'

/**
 * A backend editing a document and rendering it again, as fast as the server answers:
 * each round posts the next of `updates` through the document API, then GETs the
 * document as HTML (a cache miss every time, the document having changed). Until
 * stopped; resolves with each render's time in ms (at the client, until the whole body
 * arrived) and how many updates it posted.
 *
 * With `renderPauseMs`, it renders nothing: each round posts its update and then waits
 * that long instead of the GET, so that it edits at about the rate of a loop that renders
 * (pass that loop's median render time). Beside it, the relay meets the same writes
 * without the renders: what the renders themselves cost it.
 *
 * It runs in a worker thread of its own (stoppable-worker.ts), as the health probe does:
 * in the generator's event loop, reading 110 KiB pages several times a second delayed
 * the fan-out clients beside it, and their latencies were the generator's, not the
 * server's. The updates are made here and handed over.
 */
export interface EditRenderLoop {
  stop(): Promise<{ readonly renders: number[]; readonly posted: number }>
}

export function startEditRenderLoop(httpUrl: string, room: string, updates: readonly Uint8Array[], renderPauseMs?: number): EditRenderLoop {
  const worker = startStoppableWorker<{ renders: number[]; posted: number; error?: string }>(LOOP_SOURCE, { httpUrl, room, updates, renderPauseMs })
  return {
    async stop() {
      const { renders, posted, error } = await worker.stop()
      if (error !== undefined) throw new Error(error)
      return { renders, posted }
    }
  }
}

const LOOP_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { httpUrl, room, updates, renderPauseMs } = workerData
const documentUrl = httpUrl + '/api/v1/documents/' + encodeURIComponent(room)
let running = true
parentPort.once('message', () => { running = false })
const renders = []
let posted = 0
const loop = async () => {
  while (running) {
    if (posted === updates.length) throw new Error('the edit-and-render loop ran out of updates (' + updates.length + '): make more')
    const saved = await fetch(documentUrl + '/updates', { method: 'POST', body: updates[posted] })
    if (saved.status !== 200) throw new Error('upload through the API answered ' + saved.status + ': ' + await saved.text())
    posted++
    if (renderPauseMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, renderPauseMs))
      continue
    }
    const startedAt = performance.now()
    const response = await fetch(documentUrl + '?format=html')
    const body = await response.arrayBuffer()
    if (response.status !== 200) throw new Error('GET ?format=html answered ' + response.status + ': ' + Buffer.from(body).toString().slice(0, 200))
    renders.push(performance.now() - startedAt)
  }
}
loop().then(
  () => parentPort.postMessage({ renders, posted }),
  (error) => parentPort.postMessage({ renders, posted, error: String(error && error.message || error) })
)
`
