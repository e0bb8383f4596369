import pg from 'pg'
import type { AppendEntry, ChangeMark, DocumentInfo, DocumentPage, Log, Storage, StoredLog } from '@quire/server'
import { decodeDocumentName, encodeDocumentName } from './document-name.js'
import { inTransaction } from './in-transaction.js'
import { createPostgresOutbox } from './postgres-outbox.js'
import { migrateSchema, quoteIdentifier } from './postgres-schema.js'
import { createPostgresVersions } from './postgres-versions.js'

export interface PostgresStorageOptions {
  /**
   * `postgres://user@host:port/database`. A `?options=-c search_path=name` in it picks
   * the schema when `schema` is not given.
   */
  readonly connectionString: string
  /** The schema to keep Quire's tables in, created if missing. Default: the connection's current schema. */
  readonly schema?: string
  /** Connections in the pool. Default 10. */
  readonly maxConnections?: number
  /** How long to wait for a connection before a call fails. Default 5000 ms. */
  readonly connectTimeoutMs?: number
  /** Where a connection that broke while idle is reported (the pool replaces it). */
  readonly log?: Log
}

/**
 * Documents in PostgreSQL, for several server clones sharing one database (see the
 * README for the tables). Every clone may append to every document, and any may compact
 * it, so the numbering and the compaction swap are done by the database, not in memory:
 *
 * - Sequence numbers are per document, handed out by the `append` statement while it
 *   holds the document's row lock (the upsert of `quire_documents`). Appends to one
 *   document are therefore committed in the order of their numbers: whoever reads the
 *   log up to some number has every update below it, which a global sequence (whose
 *   numbers are taken before commit, in any order) would not promise. A batch locks its
 *   documents in name order, so two clones' batches cannot deadlock.
 * - `replace` is a conditional swap under the same row lock, not an advisory lock: it
 *   deletes the rows up to `upToSeq` and writes the snapshot there, unless the log
 *   already starts with a snapshot at or past `upToSeq` (another clone compacted
 *   further meanwhile) or the document was deleted after `upToSeq`. A snapshot at n holds
 *   everything up to n, so a skipped swap loses nothing, and one taken never drops a row
 *   appended past `upToSeq`. The price of a race is one wasted compaction, never a
 *   lost or doubled update, and no lock outlives a statement.
 */
export async function createPostgresStorage(options: PostgresStorageOptions): Promise<Storage> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000
  })
  // Without a listener, a connection that breaks while idle in the pool (the server
  // restarted) would throw from the pool and end the process.
  pool.on('error', (error) => options.log?.('warn', `PostgreSQL connection lost while idle: ${error.message}`))
  let schema: string
  try {
    schema = options.schema ?? (await currentSchema(pool))
    await migrateSchema(pool, schema)
  } catch (error) {
    await pool.end().catch(() => {})
    throw new Error(`cannot open the PostgreSQL store: ${describeError(error)}`, { cause: error })
  }
  const s = quoteIdentifier(schema)
  const documents = `${s}.quire_documents`
  const updates = `${s}.quire_updates`
  const marks = `${s}.quire_webhook_marks`

  // With change marks (webhooks) the same statement writes them too, in its transaction.
  const appendStatementWith = (marked: boolean): string => `
    WITH docs AS (
      INSERT INTO ${documents} AS d (name, last_seq, live, stored_bytes, updated_at)
      SELECT name, count, true, bytes, now() FROM unnest($1::bytea[], $2::bigint[], $6::bigint[]) AS b(name, count, bytes) ORDER BY name
      ON CONFLICT (name) DO UPDATE SET last_seq = d.last_seq + excluded.last_seq, live = true,
        stored_bytes = d.stored_bytes + excluded.stored_bytes, updated_at = excluded.updated_at
      RETURNING d.id, d.name, d.last_seq
    )${marked ? `,
    marks AS (
      INSERT INTO ${marks} AS m (name, token, created)
      SELECT name, token, created FROM unnest($7::bytea[], $8::text[], $9::boolean[]) AS k(name, token, created) ORDER BY name
      ON CONFLICT (name) DO UPDATE SET token = excluded.token, created = m.created OR excluded.created, marked_at = now()
    )` : ''}
    INSERT INTO ${updates} (doc_id, seq, data)
    SELECT docs.id, docs.last_seq - u.back, u.data
    FROM unnest($3::bytea[], $4::bigint[], $5::bytea[]) AS u(name, back, data)
    JOIN docs ON docs.name = u.name`
  const appendStatement = appendStatementWith(false)
  const appendMarkingStatement = appendStatementWith(true)

  return {
    webhookOutbox: createPostgresOutbox(pool, s),
    versions: createPostgresVersions(pool, s),

    async load(doc: string): Promise<StoredLog> {
      const { rows } = await pool.query<{ seq: string; snapshot: boolean; data: Buffer }>(
        `SELECT u.seq, u.snapshot, u.data FROM ${updates} u JOIN ${documents} d ON d.id = u.doc_id
         WHERE d.name = $1 ORDER BY u.seq`,
        [encodeDocumentName(doc)]
      )
      const last = rows.at(-1)
      return {
        updates: rows.map((row) => new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength)),
        lastSeq: last === undefined ? 0 : Number(last.seq),
        startsWithSnapshot: rows[0]?.snapshot ?? false
      }
    },

    async append(batch: readonly AppendEntry[]): Promise<void> {
      // One entry per document (a batch may name one twice), in batch order within it.
      const byDoc = new Map<string, Uint8Array[]>()
      const changeMarks = new Map<string, ChangeMark>()
      for (const { doc, updates: docUpdates, changeMark } of batch) {
        if (docUpdates.length === 0) continue
        if (changeMark) changeMarks.set(doc, changeMark)
        const list = byDoc.get(doc)
        if (list) list.push(...docUpdates)
        else byDoc.set(doc, [...docUpdates])
      }
      if (byDoc.size === 0) return
      const names: Buffer[] = []
      const counts: number[] = []
      const sizes: number[] = []
      const updateNames: Buffer[] = []
      const backs: number[] = []
      const data: Buffer[] = []
      for (const [doc, docUpdates] of byDoc) {
        const name = encodeDocumentName(doc)
        names.push(name)
        counts.push(docUpdates.length)
        let bytes = 0
        for (const update of docUpdates) bytes += update.byteLength
        sizes.push(bytes)
        for (const [i, update] of docUpdates.entries()) {
          updateNames.push(name)
          // The last update of the document gets its new last_seq, the ones before count down.
          backs.push(docUpdates.length - 1 - i)
          data.push(Buffer.from(update.buffer, update.byteOffset, update.byteLength))
        }
      }
      // One statement is one transaction: the whole batch commits or none of it.
      if (changeMarks.size === 0) {
        await pool.query(appendStatement, [names, counts, updateNames, backs, data, sizes])
        return
      }
      const marked = [...changeMarks]
      await pool.query(appendMarkingStatement, [
        names,
        counts,
        updateNames,
        backs,
        data,
        sizes,
        marked.map(([doc]) => encodeDocumentName(doc)),
        marked.map(([, mark]) => mark.token),
        marked.map(([, mark]) => mark.created)
      ])
    },

    async replace(doc: string, snapshot: Uint8Array, upToSeq: number): Promise<void> {
      await inTransaction(pool, async (client) => {
        const locked = await client.query<{ id: string; deleted_through: string }>(
          `SELECT id, deleted_through FROM ${documents} WHERE name = $1 FOR UPDATE`,
          [encodeDocumentName(doc)]
        )
        const row = locked.rows[0]
        // Unknown, or deleted after the snapshot's point: the snapshot would bring back deleted content.
        if (row === undefined || Number(row.deleted_through) >= upToSeq) return
        const first = await client.query<{ seq: string; snapshot: boolean }>(
          `SELECT seq, snapshot FROM ${updates} WHERE doc_id = $1 ORDER BY seq LIMIT 1`,
          [row.id]
        )
        const head = first.rows[0]
        if (head !== undefined && head.snapshot && Number(head.seq) >= upToSeq) return
        await client.query(`DELETE FROM ${updates} WHERE doc_id = $1 AND seq <= $2`, [row.id, upToSeq])
        await client.query(`INSERT INTO ${updates} (doc_id, seq, snapshot, data) VALUES ($1, $2, true, $3)`, [
          row.id,
          upToSeq,
          Buffer.from(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength)
        ])
        await client.query(
          `UPDATE ${documents} SET stored_bytes = (SELECT coalesce(sum(octet_length(data)), 0) FROM ${updates} WHERE doc_id = $1) WHERE id = $1`,
          [row.id]
        )
      })
    },

    async list(): Promise<string[]> {
      const { rows } = await pool.query<{ name: Buffer }>(`SELECT name FROM ${documents} WHERE live ORDER BY name`)
      return rows.map((row) => decodeDocumentName(row.name))
    },

    async delete(doc: string, deletion = {}): Promise<void> {
      // The row stays as a tombstone: its numbers are never handed out again, and a
      // compaction that read the log before the delete cannot write it back. With
      // refuseUntil, it refuses the room until then as well.
      const refuseUntil = deletion.refuseUntil === undefined ? null : new Date(deletion.refuseUntil)
      await pool.query(
        `WITH d AS (
           INSERT INTO ${documents} AS d (name, last_seq, live, refused_until) VALUES ($1, 0, false, $2)
           ON CONFLICT (name) DO UPDATE SET live = false, deleted_through = d.last_seq, stored_bytes = 0, refused_until = excluded.refused_until
           RETURNING id
         ),
         versions AS (DELETE FROM ${s}.quire_versions WHERE doc_id IN (SELECT id FROM d))
         DELETE FROM ${updates} WHERE doc_id IN (SELECT id FROM d)`,
        [encodeDocumentName(doc), refuseUntil]
      )
    },

    async tombstone(doc: string): Promise<number | null> {
      const { rows } = await pool.query<{ refused_until: Date | null }>(
        `SELECT refused_until FROM ${documents} WHERE name = $1 AND refused_until IS NOT NULL`,
        [encodeDocumentName(doc)]
      )
      const until = rows[0]?.refused_until?.getTime() ?? null
      if (until === null || until > Date.now()) return until
      // Expired: cleaned up now it is seen (the row itself stays, see delete).
      await pool.query(`UPDATE ${documents} SET refused_until = NULL WHERE name = $1 AND refused_until <= now()`, [encodeDocumentName(doc)])
      return null
    },

    async create(doc: string): Promise<boolean> {
      const { rows } = await pool.query<{ was_live: boolean | null }>(
        `WITH old AS (SELECT live FROM ${documents} WHERE name = $1)
         INSERT INTO ${documents} AS d (name, last_seq, live, updated_at) VALUES ($1, 0, true, now())
         ON CONFLICT (name) DO UPDATE SET live = true, refused_until = NULL,
           updated_at = CASE WHEN d.live THEN d.updated_at ELSE now() END
         RETURNING (SELECT live FROM old) AS was_live`,
        [encodeDocumentName(doc)]
      )
      return rows[0]?.was_live !== true
    },

    async info(doc: string): Promise<DocumentInfo | null> {
      const { rows } = await pool.query<DocumentRow>(
        `SELECT name, stored_bytes, updated_at, last_seq FROM ${documents} WHERE name = $1 AND live`,
        [encodeDocumentName(doc)]
      )
      const row = rows[0]
      return row === undefined ? null : documentInfoOf(row)
    },

    async listDocuments({ prefix = '', after, limit }): Promise<DocumentPage> {
      const encodedPrefix = encodeDocumentName(prefix)
      // By name as bytes (WTF-8): code point order, which the cursor (the last name) follows.
      const { rows } = await pool.query<DocumentRow>(
        `SELECT name, stored_bytes, updated_at, last_seq FROM ${documents}
         WHERE live AND substring(name FROM 1 FOR $1) = $2 AND ($3::bytea IS NULL OR name > $3)
         ORDER BY name LIMIT $4`,
        [encodedPrefix.byteLength, encodedPrefix, after === undefined ? null : encodeDocumentName(after), limit + 1]
      )
      return { documents: rows.slice(0, limit).map(documentInfoOf), more: rows.length > limit }
    },

    async ping(): Promise<void> {
      await pool.query('SELECT 1')
    },

    async close(): Promise<void> {
      await pool.end()
    }
  }
}

interface DocumentRow {
  readonly name: Buffer
  readonly stored_bytes: string
  readonly updated_at: Date | null
  readonly last_seq: string
}

function documentInfoOf(row: DocumentRow): DocumentInfo {
  return {
    name: decodeDocumentName(row.name),
    bytes: Number(row.stored_bytes),
    updatedAt: row.updated_at?.getTime() ?? null,
    lastSeq: Number(row.last_seq)
  }
}

async function currentSchema(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ schema: string | null; path: string }>('SELECT current_schema() AS schema, current_setting($1) AS path', ['search_path'])
  const row = rows[0]
  if (row?.schema) return row.schema
  // search_path names a schema that does not exist yet: create its first entry.
  const first = row?.path.split(',')[0]?.trim().replace(/^"(.*)"$/, '$1')
  if (!first || first === '$user') {
    throw new Error(`the search_path (${row?.path ?? 'unset'}) names no schema to use: give one (a schema option, or ?options=-c search_path=name in the URL)`)
  }
  return first
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const code = (error as { code?: string }).code
  if (code === 'ECONNREFUSED') return `${error.message} (is PostgreSQL running and the URL right?)`
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0])
  return error.message
}
