import { createMemoryOutbox } from '../webhooks/memory-outbox.js'
import { createMemoryVersions } from './memory-versions.js'
import type { AppendEntry, DocumentInfo, DocumentPage, Storage, StoredLog } from './storage.js'

interface MemoryDocument {
  log: Array<{ seq: number; update: Uint8Array; snapshot: boolean }>
  updatedAt: number
}

/**
 * A real, non-durable Storage kept in memory: for tests and for embedding where
 * persistence happens elsewhere. It follows the same contract as the LevelDB storage.
 */
export function createMemoryStorage(): Storage {
  const docs = new Map<string, MemoryDocument>()
  // A deleted document's last number: a snapshot up to it was read before the delete.
  const deletedThrough = new Map<string, number>()
  // Deleted documents refused until then (ms since the epoch).
  const tombstones = new Map<string, number>()
  let lastSeq = 0
  const webhookOutbox = createMemoryOutbox()
  const versions = createMemoryVersions()

  const infoOf = (name: string, doc: MemoryDocument): DocumentInfo => {
    let bytes = 0
    for (const entry of doc.log) bytes += entry.update.byteLength
    return { name, bytes, updatedAt: doc.updatedAt, lastSeq: doc.log.at(-1)?.seq ?? 0 }
  }

  return {
    webhookOutbox,
    versions,
    async load(doc: string): Promise<StoredLog> {
      const log = docs.get(doc)?.log ?? []
      return { updates: log.map((e) => e.update), lastSeq: log.at(-1)?.seq ?? 0, startsWithSnapshot: log[0]?.snapshot ?? false }
    },
    async append(batch: readonly AppendEntry[]): Promise<void> {
      const now = Date.now()
      for (const entry of batch) {
        if (entry.updates.length === 0) continue
        let stored = docs.get(entry.doc)
        if (!stored) docs.set(entry.doc, (stored = { log: [], updatedAt: now }))
        stored.updatedAt = now
        for (const update of entry.updates) stored.log.push({ seq: ++lastSeq, update: update.slice(), snapshot: false })
        if (entry.changeMark) webhookOutbox.writeMark(entry.doc, entry.changeMark)
      }
    },
    async replace(doc: string, snapshot: Uint8Array, upToSeq: number): Promise<void> {
      const stored = docs.get(doc)
      const log = stored?.log ?? []
      // Stale: a compaction at least as far won the race, or the document was deleted since.
      if ((log[0]?.snapshot && log[0].seq >= upToSeq) || upToSeq <= (deletedThrough.get(doc) ?? 0)) return
      const replaced = [{ seq: upToSeq, update: snapshot.slice(), snapshot: true }, ...log.filter((e) => e.seq > upToSeq)]
      if (stored) stored.log = replaced
      else docs.set(doc, { log: replaced, updatedAt: Date.now() })
    },
    async list(): Promise<string[]> {
      return [...docs.keys()]
    },
    async delete(doc: string, options = {}): Promise<void> {
      docs.delete(doc)
      versions.forget(doc)
      deletedThrough.set(doc, lastSeq)
      if (options.refuseUntil !== undefined) tombstones.set(doc, options.refuseUntil)
    },
    async tombstone(doc: string): Promise<number | null> {
      const until = tombstones.get(doc)
      if (until === undefined) return null
      if (until > Date.now()) return until
      tombstones.delete(doc)
      return null
    },
    async create(doc: string): Promise<boolean> {
      tombstones.delete(doc)
      if (docs.has(doc)) return false
      docs.set(doc, { log: [], updatedAt: Date.now() })
      return true
    },
    async info(doc: string): Promise<DocumentInfo | null> {
      const stored = docs.get(doc)
      return stored ? infoOf(doc, stored) : null
    },
    async listDocuments({ prefix = '', after, limit }): Promise<DocumentPage> {
      // JS string order: by UTF-16 code units, as LevelDB's keys.
      const names = [...docs.keys()].filter((name) => name.startsWith(prefix) && (after === undefined || name > after)).sort()
      const page = names.slice(0, limit)
      return { documents: page.map((name) => infoOf(name, docs.get(name) as MemoryDocument)), more: names.length > page.length }
    },
    async close(): Promise<void> {}
  }
}
