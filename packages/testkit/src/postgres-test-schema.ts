import { randomBytes } from 'node:crypto'
import pg from 'pg'

/**
 * The PostgreSQL the tests run against (as this machine kind and CI provide it: trust
 * auth on 127.0.0.1, database `test`); `QUIRE_TEST_POSTGRES_URL` points elsewhere.
 */
export const TEST_POSTGRES_URL = process.env['QUIRE_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A schema that one test owns: created empty, dropped with everything in it by `drop`. */
export interface TestSchema {
  readonly name: string
  /** TEST_POSTGRES_URL with this schema as its search_path. */
  readonly url: string
  drop(): Promise<void>
}

export async function createTestSchema(label = 'test'): Promise<TestSchema> {
  const name = `quire_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`
  await withClient(async (client) => {
    await client.query(`CREATE SCHEMA ${name}`)
  })
  const url = new URL(TEST_POSTGRES_URL)
  url.searchParams.set('options', `-c search_path=${name}`)
  return {
    name,
    url: url.toString(),
    drop: () => withClient(async (client) => {
      await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
    })
  }
}

async function withClient(use: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 5000 })
  try {
    await client.connect()
  } catch (error) {
    throw new Error(
      `the tests need PostgreSQL at ${TEST_POSTGRES_URL} (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error }
    )
  }
  try {
    await use(client)
  } finally {
    await client.end()
  }
}

/** A table lock a test holds, to stand for a store that stalls. */
export interface HeldTableLock {
  /** Commits the locking transaction: the writes waiting for the table go through. */
  release(): Promise<void>
}

/**
 * Locks `table` of `schema` against writes (EXCLUSIVE: reads still pass, INSERT and
 * UPDATE wait) until `release()`: a PostgreSQL store that does not answer a server's
 * writes, for as long as the test says.
 */
export async function holdTableLock(schema: TestSchema, table: string): Promise<HeldTableLock> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 5000 })
  await client.connect()
  await client.query('BEGIN')
  await client.query(`LOCK TABLE ${schema.name}.${table} IN EXCLUSIVE MODE`)
  let released = false
  return {
    async release() {
      if (released) return
      released = true
      await client.query('COMMIT')
      await client.end()
    }
  }
}
