/**
 * Rendered documents by key, least recently used first out, bounded by the bytes of
 * what it holds (a rendered document may be a few bytes or many megabytes, so a count
 * would bound nothing). An entry larger than the whole bound is not kept. A Map keeps
 * insertion order: a hit is moved to the end, the oldest are evicted from the front.
 */
export interface RenderCache<V> {
  get(key: string): V | undefined
  set(key: string, value: V, bytes: number): void
  delete(key: string): void
  has(key: string): boolean
  readonly bytes: number
  readonly size: number
}

export function createRenderCache<V>(maxBytes: number): RenderCache<V> {
  const entries = new Map<string, { value: V; bytes: number }>()
  let total = 0
  return {
    get(key) {
      const entry = entries.get(key)
      if (entry === undefined) return undefined
      entries.delete(key)
      entries.set(key, entry)
      return entry.value
    },
    set(key, value, bytes) {
      const old = entries.get(key)
      if (old !== undefined) {
        entries.delete(key)
        total -= old.bytes
      }
      if (bytes > maxBytes) return
      entries.set(key, { value, bytes })
      total += bytes
      for (const [oldest, entry] of entries) {
        if (total <= maxBytes) break
        entries.delete(oldest)
        total -= entry.bytes
      }
    },
    delete(key) {
      const entry = entries.get(key)
      if (entry === undefined) return
      entries.delete(key)
      total -= entry.bytes
    },
    has(key) {
      return entries.has(key)
    },
    get bytes() {
      return total
    },
    get size() {
      return entries.size
    }
  }
}
