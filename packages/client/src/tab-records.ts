import * as idb from 'lib0/indexeddb'
import { SAVED_STATE_RECORD_KEY } from './saved-state-record.js'

/**
 * Several tabs of one browser profile open the same document on the same IndexedDB
 * database. Each tab keeps its own saved-state record (`quire:saved-state:<tab id>` in
 * y-indexeddb's `custom` store), so a tab never overwrites what another tab knows
 * about its unsaved work; a tab that loads merges every record it finds, since the
 * document it loads holds every tab's edits, and they are unsaved until a server says
 * otherwise.
 *
 * Records of tabs that are gone (closed, crashed, reloaded) would pile up. Each tab holds
 * a Web Lock named after its record for as long as it lives; a loading tab deletes the
 * records whose lock nobody holds, once its own record (with their content merged in)
 * is written. Every browser with IndexedDB that matters has Web Locks; where they do not
 * exist (Node 20, which has no tabs), a session treats every other record as abandoned,
 * which is the single-record behaviour of earlier versions.
 *
 * Why not a BroadcastChannel between tabs: y-websocket's channel makes tabs exchange
 * updates directly, so a tab's edits would reach the server through another tab's
 * connection and be acknowledged to that tab, not the one that made them; each tab would
 * need the other's acknowledgements too. Records keyed per tab keep one rule: a tab
 * tracks what it holds, and the server acknowledges what it sends.
 */

/** The record key of one tab. */
export function tabRecordKey(tabId: string): string {
  return `${SAVED_STATE_RECORD_KEY}:${tabId}`
}

/** Keys of saved-state records: every tab's, and the single record of versions before per-tab records. */
function isRecordKey(key: unknown): key is string {
  return typeof key === 'string' && (key === SAVED_STATE_RECORD_KEY || key.startsWith(`${SAVED_STATE_RECORD_KEY}:`))
}

export interface StoredRecord {
  readonly key: string
  readonly value: unknown
}

/** Every saved-state record in the database's `custom` store. */
export async function readTabRecords(db: IDBDatabase): Promise<StoredRecord[]> {
  const [custom] = idb.transact(db, ['custom'], 'readonly')
  const pairs = await idb.getAllKeysValues(custom as IDBObjectStore)
  const records: StoredRecord[] = []
  for (const { k, v } of pairs as Array<{ k: unknown; v: unknown }>) if (isRecordKey(k)) records.push({ key: k, value: v })
  return records
}

export async function deleteTabRecords(db: IDBDatabase, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return
  const [custom] = idb.transact(db, ['custom'], 'readwrite')
  await Promise.all(keys.map((key) => idb.del(custom as IDBObjectStore, key)))
}

interface LockManagerLike {
  request(name: string, options: { mode: 'exclusive' }, callback: () => Promise<void>): Promise<void>
  query(): Promise<{ held?: Array<{ name?: string }> }>
}

function lockManager(): LockManagerLike | null {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks
  return locks !== undefined && typeof locks.request === 'function' && typeof locks.query === 'function' ? locks : null
}

function lockName(databaseName: string, key: string): string {
  return `${databaseName}\n${key}`
}

/**
 * Holds this tab's lock until the returned function is called; resolves once it is held,
 * so no other tab can see the record as abandoned after that. Without Web Locks, at once.
 */
export async function holdTabLock(databaseName: string, key: string): Promise<() => void> {
  const locks = lockManager()
  if (locks === null) return () => {}
  let release: () => void = () => {}
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  await new Promise<void>((held) => {
    void locks.request(lockName(databaseName, key), { mode: 'exclusive' }, () => {
      held()
      return released
    })
  })
  return release
}

/**
 * The keys among `keys` (other tabs' records) that no living tab holds: the single record
 * of an older version, and every tab record whose lock is free; all of them where Web
 * Locks do not exist.
 */
export async function abandonedRecordKeys(databaseName: string, keys: readonly string[]): Promise<string[]> {
  const locks = lockManager()
  if (locks === null) return [...keys]
  const { held = [] } = await locks.query()
  const living = new Set(held.map((lock) => lock.name))
  return keys.filter((key) => key === SAVED_STATE_RECORD_KEY || !living.has(lockName(databaseName, key)))
}
