import type { Level } from 'level'
import { decodeVersionKey, encodeVersionKey, versionKeyRange } from './document-key.js'
import type { NewVersion, RebasedVersion, VersionInfo, VersionMeta, VersionStore } from './version-store.js'

/**
 * Version histories in the documents' LevelDB database, under keys of their own (see
 * document-key.ts): per version, its metadata as JSON and its stored update apart, so
 * that listing a history reads no update. Ids count up per document. Writes run in the
 * storage's write order (`serialized`), so an id is never handed out twice and a thinning
 * never interleaves with an add or a delete.
 */
type Db = Level<Uint8Array, Uint8Array>
type BatchOperation = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }

export interface LevelVersionsOptions {
  readonly db: Db
  readonly serialized: <T>(write: () => Promise<T>) => Promise<T>
  readonly sync: boolean
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

interface StoredMeta extends VersionMeta {
  readonly bytes: number
}

/** The batch operations that delete every version of `doc`: the storage's delete adds them to its batch. */
export async function versionDeletes(db: Db, doc: string): Promise<BatchOperation[]> {
  const ops: BatchOperation[] = []
  for (const part of ['meta', 'data'] as const) for await (const key of db.keys(versionKeyRange(doc, part))) ops.push({ type: 'del', key })
  return ops
}

export function createLevelVersions(options: LevelVersionsOptions): VersionStore {
  const { db, serialized } = options
  const writeOptions = { sync: options.sync }
  const metaOf = (id: number, value: Uint8Array): VersionInfo => ({ ...(JSON.parse(fromUtf8.decode(value)) as StoredMeta), id })
  const encodeMeta = (meta: StoredMeta): Uint8Array => utf8.encode(JSON.stringify(meta))

  return {
    add(doc: string, version: NewVersion): Promise<VersionInfo> {
      return serialized(async () => {
        let lastId = 0
        for await (const key of db.keys({ ...versionKeyRange(doc, 'meta'), reverse: true, limit: 1 })) lastId = decodeVersionKey(key)
        const id = lastId + 1
        const { update, ...meta } = version
        const stored: StoredMeta = { ...meta, authors: [...meta.authors], bytes: update.byteLength }
        await db.batch(
          [
            { type: 'put', key: encodeVersionKey(doc, id, 'meta'), value: encodeMeta(stored) },
            { type: 'put', key: encodeVersionKey(doc, id, 'data'), value: update }
          ],
          writeOptions
        )
        return { ...stored, id }
      })
    },
    async list(doc: string): Promise<VersionInfo[]> {
      const versions: VersionInfo[] = []
      for await (const [key, value] of db.iterator(versionKeyRange(doc, 'meta'))) versions.push(metaOf(decodeVersionKey(key), value))
      return versions
    },
    async read(doc: string, ids: readonly number[]): Promise<Array<Uint8Array | null>> {
      const values = await db.getMany(ids.map((id) => encodeVersionKey(doc, id, 'data')))
      return values.map((value) => (value === undefined ? null : new Uint8Array(value.buffer, value.byteOffset, value.byteLength)))
    },
    thin(doc: string, remove: readonly number[], rebase: readonly RebasedVersion[]): Promise<void> {
      return serialized(async () => {
        const ops: BatchOperation[] = []
        for (const id of remove) ops.push({ type: 'del', key: encodeVersionKey(doc, id, 'meta') }, { type: 'del', key: encodeVersionKey(doc, id, 'data') })
        for (const { id, base, update } of rebase) {
          const value = await db.get(encodeVersionKey(doc, id, 'meta'))
          if (value === undefined) continue
          const meta = JSON.parse(fromUtf8.decode(value)) as StoredMeta
          ops.push({ type: 'put', key: encodeVersionKey(doc, id, 'meta'), value: encodeMeta({ ...meta, base, bytes: update.byteLength }) })
          ops.push({ type: 'put', key: encodeVersionKey(doc, id, 'data'), value: update })
        }
        if (ops.length > 0) await db.batch(ops, writeOptions)
      })
    }
  }
}
