import type { ChangeMark, Delivery, DeliveryStatus, NewDelivery, StoredChangeMark, WebhookOutbox } from './webhook-outbox.js'

/** The memory store's outbox; `writeMark` is how `createMemoryStorage` records a commit's change mark. */
export interface MemoryOutbox extends WebhookOutbox {
  writeMark(doc: string, mark: ChangeMark): void
}

interface Lease {
  readonly owner: string
  readonly until: number
}

/**
 * A real, non-durable outbox in memory, with the contract of the durable ones (see
 * webhook-outbox.ts): for tests, and for the memory store.
 */
export function createMemoryOutbox(): MemoryOutbox {
  const marks = new Map<string, { mark: ChangeMark; at: number }>()
  const deliveries = new Map<string, Delivery>()
  const leases = new Map<string, Lease>()

  const leasedTo = (id: string, now: number): string | null => {
    const lease = leases.get(id)
    return lease !== undefined && lease.until > now ? lease.owner : null
  }
  const held = (id: string, owner: string): Delivery | null => {
    const delivery = deliveries.get(id)
    if (delivery === undefined || delivery.status !== 'pending' || leases.get(id)?.owner !== owner) return null
    return delivery
  }
  const sorted = (status: DeliveryStatus): Delivery[] =>
    [...deliveries.values()].filter((d) => d.status === status).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt)

  return {
    shared: false,
    writeMark(doc, mark) {
      const earlier = marks.get(doc)
      marks.set(doc, { mark: { token: mark.token, created: mark.created || (earlier?.mark.created ?? false) }, at: Date.now() })
    },
    async enqueue(added: readonly NewDelivery[], settles: readonly StoredChangeMark[] = []) {
      const now = Date.now()
      for (const d of added) deliveries.set(d.id, { ...d, status: 'pending', attempts: 0, nextAttemptAt: now, createdAt: now, lastError: null })
      for (const settled of settles) if (marks.get(settled.doc)?.mark.token === settled.token) marks.delete(settled.doc)
    },
    async claimMarks(olderThanMs, limit) {
      const now = Date.now()
      const claimed: StoredChangeMark[] = []
      for (const [doc, entry] of marks) {
        if (claimed.length >= limit) break
        if (now - entry.at < olderThanMs) continue
        entry.at = now
        claimed.push({ doc, ...entry.mark })
      }
      return claimed
    },
    async claim(limit, leaseMs, owner) {
      const now = Date.now()
      const due = sorted('pending').filter((d) => d.nextAttemptAt <= now && leasedTo(d.id, now) === null).slice(0, limit)
      for (const d of due) leases.set(d.id, { owner, until: now + leaseMs })
      return due
    },
    async delivered(id, owner) {
      if (held(id, owner) === null) return false
      deliveries.delete(id)
      leases.delete(id)
      return true
    },
    async retry(id, owner, delayMs, error) {
      const d = held(id, owner)
      if (d === null) return false
      deliveries.set(id, { ...d, attempts: d.attempts + 1, nextAttemptAt: Date.now() + delayMs, lastError: error })
      leases.delete(id)
      return true
    },
    async fail(id, owner, error) {
      const d = held(id, owner)
      if (d === null) return false
      deliveries.set(id, { ...d, status: 'failed', attempts: d.attempts + 1, nextAttemptAt: Date.now(), lastError: error })
      leases.delete(id)
      return true
    },
    async release(id, owner) {
      if (leases.get(id)?.owner === owner) leases.delete(id)
    },
    async requeue(which) {
      const now = Date.now()
      const ids = which === 'failed' ? sorted('failed').map((d) => d.id) : [which.id]
      let count = 0
      for (const id of ids) {
        const d = deliveries.get(id)
        if (d?.status !== 'failed') continue
        deliveries.set(id, { ...d, status: 'pending', attempts: 0, nextAttemptAt: now })
        count++
      }
      return count
    },
    async list(status, limit) {
      return sorted(status).slice(0, limit)
    },
    async count() {
      let pending = 0
      let failed = 0
      for (const d of deliveries.values()) {
        if (d.status === 'pending') pending++
        else failed++
      }
      return { pending, failed }
    },
    async nextDueInMs() {
      const now = Date.now()
      let next: number | null = null
      for (const d of deliveries.values()) {
        if (d.status !== 'pending' || leasedTo(d.id, now) !== null) continue
        next = next === null ? d.nextAttemptAt : Math.min(next, d.nextAttemptAt)
      }
      return next === null ? null : Math.max(0, next - now)
    }
  }
}
