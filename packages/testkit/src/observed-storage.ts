import type { AppendEntry, Storage, StoredLog } from '@quire/server'

/**
 * A real storage (memory or LevelDB) whose `append` is observable and can be made slow:
 * each call is recorded with the time it started and the time it resolved, the number of
 * calls in flight is tracked, and the test can hold every append at the door (`hold()`,
 * `release()`) or delay each one. For tests of what the server does around a write: group
 * commit, acknowledgements, eviction. `load` is recorded too (which document, in call
 * order) and can be held the same way (`holdLoads()`, `releaseLoads()`): for tests of how
 * many times rooms are read while many clients ask for them at once. Every other method
 * goes to the wrapped storage as is.
 */
export interface ObservedAppend {
  /** 0 for the first append. */
  readonly index: number
  /** `performance.now()` when the server called `append`. */
  readonly startedAt: number
  /** `performance.now()` just before `append` resolved to the server; null while pending or if it failed. */
  resolvedAt: number | null
  /** The batch as the server passed it, copied (the server may reuse the bytes once the append resolved). */
  readonly entries: readonly AppendEntry[]
}

export interface ObservedStorage {
  /** The storage to hand to `createServer({ storage })`. */
  readonly storage: Storage
  /** Every append call so far, in call order. */
  readonly appends: readonly ObservedAppend[]
  /** Appends called and not yet settled. */
  readonly inFlight: number
  /** The most appends ever in flight at once. */
  readonly maxInFlight: number
  /** Appends (those waiting and those to come) wait until `release()` before reaching the wrapped storage. */
  hold(): void
  release(): void
  /** Each append from now on waits this long (a real timer) before reaching the wrapped storage. */
  setDelay(ms: number): void
  /** The document of every `load` call so far, in call order. */
  readonly loads: readonly string[]
  /** Loads (those waiting and those to come) wait until `releaseLoads()` before reaching the wrapped storage. */
  holdLoads(): void
  releaseLoads(): void
}

export function createObservedStorage(inner: Storage): ObservedStorage {
  const appends: ObservedAppend[] = []
  let inFlight = 0
  let maxInFlight = 0
  let delayMs = 0
  let gate: Gate | null = null
  const loads: string[] = []
  let loadGate: Gate | null = null

  const append = async (batch: readonly AppendEntry[]): Promise<void> => {
    const record: ObservedAppend = {
      index: appends.length,
      startedAt: performance.now(),
      resolvedAt: null,
      entries: batch.map((entry) => ({ doc: entry.doc, updates: entry.updates.map((update) => update.slice()) }))
    }
    appends.push(record)
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    try {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
      while (gate !== null) await gate.promise
      await inner.append(batch)
      record.resolvedAt = performance.now()
    } finally {
      inFlight--
    }
  }

  const load = async (doc: string): Promise<StoredLog> => {
    loads.push(doc)
    while (loadGate !== null) await loadGate.promise
    return await inner.load(doc)
  }

  // A proxy rather than a copy of the methods, so a storage written as a class (methods
  // using `this`) or one with more methods than today's interface is wrapped as well.
  const storage = new Proxy(inner, {
    get(target, key) {
      if (key === 'append') return append
      if (key === 'load') return load
      const value: unknown = Reflect.get(target, key)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    }
  })

  return {
    storage,
    appends,
    get inFlight() {
      return inFlight
    },
    get maxInFlight() {
      return maxInFlight
    },
    hold() {
      gate ??= createGate()
    },
    release() {
      const current = gate
      gate = null
      current?.open()
    },
    setDelay(ms) {
      delayMs = ms
    },
    loads,
    holdLoads() {
      loadGate ??= createGate()
    },
    releaseLoads() {
      const current = loadGate
      loadGate = null
      current?.open()
    }
  }
}

interface Gate {
  readonly promise: Promise<void>
  readonly open: () => void
}

function createGate(): Gate {
  let open = (): void => {}
  const promise = new Promise<void>((resolve) => (open = resolve))
  return { promise, open }
}
