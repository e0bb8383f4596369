/**
 * Worker thread entry: runs compactUpdates off the event loop so that loading a large
 * document into a Y.Doc never delays a relay.
 */
import { parentPort } from 'node:worker_threads'
import { compactUpdates } from './compact-updates.js'

export interface CompactionRequest {
  readonly id: number
  readonly updates: Uint8Array[]
}

export type CompactionResponse =
  | { readonly id: number; readonly snapshot: Uint8Array }
  | { readonly id: number; readonly error: string }

parentPort?.on('message', (request: CompactionRequest) => {
  let response: CompactionResponse
  try {
    response = { id: request.id, snapshot: compactUpdates(request.updates) }
  } catch (error) {
    response = { id: request.id, error: error instanceof Error ? error.message : String(error) }
  }
  parentPort?.postMessage(response, 'snapshot' in response ? [response.snapshot.buffer as ArrayBuffer] : [])
})
