import { randomBytes } from 'node:crypto'
import type { ChangeMark, StoredChangeMark } from './webhook-outbox.js'

/**
 * Which documents' commits carry a change mark, and when each document's changes become
 * a `document.updated` event. A document's window opens with the first commit that
 * changes it (that commit carries a new mark) and closes once its edits pause for
 * `debounceMs`, or `maxWaitMs` after it opened while they go on; the next commit opens
 * the next window with a new mark. So a mark costs one more operation in a batch that
 * is written anyway, once per document per window, never an extra write or fsync, and
 * nothing on the way to an acknowledgement.
 *
 * The commit queue asks `changeMarkFor(doc)` as it builds a batch (at most one batch is
 * in flight, so a document whose marked batch failed is asked again and marked again in
 * the retry, with the same token) and tells `committed` what was durable. A window's
 * state lives here; what it promises lives in the store.
 */
export interface UpdateCoalescer {
  changeMarkFor(doc: string): ChangeMark | undefined
  committed(entries: readonly { readonly doc: string; readonly changeMark?: ChangeMark }[]): void
  /** The room of `doc` opened from an empty log (`empty`) or not: its first commit announces `document.created`. */
  opened(doc: string, empty: boolean): void
  /** The room of `doc` left memory. */
  forget(doc: string): void
  /** `document.created` was announced for `doc` by other means (the HTTP API): the window does not announce it again. */
  createdElsewhere(doc: string): void
  /** Drops `doc`'s window (the document was deleted) and returns its mark if durable, for the deletion to settle. */
  discard(doc: string): StoredChangeMark | undefined
  /** Whether `mark` is the one of an open window here (a recovery scan leaves it to the window). */
  owns(mark: StoredChangeMark): boolean
  /** Closes every open window now (shutting down). */
  closeAll(): void
  /** Stops the timers without closing windows (their marks stay in the store). */
  stop(): void
}

export interface UpdateCoalescerOptions {
  readonly debounceMs: number
  readonly maxWaitMs: number
  /** A window closed: announce what its mark covers. */
  readonly onClose: (mark: StoredChangeMark) => void
}

interface Window {
  readonly token: string
  created: boolean
  /** Its mark is durable (a commit carrying it succeeded). */
  marked: boolean
  openedAt: number
  lastCommitAt: number
  timer: ReturnType<typeof setTimeout> | null
}

export function createUpdateCoalescer(options: UpdateCoalescerOptions): UpdateCoalescer {
  const { debounceMs, maxWaitMs } = options
  const windows = new Map<string, Window>()
  const emptyOnOpen = new Set<string>()
  // Tokens unique across processes sharing a store: this process's prefix, then a count.
  const prefix = randomBytes(6).toString('hex')
  let count = 0

  const close = (doc: string, window: Window): void => {
    if (window.timer !== null) clearTimeout(window.timer)
    windows.delete(doc)
    options.onClose({ doc, token: window.token, created: window.created })
  }

  // One timer per window, re-armed when it fires early rather than reset at every commit.
  const arm = (doc: string, window: Window): void => {
    const due = Math.min(window.lastCommitAt + debounceMs, window.openedAt + maxWaitMs)
    const wait = due - performance.now()
    if (wait <= 0) {
      close(doc, window)
      return
    }
    window.timer = setTimeout(() => {
      window.timer = null
      arm(doc, window)
    }, wait)
    window.timer.unref()
  }

  return {
    changeMarkFor(doc) {
      let window = windows.get(doc)
      if (window?.marked) return undefined
      if (window === undefined) {
        window = { token: `${prefix}.${(count++).toString(36)}`, created: emptyOnOpen.has(doc), marked: false, openedAt: 0, lastCommitAt: 0, timer: null }
        windows.set(doc, window)
      }
      return { token: window.token, created: window.created }
    },
    committed(entries) {
      const now = performance.now()
      for (const { doc, changeMark } of entries) {
        const window = windows.get(doc)
        if (window === undefined) continue
        if (!window.marked) {
          if (changeMark?.token !== window.token) continue
          window.marked = true
          window.openedAt = now
          emptyOnOpen.delete(doc)
        }
        window.lastCommitAt = now
        if (window.timer === null) arm(doc, window)
      }
    },
    opened(doc, empty) {
      if (empty) emptyOnOpen.add(doc)
      else emptyOnOpen.delete(doc)
    },
    forget(doc) {
      emptyOnOpen.delete(doc)
    },
    createdElsewhere(doc) {
      emptyOnOpen.delete(doc)
      const window = windows.get(doc)
      if (window) window.created = false
    },
    discard(doc) {
      const window = windows.get(doc)
      if (window === undefined || !window.marked) return undefined
      if (window.timer !== null) clearTimeout(window.timer)
      windows.delete(doc)
      return { doc, token: window.token, created: window.created }
    },
    owns(mark) {
      return windows.get(mark.doc)?.token === mark.token
    },
    closeAll() {
      for (const [doc, window] of [...windows]) if (window.marked) close(doc, window)
    },
    stop() {
      for (const window of windows.values()) if (window.timer !== null) clearTimeout(window.timer)
      windows.clear()
    }
  }
}
