import type { Pool, PoolClient } from 'pg'

/**
 * Runs `work` on one connection of `pool` inside BEGIN … COMMIT; a throw rolls it back and
 * is rethrown. `work` may return early: what it did so far commits.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}
