import type { Level } from 'level'
import { decodeDocKey, encodeDocKey } from '../storage/document-key.js'
import type { ChangeMark, Delivery, DeliveryStatus, NewDelivery, StoredChangeMark, WebhookOutbox } from './webhook-outbox.js'

/**
 * The outbox in the documents' LevelDB database, under keys of its own ('w', which no
 * document key starts with):
 *
 *   change mark:       'w' • 'm' • document name as UTF-16BE   (value: JSON { token, created, at })
 *   pending delivery:  'w' • 'p' • due as 8 bytes BE (ms) • id  (value: the delivery as JSON)
 *   failed delivery:   'w' • 'f' • id                            (value: the delivery as JSON)
 *
 * Pending deliveries sort by when they are due, so a claim reads the due ones from the
 * front of the range. LevelDB is one process's (its lock says so): leases are kept in
 * memory and end with the process, which is what a lease must do. Writes run in the
 * storage's write order (`serialized`), so a settle's read of a change mark cannot
 * interleave with a commit that writes the document's next one.
 */
type Db = Level<Uint8Array, Uint8Array>
type BatchOperation = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }

const TAG = 0x77
const MARK = 0x6d
const PENDING = 0x70
const FAILED = 0x66

const MARK_RANGE = { gte: Uint8Array.of(TAG, MARK), lt: Uint8Array.of(TAG, MARK + 1) }
const PENDING_RANGE = { gte: Uint8Array.of(TAG, PENDING), lt: Uint8Array.of(TAG, PENDING + 1) }
const FAILED_RANGE = { gte: Uint8Array.of(TAG, FAILED), lt: Uint8Array.of(TAG, FAILED + 1) }

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

function markKey(doc: string): Uint8Array {
  const name = encodeDocKey(doc) // 'd' • name: the name's bytes follow the tag
  const key = new Uint8Array(name.byteLength + 1)
  key.set(name, 1)
  key[0] = TAG
  key[1] = MARK
  return key
}

function docOfMarkKey(key: Uint8Array): string {
  return decodeDocKey(key.subarray(1))
}

function pendingKey(due: number, id: string): Uint8Array {
  const idBytes = utf8.encode(id)
  const key = new Uint8Array(10 + idBytes.byteLength)
  key[0] = TAG
  key[1] = PENDING
  new DataView(key.buffer).setBigUint64(2, BigInt(Math.max(0, Math.floor(due))))
  key.set(idBytes, 10)
  return key
}

function failedKey(id: string): Uint8Array {
  const idBytes = utf8.encode(id)
  const key = new Uint8Array(2 + idBytes.byteLength)
  key[0] = TAG
  key[1] = FAILED
  key.set(idBytes, 2)
  return key
}

function encodeJson(value: unknown): Uint8Array {
  return utf8.encode(JSON.stringify(value))
}

function decodeDelivery(bytes: Uint8Array): Delivery {
  return JSON.parse(fromUtf8.decode(bytes)) as Delivery
}

interface StoredMark extends ChangeMark {
  readonly at: number
}

/** The batch operation that writes `doc`'s change mark: the storage adds it to a commit's batch. */
export function changeMarkOperation(doc: string, mark: ChangeMark, created: boolean): BatchOperation {
  const value: StoredMark = { token: mark.token, created: mark.created || created, at: Date.now() }
  return { type: 'put', key: markKey(doc), value: encodeJson(value) }
}

/** Whether the mark stored for `doc` (if any) already says the document was created: a new mark keeps that. */
export async function readMarkCreated(db: Db, doc: string): Promise<boolean> {
  const stored = await db.get(markKey(doc))
  return stored !== undefined && (JSON.parse(fromUtf8.decode(stored)) as StoredMark).created
}

export interface LevelOutboxOptions {
  readonly db: Db
  /** Runs a write after every write started before it (the storage's write order). */
  readonly serialized: <T>(write: () => Promise<T>) => Promise<T>
  /** fsync the outbox's writes, as the storage does its commits. */
  readonly sync: boolean
}

interface Lease {
  readonly owner: string
  readonly until: number
  readonly key: Uint8Array
  readonly delivery: Delivery
}

export function createLevelOutbox(options: LevelOutboxOptions): WebhookOutbox {
  const { db, serialized } = options
  const writeOptions = { sync: options.sync }
  const leases = new Map<string, Lease>()

  const leased = (id: string, now: number): boolean => {
    const lease = leases.get(id)
    return lease !== undefined && lease.until > now
  }
  /** The lease `owner` holds on `id`, if it does. */
  const leaseOf = (id: string, owner: string): Lease | null => {
    const lease = leases.get(id)
    return lease === undefined || lease.owner !== owner ? null : lease
  }
  /**
   * Writes an attempt's outcome, then ends the lease. In the write order, as claims are:
   * a claim never reads a delivery whose lease is gone before its new record is written.
   */
  const settle = (id: string, owner: string, ops: (lease: Lease) => BatchOperation[]): Promise<boolean> =>
    serialized(async () => {
      const lease = leaseOf(id, owner)
      if (lease === null) return false
      await db.batch(ops(lease), writeOptions)
      leases.delete(id)
      return true
    })
  /** Pending deliveries in due order, with their keys, while `keep` says go on. */
  const scanPending = async (until: number | null, keep: (key: Uint8Array, delivery: Delivery) => boolean): Promise<void> => {
    const range = until === null ? PENDING_RANGE : { gte: PENDING_RANGE.gte, lt: pendingKey(until + 1, '') }
    for await (const [key, value] of db.iterator(range)) {
      if (!keep(new Uint8Array(key), decodeDelivery(value))) return
    }
  }

  return {
    shared: false,

    enqueue(added: readonly NewDelivery[], settles: readonly StoredChangeMark[] = []) {
      return serialized(async () => {
        const now = Date.now()
        const ops: BatchOperation[] = added.map((d) => {
          const delivery: Delivery = { ...d, status: 'pending', attempts: 0, nextAttemptAt: now, createdAt: now, lastError: null }
          return { type: 'put', key: pendingKey(now, d.id), value: encodeJson(delivery) }
        })
        for (const settled of settles) {
          const key = markKey(settled.doc)
          const stored = await db.get(key)
          if (stored !== undefined && (JSON.parse(fromUtf8.decode(stored)) as StoredMark).token === settled.token) ops.push({ type: 'del', key })
        }
        if (ops.length > 0) await db.batch(ops, writeOptions)
      })
    },

    claimMarks(olderThanMs, limit) {
      return serialized(async () => {
        const now = Date.now()
        const claimed: StoredChangeMark[] = []
        const ops: BatchOperation[] = []
        for await (const [key, value] of db.iterator(MARK_RANGE)) {
          if (claimed.length >= limit) break
          const mark = JSON.parse(fromUtf8.decode(value)) as StoredMark
          if (now - mark.at < olderThanMs) continue
          claimed.push({ doc: docOfMarkKey(key), token: mark.token, created: mark.created })
          ops.push({ type: 'put', key: new Uint8Array(key), value: encodeJson({ ...mark, at: now }) })
        }
        // No fsync: a claim lost in a crash leaves the mark as old as it was, claimable again.
        if (ops.length > 0) await db.batch(ops, { sync: false })
        return claimed
      })
    },

    claim(limit, leaseMs, owner) {
      return serialized(async () => {
        const now = Date.now()
        const claimed: Delivery[] = []
        await scanPending(now, (key, delivery) => {
          if (!leased(delivery.id, now)) {
            leases.set(delivery.id, { owner, until: now + leaseMs, key, delivery })
            claimed.push(delivery)
          }
          return claimed.length < limit
        })
        return claimed
      })
    },

    delivered(id, owner) {
      return settle(id, owner, (lease) => [{ type: 'del', key: lease.key }])
    },

    retry(id, owner, delayMs, error) {
      return settle(id, owner, (lease) => {
        const due = Date.now() + delayMs
        const next: Delivery = { ...lease.delivery, attempts: lease.delivery.attempts + 1, nextAttemptAt: due, lastError: error }
        return [{ type: 'del', key: lease.key }, { type: 'put', key: pendingKey(due, id), value: encodeJson(next) }]
      })
    },

    fail(id, owner, error) {
      return settle(id, owner, (lease) => {
        const failed: Delivery = { ...lease.delivery, status: 'failed', attempts: lease.delivery.attempts + 1, nextAttemptAt: Date.now(), lastError: error }
        return [{ type: 'del', key: lease.key }, { type: 'put', key: failedKey(id), value: encodeJson(failed) }]
      })
    },

    async release(id, owner) {
      if (leaseOf(id, owner) !== null) leases.delete(id)
    },

    requeue(which) {
      return serialized(async () => {
        const now = Date.now()
        const failed: Delivery[] = []
        if (which === 'failed') {
          for await (const value of db.values(FAILED_RANGE)) failed.push(decodeDelivery(value))
        } else {
          const value = await db.get(failedKey(which.id))
          if (value !== undefined) failed.push(decodeDelivery(value))
        }
        if (failed.length === 0) return 0
        const ops: BatchOperation[] = []
        for (const d of failed) {
          const pending: Delivery = { ...d, status: 'pending', attempts: 0, nextAttemptAt: now }
          ops.push({ type: 'del', key: failedKey(d.id) }, { type: 'put', key: pendingKey(now, d.id), value: encodeJson(pending) })
        }
        await db.batch(ops, writeOptions)
        return failed.length
      })
    },

    async list(status: DeliveryStatus, limit) {
      const found: Delivery[] = []
      if (status === 'pending') {
        await scanPending(null, (_key, delivery) => {
          found.push(delivery)
          return found.length < limit
        })
        return found
      }
      for await (const value of db.values(FAILED_RANGE)) found.push(decodeDelivery(value))
      return found.sort((a, b) => a.nextAttemptAt - b.nextAttemptAt).slice(0, limit)
    },

    async count() {
      let pending = 0
      let failed = 0
      for await (const _key of db.keys(PENDING_RANGE)) pending++
      for await (const _key of db.keys(FAILED_RANGE)) failed++
      return { pending, failed }
    },

    async nextDueInMs() {
      const now = Date.now()
      let due: number | null = null
      await scanPending(null, (_key, delivery) => {
        if (leased(delivery.id, now)) return true
        due = delivery.nextAttemptAt
        return false
      })
      return due === null ? null : Math.max(0, due - now)
    }
  }
}
