import 'fake-indexeddb/auto'
import { randomUUID } from 'node:crypto'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { connect, createFullJitterBackoff, type ConnectOptions, type QuireSession } from '@quire/client'

/**
 * Node stands in for the browser: fake-indexeddb provides IndexedDB (one factory per
 * process; each simulated browser gets its own database name) and `ws` the WebSocket.
 */
export function openSession(options: Partial<ConnectOptions> & { url: string; room: string; doc?: Y.Doc }): QuireSession {
  const doc = options.doc ?? new Y.Doc()
  return connect(doc, {
    WebSocketPolyfill: WebSocket,
    // Short waits keep tests quick; jitter still comes from the default policy's shape.
    backoff: createFullJitterBackoff({ baseMs: 20, maxMs: 300 }),
    ...options
  })
}

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. Never a fixed sleep. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Reads the document as a fresh client with no local copy sees it on the server at `url`. */
export async function readFromServer(url: string, room: string): Promise<Y.Doc> {
  const doc = new Y.Doc()
  const session = openSession({ url, room, doc, offline: false })
  await session.whenSynced
  await session.destroy()
  return doc
}

/** A unique room / database name per test, so one IndexedDB factory serves every test. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID()}`
}

/**
 * Fails if `count()` changes during the next `windowMs`. A negative ("no reconnect
 * attempt follows") can only be observed over a window; callers make it many times the
 * backoff delay they injected, so a retry would fall inside it.
 */
export async function expectUnchangedFor(what: string, count: () => number, windowMs: number): Promise<void> {
  const before = count()
  const end = performance.now() + windowMs
  while (performance.now() < end) {
    if (count() !== before) throw new Error(`${what}: ${count() - before} within ${windowMs} ms, expected none`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  if (count() !== before) throw new Error(`${what}: ${count() - before} within ${windowMs} ms, expected none`)
}
