import { Level } from 'level'
import type { AppendEntry, Storage, StoredLog } from './storage.js'
import {
  DOC_KEY_RANGE,
  SEQUENCE_KEY,
  decodeDocKey,
  decodeLogKey,
  decodeSeq,
  encodeDocKey,
  encodePackKey,
  encodeSeq,
  encodeSnapshotKey,
  encodeUpdateKey,
  updateKeyRange
} from './document-key.js'
import { decodeUpdatePack, encodeUpdatePack } from './update-pack.js'

export interface LevelStorageOptions {
  /**
   * fsync every batch (LevelDB `sync: true`). On by default: an acknowledged write must
   * survive a machine crash, not only a process crash. Group commit amortises the cost.
   */
  readonly fsync?: boolean
}

const WRITE_BUFFER_BYTES = 1024 * 1024

type Db = Level<Uint8Array, Uint8Array>
type BatchOperation = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }

/**
 * The embedded default: one LevelDB directory holding every document (see
 * document-key.ts for the key layout). Sequence numbers are global and only grow, so an
 * update appended while a compaction runs always lands after that compaction's `upToSeq`.
 */
export async function createLevelStorage(path: string, options: LevelStorageOptions = {}): Promise<Storage> {
  // A 1 MiB memtable instead of LevelDB's 4 MiB: the memtable is resident memory of the
  // server process, and a sync server's writes are small and already grouped.
  const db: Db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view', writeBufferSize: WRITE_BUFFER_BYTES })
  try {
    await db.open()
  } catch (error) {
    throw new Error(
      `cannot open the LevelDB store at ${path}: ${describeOpenError(error)}`,
      { cause: error }
    )
  }
  const writeOptions = { sync: options.fsync ?? true }
  const storedSeq = await db.get(SEQUENCE_KEY)
  let lastSeq = storedSeq === undefined ? 0 : decodeSeq(storedSeq)
  // Documents whose doc key (for list()) is known to be written, so a commit does not
  // rewrite it every time.
  const listed = new Set<string>()

  return {
    async load(doc: string): Promise<StoredLog> {
      const updates: Uint8Array[] = []
      let docLastSeq = 0
      let startsWithSnapshot = false
      for await (const [key, value] of db.iterator(updateKeyRange(doc))) {
        // classic-level hands out Buffers; callers get plain Uint8Array views of them.
        const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
        const { seq, kind } = decodeLogKey(doc, key)
        if (kind === 'snapshot' && updates.length === 0) startsWithSnapshot = true
        if (kind === 'pack') updates.push(...decodeUpdatePack(bytes))
        else updates.push(bytes)
        docLastSeq = seq
      }
      if (updates.length > 0) listed.add(doc)
      return { updates, lastSeq: docLastSeq, startsWithSnapshot }
    },

    async append(batch: readonly AppendEntry[]): Promise<void> {
      const ops: Array<{ type: 'put'; key: Uint8Array; value: Uint8Array }> = []
      let seq = lastSeq
      const newlyListed: string[] = []
      for (const { doc, updates } of batch) {
        if (updates.length === 0) continue
        if (!listed.has(doc)) {
          newlyListed.push(doc)
          ops.push({ type: 'put', key: encodeDocKey(doc), value: new Uint8Array(0) })
        }
        const only = updates.length === 1 ? updates[0] : undefined
        if (only) ops.push({ type: 'put', key: encodeUpdateKey(doc, ++seq), value: only })
        else ops.push({ type: 'put', key: encodePackKey(doc, ++seq), value: encodeUpdatePack(updates) })
      }
      if (ops.length === 0) return
      ops.push({ type: 'put', key: SEQUENCE_KEY, value: encodeSeq(seq) })
      // Claim the numbers before awaiting so a concurrent append never reuses them.
      lastSeq = seq
      await db.batch(ops, writeOptions)
      for (const doc of newlyListed) listed.add(doc)
    },

    async replace(doc: string, snapshot: Uint8Array, upToSeq: number): Promise<void> {
      const ops: BatchOperation[] = []
      for await (const key of db.keys(updateKeyRange(doc, upToSeq))) ops.push({ type: 'del', key })
      // The snapshot takes the place of the last update it covers, so order is kept.
      ops.push({ type: 'put', key: encodeSnapshotKey(doc, upToSeq), value: snapshot })
      await db.batch(ops, writeOptions)
    },

    async list(): Promise<string[]> {
      const names: string[] = []
      for await (const key of db.keys(DOC_KEY_RANGE)) names.push(decodeDocKey(key))
      return names
    },

    async delete(doc: string): Promise<void> {
      listed.delete(doc)
      const ops: Array<{ type: 'del'; key: Uint8Array }> = [{ type: 'del', key: encodeDocKey(doc) }]
      for await (const key of db.keys(updateKeyRange(doc))) ops.push({ type: 'del', key })
      await db.batch(ops, writeOptions)
    },

    async close(): Promise<void> {
      await db.close()
    }
  }
}

function describeOpenError(error: unknown): string {
  const text = error instanceof Error ? `${error.message} ${String((error as { cause?: unknown }).cause ?? '')}` : String(error)
  if (/lock/i.test(text)) return 'it is locked by another process (is another quire server running on the same --data directory?)'
  return text
}
