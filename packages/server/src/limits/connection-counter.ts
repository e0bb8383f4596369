/**
 * Counts open connections per key (the client IP) against a maximum. Keys whose count
 * drops to zero are forgotten, so the map holds only addresses with open sockets and
 * its size is bounded by the number of open connections.
 */
export interface ConnectionCounter {
  /** Counts one more connection for `key`, or returns false when it already has the maximum. */
  tryAcquire(key: string): boolean
  release(key: string): void
  count(key: string): number
  /** Open connections over all keys. */
  readonly total: number
}

export function createConnectionCounter(maxPerKey: number): ConnectionCounter {
  const counts = new Map<string, number>()
  let total = 0
  return {
    tryAcquire(key) {
      const n = counts.get(key) ?? 0
      if (n >= maxPerKey) return false
      counts.set(key, n + 1)
      total++
      return true
    },
    release(key) {
      const n = counts.get(key)
      if (n === undefined) throw new Error(`connection counter: release of "${key}" without acquire`)
      if (n <= 1) counts.delete(key)
      else counts.set(key, n - 1)
      total--
    },
    count(key) {
      return counts.get(key) ?? 0
    },
    get total() {
      return total
    }
  }
}
