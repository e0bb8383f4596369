// @ts-check
// Worker thread entry: runs compactUpdates (and documentJson, for the document API) off the event loop so that loading a large
// document into a Y.Doc never delays a relay. Messages: CompactionRequest in,
// CompactionResponse out (see compaction-thread.ts).
import { parentPort } from 'node:worker_threads'
import * as decoding from 'lib0/decoding'
import { compactUpdates } from './compact-updates.js'
import { documentJson } from './document-json.js'

/**
 * The updates of an update pack (storage/update-pack.ts: varUint(count), then each
 * update as a varUint8Array), as views into it.
 * @param {Uint8Array} pack
 */
function readUpdatePack(pack) {
  const decoder = decoding.createDecoder(pack)
  const count = decoding.readVarUint(decoder)
  const updates = []
  for (let i = 0; i < count; i++) updates.push(decoding.readVarUint8Array(decoder))
  return updates
}

parentPort?.on('message', (/** @type {{ id: number, kind: 'compact' | 'json', pack: Uint8Array }} */ request) => {
  try {
    if (request.kind === 'json') {
      parentPort?.postMessage({ id: request.id, json: documentJson(request.pack) })
      return
    }
    const snapshot = compactUpdates(readUpdatePack(request.pack))
    parentPort?.postMessage({ id: request.id, snapshot }, [/** @type {ArrayBuffer} */ (snapshot.buffer)])
  } catch (error) {
    parentPort?.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) })
  }
})
