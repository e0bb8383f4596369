import pg from 'pg'

/** Runs one statement on `url` (a test schema's URL, say) on a connection of its own, and returns the rows. */
export async function queryPostgres<Row extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    return (await client.query<Row>(sql, params)).rows
  } finally {
    await client.end()
  }
}
