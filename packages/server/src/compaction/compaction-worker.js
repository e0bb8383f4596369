// @ts-check
// Worker thread entry: runs compactUpdates off the event loop so that loading a large
// document into a Y.Doc never delays a relay. Messages: CompactionRequest in,
// CompactionResponse out (see compaction-thread.ts).
import { parentPort } from 'node:worker_threads'
import { compactUpdates } from './compact-updates.js'

parentPort?.on('message', (/** @type {{ id: number, updates: Uint8Array[] }} */ request) => {
  try {
    const snapshot = compactUpdates(request.updates)
    parentPort?.postMessage({ id: request.id, snapshot }, [/** @type {ArrayBuffer} */ (snapshot.buffer)])
  } catch (error) {
    parentPort?.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) })
  }
})
