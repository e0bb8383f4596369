import type pg from 'pg'
import type { NewVersion, RebasedVersion, VersionInfo, VersionKind, VersionStore } from '@quire/server'
import { encodeDocumentName } from './document-name.js'
import { inTransaction } from './in-transaction.js'

/**
 * Version histories in `quire_versions` (schema migration 4), one row per version, ids
 * from the table's identity (unique across documents). A version needs its document's
 * row; `delete` of the storage removes the rows in its own statement. Thinning is one
 * transaction, so a chain is never seen half rebased.
 */
interface VersionRow {
  readonly id: string
  readonly created_at: Date
  readonly name: string | null
  readonly kind: VersionKind
  readonly restored_from: string | null
  readonly authors: string[]
  readonly inserted: string
  readonly deleted: string
  readonly base: string | null
  readonly bytes: number
}

const COLUMNS = 'v.id, v.created_at, v.name, v.kind, v.restored_from, v.authors, v.inserted, v.deleted, v.base, octet_length(v.data) AS bytes'

function versionOf(row: VersionRow): VersionInfo {
  return {
    id: Number(row.id),
    createdAt: row.created_at.getTime(),
    name: row.name,
    kind: row.kind,
    restoredFrom: row.restored_from === null ? null : Number(row.restored_from),
    authors: row.authors,
    summary: { inserted: Number(row.inserted), deleted: Number(row.deleted) },
    base: row.base === null ? null : Number(row.base),
    bytes: row.bytes
  }
}

const bytesOf = (update: Uint8Array): Buffer => Buffer.from(update.buffer, update.byteOffset, update.byteLength)

/** `s` is the quoted schema name. */
export function createPostgresVersions(pool: pg.Pool, s: string): VersionStore {
  const documents = `${s}.quire_documents`
  const versions = `${s}.quire_versions`
  return {
    async add(doc: string, version: NewVersion): Promise<VersionInfo> {
      const { rows } = await pool.query<VersionRow>(
        `INSERT INTO ${versions} AS v (doc_id, created_at, name, kind, restored_from, authors, inserted, deleted, base, data)
         SELECT d.id, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM ${documents} d WHERE d.name = $1 AND d.live
         RETURNING ${COLUMNS}`,
        [
          encodeDocumentName(doc),
          new Date(version.createdAt),
          version.name,
          version.kind,
          version.restoredFrom,
          [...version.authors],
          version.summary.inserted,
          version.summary.deleted,
          version.base,
          bytesOf(version.update)
        ]
      )
      const row = rows[0]
      if (row === undefined) throw new Error(`cannot record a version of ${JSON.stringify(doc)}: the document is not stored`)
      return versionOf(row)
    },
    async list(doc: string): Promise<VersionInfo[]> {
      const { rows } = await pool.query<VersionRow>(
        `SELECT ${COLUMNS} FROM ${versions} v JOIN ${documents} d ON d.id = v.doc_id WHERE d.name = $1 AND d.live ORDER BY v.id`,
        [encodeDocumentName(doc)]
      )
      return rows.map(versionOf)
    },
    async read(doc: string, ids: readonly number[]): Promise<Array<Uint8Array | null>> {
      const { rows } = await pool.query<{ id: string; data: Buffer }>(
        `SELECT v.id, v.data FROM ${versions} v JOIN ${documents} d ON d.id = v.doc_id WHERE d.name = $1 AND d.live AND v.id = ANY($2::bigint[])`,
        [encodeDocumentName(doc), [...ids]]
      )
      const byId = new Map(rows.map((row) => [Number(row.id), new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength)]))
      return ids.map((id) => byId.get(id) ?? null)
    },
    async thin(doc: string, remove: readonly number[], rebase: readonly RebasedVersion[]): Promise<void> {
      const name = encodeDocumentName(doc)
      await inTransaction(pool, async (client) => {
        await client.query(
          `DELETE FROM ${versions} v USING ${documents} d WHERE d.id = v.doc_id AND d.name = $1 AND v.id = ANY($2::bigint[])`,
          [name, [...remove]]
        )
        for (const { id, base, update } of rebase) {
          await client.query(
            `UPDATE ${versions} v SET base = $3, data = $4 FROM ${documents} d WHERE d.id = v.doc_id AND d.name = $1 AND v.id = $2`,
            [name, id, base, bytesOf(update)]
          )
        }
      })
    }
  }
}
