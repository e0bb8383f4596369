import type pg from 'pg'
import type { Delivery, DeliveryStatus, NewDelivery, StoredChangeMark, WebhookOutbox } from '@quire/server'
import { decodeDocumentName, encodeDocumentName } from './document-name.js'

/**
 * The webhook outbox in PostgreSQL (tables `quire_webhook_marks` and
 * `quire_webhook_deliveries`, migration 2), shared by every clone on the schema.
 *
 * - A claim is one `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)`: clones
 *   claiming at once skip each other's rows instead of waiting, and the lease written
 *   (owner, until when) keeps a claimed delivery from every other claim after the
 *   statement ends. Outcomes are recorded only by the lease's owner, so a clone that
 *   lost its lease (it stalled past it, another took over) changes nothing.
 * - Every time is the database's `now()`: clones' clocks may disagree, its does not.
 * - `enqueue` locks the change marks it settles in name order before deleting them, as
 *   a commit locks the marks it writes (after its documents' rows, which `enqueue`
 *   never locks): two writers of marks cannot wait for each other in a cycle.
 */
export function createPostgresOutbox(pool: pg.Pool, schema: string): WebhookOutbox {
  const marks = `${schema}.quire_webhook_marks`
  const deliveries = `${schema}.quire_webhook_deliveries`
  const columns = `id, url, event, room, body, status, attempts,
    (extract(epoch FROM next_attempt_at) * 1000)::float8 AS next_attempt_at,
    (extract(epoch FROM created_at) * 1000)::float8 AS created_at, last_error`

  const enqueueStatement = `
    WITH added AS (
      INSERT INTO ${deliveries} (id, url, event, room, body)
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[])
    ),
    settled AS (
      SELECT m.name FROM ${marks} m JOIN unnest($6::bytea[], $7::text[]) AS k(name, token) ON m.name = k.name AND m.token = k.token
      ORDER BY m.name FOR UPDATE OF m
    )
    DELETE FROM ${marks} WHERE name IN (SELECT name FROM settled)`

  const settle = async (sql: string, params: unknown[]): Promise<boolean> => ((await pool.query(sql, params)).rowCount ?? 0) > 0

  return {
    shared: true,

    async enqueue(added: readonly NewDelivery[], settles: readonly StoredChangeMark[] = []) {
      await pool.query(enqueueStatement, [
        added.map((d) => d.id),
        added.map((d) => d.url),
        added.map((d) => d.event),
        added.map((d) => encodeDocumentName(d.room)),
        added.map((d) => d.body),
        settles.map((mark) => encodeDocumentName(mark.doc)),
        settles.map((mark) => mark.token)
      ])
    },

    async claimMarks(olderThanMs, limit) {
      const { rows } = await pool.query<{ name: Buffer; token: string; created: boolean }>(
        `UPDATE ${marks} SET marked_at = now()
         WHERE name IN (
           SELECT name FROM ${marks} WHERE marked_at <= now() - $1 * interval '1 millisecond'
           ORDER BY marked_at LIMIT $2 FOR UPDATE SKIP LOCKED
         )
         RETURNING name, token, created`,
        [olderThanMs, limit]
      )
      return rows.map((row) => ({ doc: decodeDocumentName(row.name), token: row.token, created: row.created }))
    },

    async claim(limit, leaseMs, owner) {
      const { rows } = await pool.query<DeliveryRow>(
        `UPDATE ${deliveries} SET lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond'
         WHERE id IN (
           SELECT id FROM ${deliveries}
           WHERE status = 'pending' AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until <= now())
           ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED
         )
         RETURNING ${columns}`,
        [owner, leaseMs, limit]
      )
      return rows.map(toDelivery).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt)
    },

    delivered(id, owner) {
      return settle(`DELETE FROM ${deliveries} WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`, [id, owner])
    },

    retry(id, owner, delayMs, error) {
      return settle(
        `UPDATE ${deliveries} SET attempts = attempts + 1, next_attempt_at = now() + $3 * interval '1 millisecond',
           last_error = $4, lease_owner = NULL, lease_until = NULL
         WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`,
        [id, owner, delayMs, error]
      )
    },

    fail(id, owner, error) {
      return settle(
        `UPDATE ${deliveries} SET status = 'failed', attempts = attempts + 1, next_attempt_at = now(),
           last_error = $3, lease_owner = NULL, lease_until = NULL
         WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`,
        [id, owner, error]
      )
    },

    async release(id, owner) {
      await pool.query(`UPDATE ${deliveries} SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2`, [id, owner])
    },

    async requeue(which) {
      const result = await pool.query(
        `UPDATE ${deliveries} SET status = 'pending', attempts = 0, next_attempt_at = now(), lease_owner = NULL, lease_until = NULL
         WHERE status = 'failed' AND ($1::text IS NULL OR id = $1)`,
        [which === 'failed' ? null : which.id]
      )
      return result.rowCount ?? 0
    },

    async list(status: DeliveryStatus, limit) {
      const { rows } = await pool.query<DeliveryRow>(
        `SELECT ${columns} FROM ${deliveries} WHERE status = $1 ORDER BY next_attempt_at, id LIMIT $2`,
        [status, limit]
      )
      return rows.map(toDelivery)
    },

    async count() {
      const { rows } = await pool.query<{ pending: string; failed: string }>(
        `SELECT count(*) FILTER (WHERE status = 'pending') AS pending, count(*) FILTER (WHERE status = 'failed') AS failed FROM ${deliveries}`
      )
      return { pending: Number(rows[0]?.pending ?? 0), failed: Number(rows[0]?.failed ?? 0) }
    },

    async nextDueInMs() {
      const { rows } = await pool.query<{ wait: number | null }>(
        `SELECT (extract(epoch FROM min(next_attempt_at) - now()) * 1000)::float8 AS wait FROM ${deliveries}
         WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= now())`
      )
      const wait = rows[0]?.wait
      return wait === null || wait === undefined ? null : Math.max(0, Math.ceil(wait))
    }
  }
}

interface DeliveryRow {
  id: string
  url: string
  event: Delivery['event']
  room: Buffer
  body: string
  status: DeliveryStatus
  attempts: number
  next_attempt_at: number
  created_at: number
  last_error: string | null
}

function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    url: row.url,
    event: row.event,
    room: decodeDocumentName(row.room),
    body: row.body,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: Math.round(row.next_attempt_at),
    createdAt: Math.round(row.created_at),
    lastError: row.last_error
  }
}
