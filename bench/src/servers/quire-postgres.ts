import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import type { ServerKind } from '../server-kind.js'
import { quireServerAt, type QuireStorageFlags } from './quire.js'

const POSTGRES_URL = process.env['QUIRE_BENCH_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * `quire serve --postgres`: documents in PostgreSQL (127.0.0.1:5432, database `test`,
 * or QUIRE_BENCH_POSTGRES_URL), each start in a schema of its own, dropped when it
 * stops. Measured by the durable-writes scenario (acknowledged updates/s into
 * PostgreSQL) unless --servers names it for others. PostgreSQL runs on the same two
 * cores as the server and the load generator.
 */
export const quirePostgresServer: ServerKind = {
  ...quireServerAt(fileURLToPath(new URL('../../../', import.meta.url)), { id: 'quire-postgres', label: 'Quire on PostgreSQL' }, createBenchSchema),
  defaultScenarios: ['durable'],
  note: 'Quire on PostgreSQL: the same server with --postgres (PostgreSQL 127.0.0.1, synchronous_commit on, sharing the two cores); rate limits raised as for Quire.'
}

/** A schema of its own in the bench's PostgreSQL: flags that point `quire serve` at it, and its removal. */
export async function createBenchSchema(): Promise<QuireStorageFlags> {
  const name = `quire_bench_${randomBytes(4).toString('hex')}`
  await withClient((client) => client.query(`CREATE SCHEMA ${name}`))
  const url = new URL(POSTGRES_URL)
  url.searchParams.set('options', `-c search_path=${name}`)
  return {
    args: ['--postgres', url.toString()],
    release: () => withClient((client) => client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`))
  }
}

async function withClient(use: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 })
  try {
    await client.connect()
  } catch (error) {
    throw new Error(`quire-postgres needs PostgreSQL at ${POSTGRES_URL}: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
  try {
    await use(client)
  } finally {
    await client.end()
  }
}
