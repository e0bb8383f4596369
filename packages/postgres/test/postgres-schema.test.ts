import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createTestSchema, TEST_POSTGRES_URL, type TestSchema } from '@quire/testkit'
import { createPostgresStorage, SCHEMA_VERSION } from '@quire/postgres'

const schemas: TestSchema[] = []
afterEach(async () => {
  await Promise.all(schemas.splice(0).map((schema) => schema.drop()))
})

async function ownSchema(): Promise<TestSchema> {
  const schema = await createTestSchema('schema')
  schemas.push(schema)
  return schema
}

async function query<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end()
  }
}

function textUpdate(text: string, clientID: number): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = clientID
  doc.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

describe('PostgreSQL schema', () => {
  it('creates its tables in the search_path schema once, and records the version', async () => {
    const schema = await ownSchema()
    // Three clones starting at once: one migrates, the others find it done.
    const clones = await Promise.all([1, 2, 3].map(() => createPostgresStorage({ connectionString: schema.url })))
    await Promise.all(clones.map((clone) => clone.close()))
    const versions = await query<{ version: number }>(schema.url, `SELECT version FROM ${schema.name}.quire_migrations ORDER BY version`)
    expect(versions.map((row) => row.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1))
    const tables = await query<{ table_name: string }>(
      TEST_POSTGRES_URL,
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema.name]
    )
    expect(tables.map((row) => row.table_name)).toEqual(['quire_documents', 'quire_migrations', 'quire_updates', 'quire_versions', 'quire_webhook_deliveries', 'quire_webhook_marks'])
  })

  it('uses the schema it is given, creating it, and keeps tenants apart', async () => {
    const holder = await ownSchema()
    const named = `${holder.name}_tenant`
    const storage = await createPostgresStorage({ connectionString: TEST_POSTGRES_URL, schema: named })
    const other = await createPostgresStorage({ connectionString: holder.url })
    try {
      await storage.append([{ doc: 'd', updates: [textUpdate('tenant', 1)] }])
      expect(await storage.list()).toEqual(['d'])
      expect(await other.list()).toEqual([])
    } finally {
      await storage.close()
      await other.close()
      await query(TEST_POSTGRES_URL, `DROP SCHEMA ${named} CASCADE`)
    }
  })

  it('refuses a schema a newer version migrated, saying what to do', async () => {
    const schema = await ownSchema()
    await (await createPostgresStorage({ connectionString: schema.url })).close()
    await query(schema.url, `INSERT INTO ${schema.name}.quire_migrations (version) VALUES ($1)`, [SCHEMA_VERSION + 1])
    await expect(createPostgresStorage({ connectionString: schema.url })).rejects.toThrow(/newer than this Quire knows.*upgrade this server/)
  })

  it('says where it could not connect', async () => {
    await expect(createPostgresStorage({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectTimeoutMs: 2000 })).rejects.toThrow(
      /cannot open the PostgreSQL store: .*is PostgreSQL running/
    )
  })

  it('stores nothing of a batch when one of its documents fails', async () => {
    const schema = await ownSchema()
    const storage = await createPostgresStorage({ connectionString: schema.url })
    try {
      await storage.append([{ doc: 'a', updates: [textUpdate('kept', 1)] }])
      // A trigger that refuses one document's rows, as a full disk or a lost connection
      // might refuse the middle of a batch.
      await query(
        schema.url,
        `CREATE FUNCTION ${schema.name}.refuse() RETURNS trigger AS $$ BEGIN
           IF (SELECT name FROM ${schema.name}.quire_documents WHERE id = NEW.doc_id) = 'b'::bytea THEN RAISE EXCEPTION 'refused'; END IF;
           RETURN NEW; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER refuse BEFORE INSERT ON ${schema.name}.quire_updates FOR EACH ROW EXECUTE FUNCTION ${schema.name}.refuse();`
      )
      await expect(
        storage.append([
          { doc: 'a', updates: [textUpdate('lost with b', 2)] },
          { doc: 'b', updates: [textUpdate('refused', 3)] }
        ])
      ).rejects.toThrow(/refused/)
      expect((await storage.load('a')).updates).toEqual([textUpdate('kept', 1)])
      expect(await storage.list()).toEqual(['a'])
    } finally {
      await storage.close()
    }
  })
})
