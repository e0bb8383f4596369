import { updateMetaOf } from '@quire/protocol'
import type { StoredLog } from '../storage/storage.js'

/**
 * When a document's log is worth compacting. What a room serves a joining client is its
 * log merged, and `Y.mergeUpdates` keeps one struct per keystroke and every deleted
 * character, where a `Y.Doc`'s encoding joins typed runs and drops deleted content.
 * Measured on the automerge-paper trace (AMD EPYC VM, Node 20, 2026-11-30): its 259,778
 * keystroke updates merged are 1.97 MB and take 1,002 ms to apply in a fresh Y.Doc; the
 * Y.Doc's own encoding is 223 KB and applies in 51 ms. So the count of updates alone
 * says little: 200 uploads that each merge a thousand keystrokes are as slow to apply as
 * the thousands of keystrokes themselves. A log is compacted when either grows too far
 * past its last snapshot:
 *
 * - the number of updates appended since (`maxUpdates`, `--compact-after`): a thousand
 *   single keystrokes merged are ten times the bytes of their snapshot;
 * - their bytes, once past `minBytes` and past `bytesRatio` of the snapshot: what a
 *   client applies beyond the snapshot stays within that share of it, and since each
 *   compaction costs about the snapshot's size, the cost per appended byte stays bounded
 *   ((1 + ratio) / ratio) however large the document grows.
 *
 * A log that does not start with a snapshot (never compacted, imported, or written by an
 * older version) counts all its bytes as appended, so a large one is compacted when its
 * room opens.
 *
 * Bytes alone are not enough either: a compaction gains nothing on one update that is
 * already a `Y.Doc`'s encoding (what a client sends after an offline session, or a
 * document uploaded whole), and compacting a thousand freshly uploaded documents only
 * grew the server's memory. So the byte bounds apply only to a log with something to
 * gain: at least two updates (their structs may join, their content may overlap), or
 * structs a `Y.Doc` would join (`joinableStructs`, counted when updates are validated).
 */
export interface CompactionPolicy {
  readonly maxUpdates: number
  readonly minBytes: number
  readonly bytesRatio: number
  /**
   * The same byte bounds for a room that has gone quiet after a burst, much lower: the
   * burst's tail would otherwise be served merged to every client that opens the
   * document until the next burst, and an idle room compacts once per burst at most.
   */
  readonly quietMinBytes: number
  readonly quietBytesRatio: number
  /** Joinable structs that make even a single update worth compacting. */
  readonly minJoinableStructs: number
  /**
   * While the event loop is busy, the count and byte bounds are this many times larger:
   * a compaction costs the worker milliseconds of the same cores the relay needs, and a
   * busy room is compacted anyway once it goes quiet.
   */
  readonly busyFactor: number
}

/** How far a log has grown past its last snapshot. */
export interface LogGrowth {
  updatesSinceSnapshot: number
  bytesSinceSnapshot: number
  joinableSinceSnapshot: number
  snapshotBytes: number
}

export const DEFAULT_COMPACTION_POLICY: CompactionPolicy = {
  maxUpdates: 1000,
  minBytes: 64 * 1024,
  bytesRatio: 0.5,
  quietMinBytes: 4 * 1024,
  quietBytesRatio: 1 / 16,
  minJoinableStructs: 64,
  busyFactor: 4
}

/** `policy` with its count and byte bounds scaled for a busy process. */
export function deferredWhileBusy(policy: CompactionPolicy): CompactionPolicy {
  const { busyFactor } = policy
  return { ...policy, maxUpdates: policy.maxUpdates * busyFactor, minBytes: policy.minBytes * busyFactor, bytesRatio: policy.bytesRatio * busyFactor }
}

export function needsCompaction(growth: LogGrowth, policy: CompactionPolicy): boolean {
  return (
    growth.updatesSinceSnapshot > policy.maxUpdates ||
    (hasSomethingToGain(growth, policy) && growth.bytesSinceSnapshot > Math.max(policy.minBytes, growth.snapshotBytes * policy.bytesRatio))
  )
}

/**
 * Whether a log whose room has gone quiet is worth compacting now: it grew past the
 * quiet byte bounds, or it holds structs a Y.Doc would join (what makes a merged tail
 * slow to apply: the last of 200 merged uploads of the paper, 10 KiB on a 223 KiB
 * snapshot, more than doubled a warm load, 37 ms against 16).
 */
export function needsQuietCompaction(growth: LogGrowth, policy: CompactionPolicy): boolean {
  return (
    needsCompaction(growth, policy) ||
    growth.joinableSinceSnapshot >= policy.minJoinableStructs ||
    (hasSomethingToGain(growth, policy) && growth.bytesSinceSnapshot > Math.max(policy.quietMinBytes, growth.snapshotBytes * policy.quietBytesRatio))
  )
}

function hasSomethingToGain(growth: LogGrowth, policy: CompactionPolicy): boolean {
  return growth.updatesSinceSnapshot >= 2 || growth.joinableSinceSnapshot >= policy.minJoinableStructs
}

/** `growth` with `updates` appended, whose joinable structs are known (counted when they were validated). */
export function addToGrowth(growth: LogGrowth, updates: readonly Uint8Array[], joinableStructs: number): void {
  growth.updatesSinceSnapshot += updates.length
  for (const update of updates) growth.bytesSinceSnapshot += update.byteLength
  growth.joinableSinceSnapshot += joinableStructs
}

/** The growth of a log as it was loaded (its updates after the snapshot are walked once, here). */
export function growthOfLog(log: StoredLog): LogGrowth {
  const snapshot = log.startsWithSnapshot ? log.updates[0] : undefined
  const growth: LogGrowth = { updatesSinceSnapshot: 0, bytesSinceSnapshot: 0, joinableSinceSnapshot: 0, snapshotBytes: snapshot?.byteLength ?? 0 }
  const appended = snapshot ? log.updates.slice(1) : log.updates
  let joinable = 0
  for (const update of appended) joinable += joinableStructsOf(update)
  addToGrowth(growth, appended, joinable)
  return growth
}

const UNWALKABLE_JOINABLE_STRUCTS = 1_000_000

/** Walks a stored update for its joinable structs. */
function joinableStructsOf(update: Uint8Array): number {
  try {
    return updateMetaOf(update).joinableStructs
  } catch {
    // A stored update that does not walk (a damaged store): let a compaction try it, and
    // report what the worker makes of it.
    return UNWALKABLE_JOINABLE_STRUCTS
  }
}
