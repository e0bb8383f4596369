import { createMemoryOutbox } from '../webhooks/memory-outbox.js'
import type { AppendEntry, Storage, StoredLog } from './storage.js'

/**
 * A real, non-durable Storage kept in memory: for tests and for embedding where
 * persistence happens elsewhere. It follows the same contract as the LevelDB storage.
 */
export function createMemoryStorage(): Storage {
  const docs = new Map<string, Array<{ seq: number; update: Uint8Array; snapshot: boolean }>>()
  // A deleted document's last number: a snapshot up to it was read before the delete.
  const deletedThrough = new Map<string, number>()
  let lastSeq = 0
  const webhookOutbox = createMemoryOutbox()
  return {
    webhookOutbox,
    async load(doc: string): Promise<StoredLog> {
      const log = docs.get(doc) ?? []
      return { updates: log.map((e) => e.update), lastSeq: log.at(-1)?.seq ?? 0, startsWithSnapshot: log[0]?.snapshot ?? false }
    },
    async append(batch: readonly AppendEntry[]): Promise<void> {
      for (const entry of batch) {
        if (entry.updates.length === 0) continue
        let log = docs.get(entry.doc)
        if (!log) docs.set(entry.doc, (log = []))
        for (const update of entry.updates) log.push({ seq: ++lastSeq, update: update.slice(), snapshot: false })
        if (entry.changeMark) webhookOutbox.writeMark(entry.doc, entry.changeMark)
      }
    },
    async replace(doc: string, snapshot: Uint8Array, upToSeq: number): Promise<void> {
      const log = docs.get(doc) ?? []
      // Stale: a compaction at least as far won the race, or the document was deleted since.
      if ((log[0]?.snapshot && log[0].seq >= upToSeq) || upToSeq <= (deletedThrough.get(doc) ?? 0)) return
      docs.set(doc, [{ seq: upToSeq, update: snapshot.slice(), snapshot: true }, ...log.filter((e) => e.seq > upToSeq)])
    },
    async list(): Promise<string[]> {
      return [...docs.keys()]
    },
    async delete(doc: string): Promise<void> {
      docs.delete(doc)
      deletedThrough.set(doc, lastSeq)
    },
    async close(): Promise<void> {}
  }
}
