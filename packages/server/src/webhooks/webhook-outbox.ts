/**
 * The webhook outbox: what is still to be delivered, kept in the same store as the
 * documents (a key range of the LevelDB database, tables of the PostgreSQL schema, a map
 * for the memory store), so that a restart or a crash resumes it. Two kinds of records:
 *
 * - **Change marks**, one per document at most: "this document has committed changes
 *   that no event announces yet". A mark is written by the storage itself, in the same
 *   atomic write as the updates it covers (`AppendEntry.changeMark`), and settled by
 *   `enqueue` in the same atomic write as the events that announce them. Its token tells
 *   marks apart: a mark written again after an event was made (new changes) carries a
 *   new token, and settling the old one leaves it.
 * - **Deliveries**: one event for one receiver URL, its body fixed when it was made (so
 *   every attempt signs the same bytes), pending until an attempt succeeds (it is then
 *   removed) or the last attempt failed (it stays, failed, until re-queued).
 *
 * Times are kept by the store's clock (PostgreSQL's `now()`, shared by every clone;
 * `Date.now()` in the process otherwise), so callers pass durations, not instants.
 * A claim leases deliveries to one owner: no other claim returns them until the lease
 * ends or the owner settles or releases them, and settling by another owner (whose
 * lease ran out and was taken over) changes nothing.
 */
export type WebhookEvent = 'document.created' | 'document.updated' | 'document.deleted'

export type DeliveryStatus = 'pending' | 'failed'

/** What a storage writes with a commit so that its changes are announced even after a crash. */
export interface ChangeMark {
  readonly token: string
  /** The document was empty when its room opened: announce `document.created` too. */
  readonly created: boolean
}

export interface StoredChangeMark extends ChangeMark {
  readonly doc: string
}

export interface NewDelivery {
  readonly id: string
  readonly url: string
  readonly event: WebhookEvent
  readonly room: string
  /** The JSON body, exactly as it is signed and sent. */
  readonly body: string
}

export interface Delivery extends NewDelivery {
  readonly status: DeliveryStatus
  /** Attempts made so far (an attempt cut short by a shutdown or a lost lease does not count). */
  readonly attempts: number
  /** When it is next due (ms since the epoch, by the store's clock); for a failed one, when it failed. */
  readonly nextAttemptAt: number
  readonly createdAt: number
  readonly lastError: string | null
}

export interface DeliveryCounts {
  readonly pending: number
  readonly failed: number
}

export interface WebhookOutbox {
  /** Several processes use this outbox at once (PostgreSQL): claims and marks need leases. */
  readonly shared: boolean
  /**
   * Adds `deliveries`, and removes each change mark of `settles` (the marks those events
   * announce) whose token is still the one stored, in one atomic, durable write.
   */
  enqueue(deliveries: readonly NewDelivery[], settles?: readonly StoredChangeMark[]): Promise<void>
  /**
   * Change marks written at least `olderThanMs` ago (by when they were written or last
   * claimed), at most `limit`: their changes were never announced (the process that
   * wrote them died, or its events failed to be written). Each returned mark counts as
   * written now, so that another process does not claim it too before it is settled.
   */
  claimMarks(olderThanMs: number, limit: number): Promise<StoredChangeMark[]>
  /** Pending deliveries that are due and not leased, oldest due first, leased to `owner` for `leaseMs`. */
  claim(limit: number, leaseMs: number, owner: string): Promise<Delivery[]>
  /** The attempt succeeded: the delivery leaves the outbox. False when `owner` no longer holds it. */
  delivered(id: string, owner: string): Promise<boolean>
  /** The attempt failed: one more attempt counted, due again in `delayMs`. */
  retry(id: string, owner: string, delayMs: number, error: string): Promise<boolean>
  /** The last attempt failed: the delivery stays, failed, until re-queued. */
  fail(id: string, owner: string, error: string): Promise<boolean>
  /** Gives a claimed delivery back untried (shutting down): due again at once for anyone. */
  release(id: string, owner: string): Promise<void>
  /** Failed deliveries (by id, or all of them) pending again, due now, with their attempts reset. Returns how many. */
  requeue(which: { readonly id: string } | 'failed'): Promise<number>
  /** Deliveries with `status`, at most `limit`: pending ones by when they are due, failed ones by when they failed. */
  list(status: DeliveryStatus, limit: number): Promise<Delivery[]>
  /** How many deliveries are pending and failed. */
  count(): Promise<DeliveryCounts>
  /** Milliseconds until the next unleased pending delivery is due (0 if one is), or null when none is pending. */
  nextDueInMs(): Promise<number | null>
}
