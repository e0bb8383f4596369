import type { Pool } from 'pg'
import { inTransaction } from './in-transaction.js'

/**
 * The tables Quire keeps in PostgreSQL, created on start and migrated by version. Each
 * migration runs once, in order, in one transaction with the version it brings recorded
 * in `quire_migrations`; clones starting together take an advisory lock first, so only
 * one of them migrates and the others find the work done. Append a migration, never edit
 * one that has shipped. (The layout is described in this package's README.)
 */
const MIGRATIONS: readonly string[] = [
  // 1: documents and their logs.
  `
  CREATE TABLE quire_documents (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The name in WTF-8 (see document-name.ts): any JS string, UTF-8 when well-formed.
    name bytea NOT NULL UNIQUE,
    -- The last sequence number handed out for this document. Kept when the document is
    -- deleted (live = false), so a document written again never reuses a number.
    last_seq bigint NOT NULL,
    live boolean NOT NULL,
    -- last_seq when the document was last deleted: a compaction snapshot up to here or
    -- earlier was read before the delete and must not be written back.
    deleted_through bigint NOT NULL DEFAULT 0
  );
  CREATE TABLE quire_updates (
    doc_id bigint NOT NULL REFERENCES quire_documents (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    -- A compaction snapshot (written by replace) covering every update up to seq.
    snapshot boolean NOT NULL DEFAULT false,
    data bytea NOT NULL,
    PRIMARY KEY (doc_id, seq)
  );
  `,
  // 2: what the document API lists (bytes, last change) and tombstones that refuse a room.
  `
  ALTER TABLE quire_documents
    -- octet_length of the document's rows, kept by append (one more column of the row it
    -- already upserts), replace and delete.
    ADD COLUMN stored_bytes bigint NOT NULL DEFAULT 0,
    ADD COLUMN updated_at timestamptz,
    -- A deleted document (live = false) is refused until then; NULL: not refused.
    ADD COLUMN refused_until timestamptz;
  UPDATE quire_documents d SET stored_bytes = coalesce((SELECT sum(octet_length(u.data)) FROM quire_updates u WHERE u.doc_id = d.id), 0);
  `,
  // 3: the webhook outbox (see postgres-outbox.ts).
  `
  CREATE TABLE quire_webhook_marks (
    -- A document (name in WTF-8) whose committed changes no event announces yet,
    -- written in the same statement as the updates (see AppendEntry.changeMark).
    name bytea PRIMARY KEY,
    token text NOT NULL,
    created boolean NOT NULL,
    -- When written or last claimed by a recovery scan.
    marked_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE quire_webhook_deliveries (
    id text PRIMARY KEY,
    url text NOT NULL,
    event text NOT NULL,
    room bytea NOT NULL,
    -- The JSON body, exactly as signed and sent.
    body text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    -- Pending: when due. Failed: when it failed.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- The clone trying it, until when (see WebhookOutbox.claim).
    lease_owner text,
    lease_until timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX quire_webhook_deliveries_due ON quire_webhook_deliveries (next_attempt_at) WHERE status = 'pending';
  CREATE INDEX quire_webhook_deliveries_failed ON quire_webhook_deliveries (next_attempt_at) WHERE status = 'failed';
  `,
  // 4: version histories (see postgres-versions.ts), apart from the log: a compaction
  // never touches them; deleting a document deletes them in the same statement.
  `
  CREATE TABLE quire_versions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc_id bigint NOT NULL REFERENCES quire_documents (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    name text,
    kind text NOT NULL CHECK (kind IN ('auto', 'named', 'restore')),
    restored_from bigint,
    authors text[] NOT NULL,
    inserted bigint NOT NULL,
    deleted bigint NOT NULL,
    -- The version data applies to; NULL: data is the whole document (a checkpoint).
    base bigint,
    data bytea NOT NULL
  );
  CREATE INDEX quire_versions_doc ON quire_versions (doc_id, id);
  `
]

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.length

/** An arbitrary constant: the first key of the advisory lock that migrations take. */
const MIGRATION_LOCK = 0x71756972 // "quir"

/** A schema name as an SQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/**
 * Creates `schema` if needed and brings its tables to SCHEMA_VERSION. Refuses a schema
 * that a newer Quire migrated past what this code knows.
 */
export async function migrateSchema(pool: Pool, schema: string): Promise<void> {
  const quoted = quoteIdentifier(schema)
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK, schema])
    // Under the lock: two clones creating one schema at once would otherwise race.
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`)
    await client.query(`SET LOCAL search_path TO ${quoted}`)
    await client.query(
      'CREATE TABLE IF NOT EXISTS quire_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())'
    )
    const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM quire_migrations')
    const current = rows[0]?.version ?? 0
    if (current > SCHEMA_VERSION) {
      throw new Error(
        `the PostgreSQL schema ${quoted} is at version ${current}, newer than this Quire knows (${SCHEMA_VERSION}): upgrade this server, or give it a schema of its own`
      )
    }
    for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
      await client.query(MIGRATIONS[version - 1] as string)
      await client.query('INSERT INTO quire_migrations (version) VALUES ($1)', [version])
    }
  })
}
