// @ts-check
// Worker thread entry: runs compactUpdates (and documentJson, for the document API, and the version history's
// diffs, contents and restores) off the event loop so that loading a large
// document into a Y.Doc never delays a relay. Messages: CompactionRequest in,
// CompactionResponse out (see compaction-thread.ts).
import { parentPort } from 'node:worker_threads'
import * as decoding from 'lib0/decoding'
import { compactUpdates } from './compact-updates.js'
import { documentJson } from './document-json.js'
import { restoreUpdate } from './restore-update.js'
import { versionContent, versionDiff } from './version-diff.js'

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

parentPort?.on('message', (/** @type {{ id: number, kind: 'compact' | 'json' | 'version-diff' | 'version-content' | 'restore', pack: Uint8Array, checkpoint?: boolean }} */ request) => {
  try {
    if (request.kind === 'json') {
      parentPort?.postMessage({ id: request.id, json: documentJson(request.pack) })
      return
    }
    if (request.kind === 'version-diff') {
      const [current, ...chain] = readUpdatePack(request.pack)
      const diff = versionDiff(chain, /** @type {Uint8Array} */ (current), request.checkpoint === true)
      parentPort?.postMessage({ id: request.id, diff })
      return
    }
    /** @type {Uint8Array} */
    let snapshot
    if (request.kind === 'version-content') snapshot = versionContent(readUpdatePack(request.pack))
    else if (request.kind === 'restore') {
      const [current, ...chain] = readUpdatePack(request.pack)
      snapshot = restoreUpdate(/** @type {Uint8Array} */ (current), versionContent(chain))
    } else snapshot = compactUpdates(readUpdatePack(request.pack))
    parentPort?.postMessage({ id: request.id, snapshot }, [/** @type {ArrayBuffer} */ (snapshot.buffer)])
  } catch (error) {
    parentPort?.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) })
  }
})
